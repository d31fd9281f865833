/**
 * A strict JSON parser for untrusted input (client bodies, federation PDUs).
 * RFC 8259 syntax, plus what JSON.parse does not check and Matrix needs
 * (https://spec.matrix.org/v1.19/appendices/#canonical-json):
 * duplicate keys, lone surrogates, integers outside ±(2^53−1), nesting depth and size.
 * `__proto__` keys become own data properties; no prototype is ever changed.
 */
import type { JsonObject, JsonValue } from "./json.ts";

export class JsonParseError extends Error {
  constructor(
    readonly reason: string,
    /** Offset in UTF-16 code units into the text where the problem was found. */
    readonly position: number,
  ) {
    super(`${reason} at position ${position}`);
    this.name = "JsonParseError";
  }
}

export interface JsonParseLimits {
  /** Maximum UTF-8 length of the text. Default 1 MiB. */
  maxBytes?: number;
  /** Maximum nesting of arrays and objects. Default 100. */
  maxDepth?: number;
  /** Reject every number that is not an integer in ±(2^53−1) (canonical JSON, room v6+). */
  integersOnly?: boolean;
}

const DEFAULT_MAX_BYTES = 1024 * 1024;
const DEFAULT_MAX_DEPTH = 100;

/** UTF-8 length of a string, without allocating. */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 2; // a pair: 2 units, 4 bytes
        i++;
        continue;
      }
      n += 2;
    } else n += 2;
  }
  return n;
}

