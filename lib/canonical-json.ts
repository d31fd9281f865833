/**
 * Canonical JSON: the only serialiser for bytes that are hashed or signed.
 * https://spec.matrix.org/v1.19/appendices/#canonical-json
 *
 * - object keys sorted by Unicode code point, no insignificant whitespace;
 * - numbers must be integers in [-(2^53 - 1), 2^53 - 1]; -0 is written 0;
 * - strings are UTF-8 and escape only `"`, `\` and U+0000–U+001F
 *   (\b \f \n \r \t short forms, others as \u00XX with lowercase hex).
 */
import type { JsonValue } from "./json.ts";

export class CanonicalJsonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CanonicalJsonError";
  }
}

/** Matches lone surrogates only: with the `u` flag, a valid pair is one code point. */
const LONE_SURROGATE = /\p{Cs}/u;
/** Code units at or above U+D800: below this, UTF-16 order equals code point order. */
const NEEDS_CODE_POINT_SORT = /[\uD800-\uFFFF]/;

/**
 * Writes a string. JSON.stringify (ES2019 "well-formed JSON.stringify") escapes exactly
 * `"`, `\` and U+0000–U+001F with the short forms and lowercase \u00XX, and leaves
 * U+007F, U+2028 and U+2029 alone, which is the canonical form; the only difference is
 * lone surrogates, which it escapes and which we reject first (tests check all of this).
 */
function writeString(s: string): string {
  if (LONE_SURROGATE.test(s)) throw new CanonicalJsonError("string contains a lone UTF-16 surrogate");
  return JSON.stringify(s);
}

/** Maps a UTF-16 code unit so that comparing mapped units orders by code point. */
function codePointRank(unit: number): number {
  // Surrogates (U+D800–U+DFFF) begin code points above U+FFFF, so they rank above U+E000–U+FFFF.
  if (unit >= 0xe000) return unit - 0x800;
  if (unit >= 0xd800) return unit + 0x2000;
  return unit;
}

/** Code point order of two well-formed strings. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** Object keys in code point order; the default sort (code units) is right unless a key has a unit ≥ U+D800. */
function sortedKeys(keys: string[]): string[] {
  keys.sort();
  for (const k of keys) {
    if (NEEDS_CODE_POINT_SORT.test(k)) return keys.sort(compareCodePoints);
  }
  return keys;
}

function writeNumber(n: number): string {
  if (!Number.isSafeInteger(n)) {
    if (Number.isInteger(n)) throw new CanonicalJsonError(`integer ${n} is outside ±(2^53−1)`);
    throw new CanonicalJsonError(`number ${n} is not an integer`);
  }
  // String(-0) is "0"; safe integers never use exponent notation.
  return String(n);
}

function write(value: JsonValue, depth: number): string {
  switch (typeof value) {
    case "string":
      return writeString(value);
    case "number":
      return writeNumber(value);
    case "boolean":
      return value ? "true" : "false";
    case "object": {
      if (value === null) return "null";
      if (depth > 512) throw new CanonicalJsonError("nesting too deep");
      if (Array.isArray(value)) {
        let out = "[";
        for (let i = 0; i < value.length; i++) {
          const item = value[i];
          if (item === undefined) throw new CanonicalJsonError(`array item ${i} is undefined`);
          if (i > 0) out += ",";
          out += write(item, depth + 1);
        }
        return out + "]";
      }
      let out = "{";
      let first = true;
      for (const key of sortedKeys(Object.keys(value))) {
        const item = value[key];
        // Optional fields set to undefined are absent, as in JSON.stringify.
        if (item === undefined) continue;
        if (!first) out += ",";
        first = false;
        out += writeString(key) + ":" + write(item, depth + 1);
      }
      return out + "}";
    }
    default:
      throw new CanonicalJsonError(`${typeof value} is not a JSON value`);
  }
}

/** The canonical JSON text of a value. Throws CanonicalJsonError on non-canonical numbers or lone surrogates. */
export function canonicalJson(value: JsonValue): string {
  return write(value, 0);
}

const encoder = new TextEncoder();

/** The UTF-8 bytes of the canonical JSON text: what is hashed and signed. */
export function canonicalJsonBytes(value: JsonValue): Uint8Array {
  return encoder.encode(canonicalJson(value));
}
