/**
 * Opaque bearer tokens that carry their routing key.
 *
 * Format (like Synapse's `syt_` tokens): `<prefix>_<base64url(localpart)>_<random>_<crc>`
 * where `random` is 20 base62 characters (~119 bits) and `crc` is the CRC-32 of everything
 * before the last underscore, in 6 base62 characters. The edge reads the localpart straight
 * from the token to find the one User actor that can vouch for it — no global token table —
 * and the CRC rejects typos and truncations without waking any actor.
 *
 * Servers store only SHA-256 of a token (`hashToken`), so a leaked database yields no
 * usable tokens. https://spec.matrix.org/v1.19/client-server-api/#using-access-tokens
 */
import { decodeBase64Url, encodeBase64Url } from "./base64.ts";

/** What a token is for; each kind has its own prefix so they can never be confused. */
export type TokenKind = "access" | "refresh" | "login";

const PREFIX: Record<TokenKind, string> = { access: "syt", refresh: "syr", login: "syl" };
const KIND_BY_PREFIX: Record<string, TokenKind> = { syt: "access", syr: "refresh", syl: "login" };

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const RANDOM_LEN = 20;
const CRC_LEN = 6; // 62^6 > 2^32
/** A token longer than this is not one of ours; bounds work done on hostile input. */
const MAX_TOKEN_LEN = 1024;

/** `n` characters drawn uniformly from [0-9A-Za-z] with a CSPRNG (rejection sampling, no bias). */
export function randomBase62(n: number): string {
  let out = "";
  while (out.length < n) {
    const bytes = crypto.getRandomValues(new Uint8Array(n * 2));
    for (const b of bytes) {
      if (b < 248 && out.length < n) out += BASE62[b % 62]; // 248 = 4 × 62
    }
  }
  return out;
}

function base62(n: number, width: number): string {
  let s = "";
  let v = n >>> 0;
  while (v > 0) {
    s = BASE62[v % 62] + s;
    v = Math.floor(v / 62);
  }
  return s.padStart(width, "0");
}

let crcTable: Uint32Array | undefined;
/** CRC-32 (IEEE 802.3, the zlib one) of the UTF-8 bytes of `s`. */
export function crc32(s: string): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[i] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const b of new TextEncoder().encode(s)) crc = crcTable[(crc ^ b) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function b64urlDecode(s: string): string | null {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(decodeBase64Url(s));
  } catch {
    return null; // Base64Error or invalid UTF-8
  }
}

/** Mint a fresh token of `kind` for the user with this localpart. */
export function mintToken(kind: TokenKind, localpart: string): string {
  const body = `${PREFIX[kind]}_${encodeBase64Url(new TextEncoder().encode(localpart))}_${randomBase62(RANDOM_LEN)}`;
  return `${body}_${base62(crc32(body), CRC_LEN)}`;
}

export interface ParsedToken {
  kind: TokenKind;
  /** The routing key: the localpart of the user the token claims to belong to. */
  localpart: string;
}

/**
 * Read kind and localpart from a token, or null if it is not well formed. Says nothing
 * about validity: only the user's actor can tell whether the token was issued and not revoked.
 */
export function parseToken(token: string): ParsedToken | null {
  if (token.length > MAX_TOKEN_LEN) return null;
  // base64url may contain "_", random and crc never do: split from both ends.
  const first = token.indexOf("_");
  const last = token.lastIndexOf("_");
  const secondLast = token.lastIndexOf("_", last - 1);
  if (first < 0 || secondLast <= first) return null;
  const kind = KIND_BY_PREFIX[token.slice(0, first)];
  const encoded = token.slice(first + 1, secondLast);
  const random = token.slice(secondLast + 1, last);
  const crc = token.slice(last + 1);
  if (!kind || random.length !== RANDOM_LEN || crc.length !== CRC_LEN) return null;
  if (!/^[0-9A-Za-z]+$/.test(random)) return null;
  if (base62(crc32(token.slice(0, last)), CRC_LEN) !== crc) return null;
  const localpart = b64urlDecode(encoded);
  if (localpart === null || localpart === "") return null;
  return { kind, localpart };
}

const encoder = new TextEncoder();
const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

/** Lower-case hex SHA-256 of the token: the only form in which tokens are stored. */
export async function hashToken(token: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(token)));
  // On every authenticated request: a table lookup per byte, not a closure and padStart.
  let hex = "";
  for (let i = 0; i < digest.length; i++) hex += HEX[digest[i]!];
  return hex;
}

/**
 * Equality whose running time depends only on the lengths, not on where the strings
 * differ — for comparing secrets (token hashes, HMACs) without a timing oracle.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  const n = Math.max(x.length, y.length);
  for (let i = 0; i < n; i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}
