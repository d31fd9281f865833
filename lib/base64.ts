/**
 * Unpadded Base64, as Matrix writes hashes, signatures and keys.
 * https://spec.matrix.org/v1.19/appendices/#unpadded-base64
 * Standard alphabet for hashes/signatures/keys; URL-safe for event IDs (v4+) and room IDs (v12).
 * Decoders accept padded input too, and non-zero trailing bits (the spec's own seed has them).
 */

export class Base64Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = "Base64Error";
  }
}

const STANDARD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

function decodeTable(alphabet: string): Int16Array {
  const t = new Int16Array(128).fill(-1);
  for (let i = 0; i < alphabet.length; i++) t[alphabet.charCodeAt(i)] = i;
  return t;
}
const STANDARD_DECODE = decodeTable(STANDARD);
const URL_SAFE_DECODE = decodeTable(URL_SAFE);

function encode(bytes: Uint8Array, alphabet: string): string {
  let out = "";
  const n = bytes.length;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += alphabet[v >> 18]! + alphabet[(v >> 12) & 63]! + alphabet[(v >> 6) & 63]! + alphabet[v & 63]!;
  }
  if (n - i === 1) {
    const v = bytes[i]! << 16;
    out += alphabet[v >> 18]! + alphabet[(v >> 12) & 63]!;
  } else if (n - i === 2) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += alphabet[v >> 18]! + alphabet[(v >> 12) & 63]! + alphabet[(v >> 6) & 63]!;
  }
  return out;
}

function decode(s: string, table: Int16Array, name: string): Uint8Array {
  let len = s.length;
  if (len % 4 === 0 && len > 0) {
    // padded form: at most two '=' at the end
    if (s.charCodeAt(len - 1) === 0x3d) len--;
    if (s.charCodeAt(len - 1) === 0x3d) len--;
  }
  if (len % 4 === 1) throw new Base64Error(`invalid ${name} length ${s.length}`);
  const out = new Uint8Array(Math.floor((len * 3) / 4));
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i);
    const v = c < 128 ? table[c]! : -1;
    if (v < 0) throw new Base64Error(`invalid ${name} character ${JSON.stringify(s[i])} at ${i}`);
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

/** Unpadded standard Base64. */
export function encodeBase64(bytes: Uint8Array): string {
  return encode(bytes, STANDARD);
}

/** Standard Base64, padded or not. Throws Base64Error on any other character. */
export function decodeBase64(s: string): Uint8Array {
  return decode(s, STANDARD_DECODE, "base64");
}

/** Unpadded URL-safe Base64 (RFC 4648 §5). */
export function encodeBase64Url(bytes: Uint8Array): string {
  return encode(bytes, URL_SAFE);
}

/** URL-safe Base64, padded or not. Throws Base64Error on any other character. */
export function decodeBase64Url(s: string): Uint8Array {
  return decode(s, URL_SAFE_DECODE, "URL-safe base64");
}
