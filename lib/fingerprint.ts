/**
 * A short fingerprint of a text (FNV-1a, 32 bit, with the length; base 36): to tell two
 * texts apart in a cache key or a stored record, not for security.
 */
export function fingerprint(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `${text.length.toString(36)}.${h.toString(36)}`;
}
