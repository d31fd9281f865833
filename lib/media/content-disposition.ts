/**
 * How media is served: which content types may be shown inline, the
 * Content-Disposition header (RFC 6266, with RFC 5987 encoding for non-ASCII
 * file names), the security headers, and the content type an upload keeps.
 * https://spec.matrix.org/v1.19/client-server-api/#serving-inline-content
 */

/** The spec's list of types that are unlikely to cause XSS when served inline. */
export const INLINE_CONTENT_TYPES: ReadonlySet<string> = new Set([
  "text/css",
  "text/plain",
  "text/csv",
  "application/json",
  "application/ld+json",
  "image/jpeg",
  "image/gif",
  "image/png",
  "image/apng",
  "image/webp",
  "image/avif",
  "video/mp4",
  "video/webm",
  "video/ogg",
  "video/quicktime",
  "audio/mp4",
  "audio/webm",
  "audio/aac",
  "audio/mpeg",
  "audio/ogg",
  "audio/wave",
  "audio/wav",
  "audio/x-wav",
  "audio/x-pn-wav",
  "audio/flac",
  "audio/x-flac",
]);

/** The spec's recommended policy for served content, plus the headers that go with it. */
export const MEDIA_SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "Content-Security-Policy":
    "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; object-src 'self';",
  "X-Content-Type-Options": "nosniff",
  "Cross-Origin-Resource-Policy": "cross-origin",
});

export const DEFAULT_CONTENT_TYPE = "application/octet-stream";
export const MAX_CONTENT_TYPE_LENGTH = 255;

// RFC 9110 media type: token "/" token *( OWS ";" OWS parameter ), parameter values token or quoted-string.
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const QUOTED = '"(?:[\\t !#-\\[\\]-~]|\\\\[\\t !-~])*"';
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}(?:[ \\t]*;[ \\t]*${TOKEN}=(?:${TOKEN}|${QUOTED}))*$`);

/**
 * The content type an upload is stored and served with: the client's, when it is
 * a well-formed media type; otherwise (absent, malformed, oversized)
 * application/octet-stream, as the spec allows for unknown or obviously wrong types.
 */
export function uploadContentType(header: string | null): string {
  const t = header?.trim();
  if (!t || t.length > MAX_CONTENT_TYPE_LENGTH || !MEDIA_TYPE.test(t)) return DEFAULT_CONTENT_TYPE;
  return t;
}

/** `type/subtype`, lower-cased, without parameters. */
export function mediaTypeEssence(contentType: string): string {
  return contentType.split(";", 1)[0]!.trim().toLowerCase();
}

export function isInlineSafe(contentType: string): boolean {
  return INLINE_CONTENT_TYPES.has(mediaTypeEssence(contentType));
}

/**
 * `inline` for the spec's safe types, `attachment` for everything else; with the
 * file name when there is one. `forceInline` is for thumbnails, which the spec
 * serves inline (they are always one of our own image types).
 */
export function contentDisposition(contentType: string, filename?: string | null, forceInline = false): string {
  const type = forceInline || isInlineSafe(contentType) ? "inline" : "attachment";
  return filename ? `${type}; ${filenameParameter(filename)}` : type;
}

/**
 * `filename="…"` when the name is printable ASCII without `"` or `\`; otherwise
 * `filename*=utf-8''…` with RFC 5987 percent-encoding, which carries any name
 * unchanged (RFC 6266 §4.3).
 */
export function filenameParameter(filename: string): string {
  if (/^[\x20-\x7e]*$/.test(filename) && !/["\\]/.test(filename)) return `filename="${filename}"`;
  let out = "";
  for (const byte of new TextEncoder().encode(filename)) {
    const ch = String.fromCharCode(byte);
    out += /[A-Za-z0-9!#$&+\-.^_`|~]/.test(ch) ? ch : "%" + byte.toString(16).toUpperCase().padStart(2, "0");
  }
  return `filename*=utf-8''${out}`;
}