const ESCAPES: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
const PLAIN_STRING_RUN = /[^"\\\u0000-\u001f\ud800-\udfff]*/y;

class Parser {
  pos = 0;
  constructor(
    readonly text: string,
    readonly maxDepth: number,
    readonly integersOnly: boolean,
  ) {}

  fail(reason: string, at = this.pos): never {
    throw new JsonParseError(reason, at);
  }

  skipWhitespace(): void {
    const t = this.text;
    let p = this.pos;
    for (;;) {
      const c = t.charCodeAt(p);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) p++;
      else break;
    }
    this.pos = p;
  }

  value(depth: number): JsonValue {
    this.skipWhitespace();
    const c = this.text[this.pos];
    switch (c) {
      case "{":
        return this.object(depth + 1);
      case "[":
        return this.array(depth + 1);
      case '"':
        return this.string();
      case "t":
        return this.literal("true", true);
      case "f":
        return this.literal("false", false);
      case "n":
        return this.literal("null", null);
      case undefined:
        return this.fail("unexpected end of input");
      default:
        if (c === "-" || (c >= "0" && c <= "9")) return this.number();
        return this.fail(`unexpected character ${JSON.stringify(c)}`);
    }
  }

  literal<T extends JsonValue>(word: string, v: T): T {
    if (!this.text.startsWith(word, this.pos)) this.fail(`invalid literal, expected ${word}`);
    this.pos += word.length;
    return v;
  }

  number(): number {
    const start = this.pos;
    NUMBER.lastIndex = start;
    const m = NUMBER.exec(this.text);
    if (!m || m[0] === "-") this.fail("invalid number", start);
    this.pos = start + m[0].length;
    const n = Number(m[0]);
    const isIntegerLiteral = m[1] === undefined && m[2] === undefined;
    if (!Number.isFinite(n)) this.fail(`number ${m[0]} is out of range`, start);
    if (isIntegerLiteral && !Number.isSafeInteger(n)) this.fail(`integer ${m[0]} is outside ±(2^53−1)`, start);
    if (this.integersOnly && !Number.isSafeInteger(n)) {
      this.fail(Number.isInteger(n) ? `integer ${m[0]} is outside ±(2^53−1)` : `number ${m[0]} is not an integer`, start);
    }
    return n === 0 ? 0 : n; // -0 → 0
  }

  string(): string {
    const t = this.text;
    let p = this.pos + 1; // after the opening quote
    let out = "";
    for (;;) {
      PLAIN_STRING_RUN.lastIndex = p;
      PLAIN_STRING_RUN.exec(t);
      const runEnd = PLAIN_STRING_RUN.lastIndex;
      if (runEnd > p) out += t.slice(p, runEnd);
      p = runEnd;
      const c = t.charCodeAt(p);
      if (c === 0x22) {
        this.pos = p + 1;
        return out;
      }
      if (Number.isNaN(c)) this.fail("unterminated string", p);
      if (c < 0x20) this.fail("unescaped control character in string", p);
      if (c >= 0xd800 && c <= 0xdfff) {
        const d = t.charCodeAt(p + 1);
        if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
          out += t.slice(p, p + 2);
          p += 2;
          continue;
        }
        this.fail("lone surrogate in string", p);
      }
      // a backslash escape
      const e = t[p + 1];
      if (e === "u") {
        const unit = this.hex4(p + 2);
        if (unit >= 0xdc00 && unit <= 0xdfff) this.fail("lone surrogate escape in string", p);
        if (unit >= 0xd800 && unit <= 0xdbff) {
          if (t[p + 6] !== "\\" || t[p + 7] !== "u") this.fail("lone surrogate escape in string", p);
          const low = this.hex4(p + 8);
          if (low < 0xdc00 || low > 0xdfff) this.fail("lone surrogate escape in string", p);
          out += String.fromCharCode(unit, low);
          p += 12;
        } else {
          out += String.fromCharCode(unit);
          p += 6;
        }
        continue;
      }
      const replacement = e === undefined ? undefined : ESCAPES[e];
      if (replacement === undefined) this.fail("invalid escape in string", p);
      out += replacement;
      p += 2;
    }
  }

  hex4(at: number): number {
    const s = this.text.slice(at, at + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(s)) this.fail("invalid \\u escape", at - 2);
    return parseInt(s, 16);
  }

  array(depth: number): JsonValue[] {
    if (depth > this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth}`);
    this.pos++;
    const out: JsonValue[] = [];
    this.skipWhitespace();
    if (this.text[this.pos] === "]") {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth));
      this.skipWhitespace();
      const c = this.text[this.pos];
      if (c === ",") this.pos++;
      else if (c === "]") {
        this.pos++;
        return out;
      } else this.fail(c === undefined ? "unexpected end of input" : "expected ',' or ']'");
    }
  }

  object(depth: number): JsonObject {
    if (depth > this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth}`);
    this.pos++;
    const out: JsonObject = {};
    this.skipWhitespace();
    if (this.text[this.pos] === "}") {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWhitespace();
      const keyAt = this.pos;
      if (this.text[keyAt] !== '"') this.fail(this.text[keyAt] === undefined ? "unexpected end of input" : "expected a string key");
      const key = this.string();
      if (Object.prototype.hasOwnProperty.call(out, key)) this.fail(`duplicate key ${JSON.stringify(key)}`, keyAt);
      this.skipWhitespace();
      if (this.text[this.pos] !== ":") this.fail("expected ':'");
      this.pos++;
      const v = this.value(depth);
      if (key === "__proto__") {
        // Plain assignment would call the __proto__ setter and change the prototype.
        Object.defineProperty(out, key, { value: v, writable: true, enumerable: true, configurable: true });
      } else out[key] = v;
      this.skipWhitespace();
      const c = this.text[this.pos];
      if (c === ",") this.pos++;
      else if (c === "}") {
        this.pos++;
        return out;
      } else this.fail(c === undefined ? "unexpected end of input" : "expected ',' or '}'");
    }
  }
}

/** Parses untrusted JSON text. Throws JsonParseError with the reason and position. */
export function parseJsonStrict(text: string, limits: JsonParseLimits = {}): JsonValue {
  const maxBytes = limits.maxBytes ?? DEFAULT_MAX_BYTES;
  // UTF-8 is at least one byte per code unit and at most three.
  if (text.length > maxBytes || (text.length * 3 > maxBytes && utf8Length(text) > maxBytes)) {
    throw new JsonParseError(`input larger than ${maxBytes} bytes`, 0);
  }
  const p = new Parser(text, limits.maxDepth ?? DEFAULT_MAX_DEPTH, limits.integersOnly ?? false);
  const v = p.value(0);
  p.skipWhitespace();
  if (p.pos !== text.length) p.fail("unexpected data after the JSON value");
  return v;
}

/** Parses UTF-8 bytes (invalid UTF-8 is an error, not replaced). */
export function parseJsonBytesStrict(bytes: Uint8Array, limits: JsonParseLimits = {}): JsonValue {
  const maxBytes = limits.maxBytes ?? DEFAULT_MAX_BYTES;
  if (bytes.length > maxBytes) throw new JsonParseError(`input larger than ${maxBytes} bytes`, 0);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new JsonParseError("invalid UTF-8", 0);
  }
  return parseJsonStrict(text, limits);
}
