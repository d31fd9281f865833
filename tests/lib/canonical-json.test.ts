import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { CanonicalJsonError, canonicalJson, canonicalJsonBytes, compareCodePoints } from "../../lib/canonical-json.ts";
import { JsonParseError, parseJsonStrict } from "../../lib/json-parse.ts";
import type { JsonObject, JsonValue } from "../../lib/json.ts";

const vectors = JSON.parse(readFileSync(new URL("../../../shared/vectors/spec-appendix.json", import.meta.url), "utf8")) as {
  canonical_json: { input_text: string; canonical: string }[];
};

describe("canonical JSON: spec appendix vectors", () => {
  it("has the vectors", () => expect(vectors.canonical_json.length).toBe(10));
  for (const [i, v] of vectors.canonical_json.entries()) {
    it(`[appendices: canonical-json] vector ${i}: ${v.canonical}`, () => {
      expect(canonicalJson(parseJsonStrict(v.input_text))).toBe(v.canonical);
    });
  }
});

describe("canonical JSON: rules", () => {
  it("[appendices: canonical-json] keys sort by code point, not UTF-16 code unit", () => {
    // U+1F600 (surrogate pair D83D DE00) sorts after U+FF01 by code point, before it by code unit.
    const obj = { "\u{1F600}": 1, "\uFF01": 2, a: 3 };
    expect(canonicalJson(obj)).toBe('{"a":3,"\uFF01":2,"\u{1F600}":1}');
    expect(compareCodePoints("\uFF01", "\u{1F600}")).toBeLessThan(0);
    expect(compareCodePoints("\uD7FF", "\uE000")).toBeLessThan(0);
    expect(compareCodePoints("ab", "a")).toBeGreaterThan(0);
  });
  it("[appendices: canonical-json] short escapes and lowercase \\u00XX for control characters", () => {
    expect(canonicalJson("\b\f\n\r\t")).toBe('"\\b\\f\\n\\r\\t"');
    expect(canonicalJson("\u0000\u0001\u001f")).toBe('"\\u0000\\u0001\\u001f"');
    expect(canonicalJson('"\\')).toBe('"\\"\\\\"');
  });
  it("[appendices: canonical-json] no needless escapes: DEL, U+2028, U+2029, '/' and non-ASCII are literal", () => {
    expect(canonicalJson("\u007f\u2028\u2029/é日\u{1F600}")).toBe('"\u007f\u2028\u2029/é日\u{1F600}"');
  });
  it("[appendices: canonical-json] every code unit below U+0080 is written as the spec says", () => {
    for (let c = 0; c < 0x80; c++) {
      const s = String.fromCharCode(c);
      const short: Record<number, string> = { 8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r", 34: '\\"', 92: "\\\\" };
      const expected = short[c] ?? (c < 0x20 ? "\\u" + c.toString(16).padStart(4, "0") : s);
      expect(canonicalJson(s)).toBe(`"${expected}"`);
    }
  });
  it("[appendices: canonical-json] lone surrogates are rejected in values and keys", () => {
    expect(() => canonicalJson("a\uD800")).toThrow(CanonicalJsonError);
    expect(() => canonicalJson("\uDC00b")).toThrow(CanonicalJsonError);
    expect(() => canonicalJson({ "\uDBFF": 1 })).toThrow(CanonicalJsonError);
  });
  it("[appendices: canonical-json] integers only, in ±(2^53−1); -0 is 0", () => {
    expect(canonicalJson([9007199254740991, -9007199254740991, -0, 1e10])).toBe("[9007199254740991,-9007199254740991,0,10000000000]");
    expect(() => canonicalJson(9007199254740992)).toThrow(/outside/);
    expect(() => canonicalJson(1.5)).toThrow(/not an integer/);
    expect(() => canonicalJson(Number.NaN)).toThrow(CanonicalJsonError);
    expect(() => canonicalJson(Number.POSITIVE_INFINITY)).toThrow(CanonicalJsonError);
  });
  it("[appendices: canonical-json] nested objects and arrays have no whitespace", () => {
    expect(canonicalJson({ b: [1, { d: null, c: true }], a: false })).toBe('{"a":false,"b":[1,{"c":true,"d":null}]}');
  });
  it("undefined object members are absent (optional fields), undefined array items are an error", () => {
    expect(canonicalJson({ a: undefined, b: 1 } as unknown as JsonObject)).toBe('{"b":1}');
    expect(() => canonicalJson([undefined] as unknown as JsonValue)).toThrow(CanonicalJsonError);
  });
  it("a __proto__ own key is serialised like any key", () => {
    const o = parseJsonStrict('{"__proto__":{"x":1},"a":2}') as JsonObject;
    expect(canonicalJson(o)).toBe('{"__proto__":{"x":1},"a":2}');
  });
  it("bytes are UTF-8", () => {
    expect(Array.from(canonicalJsonBytes({ a: "é" }))).toEqual([...new TextEncoder().encode('{"a":"é"}')]);
  });
});

// Arbitrary JSON within canonical JSON's domain (safe integers, well-formed strings).
const jsonString = fc.string({ unit: "grapheme-composite" });
const jsonValue: fc.Arbitrary<JsonValue> = fc.letrec<{ v: JsonValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.maxSafeInteger(),
    fc.string({ unit: "binary" }),
    jsonString,
    fc.array(tie("v"), { maxLength: 5 }),
    fc.dictionary(fc.string({ unit: "binary" }), tie("v"), { maxKeys: 5 }) as fc.Arbitrary<JsonObject>,
  ),
})).v;

function shuffleKeys(v: JsonValue, rnd: () => number): JsonValue {
  if (Array.isArray(v)) return v.map((x) => shuffleKeys(x, rnd));
  if (v === null || typeof v !== "object") return v;
  const keys = Object.keys(v);
  for (let i = keys.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [keys[i], keys[j]] = [keys[j]!, keys[i]!];
  }
  const out: JsonObject = {};
  for (const k of keys) Object.defineProperty(out, k, { value: shuffleKeys(v[k]!, rnd), enumerable: true, writable: true, configurable: true });
  return out;
}

describe("canonical JSON: properties", () => {
  it("[appendices: canonical-json] parse ∘ serialise is stable", () => {
    fc.assert(
      fc.property(jsonValue, (x) => {
        const s = canonicalJson(x);
        expect(canonicalJson(parseJsonStrict(s, { integersOnly: true }))).toBe(s);
        // and agrees with JSON.parse on the value
        expect(parseJsonStrict(s)).toEqual(JSON.parse(s));
      }),
      { numRuns: 500 },
    );
  });
  it("[appendices: canonical-json] key order does not change the output", () => {
    fc.assert(
      fc.property(jsonValue, fc.integer(), (x, seed) => {
        let state = seed >>> 0 || 1;
        const rnd = () => ((state = (state * 1103515245 + 12345) >>> 0) % 1000) / 1000;
        expect(canonicalJson(shuffleKeys(x, rnd))).toBe(canonicalJson(x));
      }),
      { numRuns: 500 },
    );
  });
  it("[appendices: canonical-json] object keys come out in code point order", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ unit: "grapheme" }), fc.constant(0)), (o) => {
        const parsed = parseJsonStrict(canonicalJson(o)) as JsonObject;
        const keys = Object.keys(parsed);
        const byCodePoint = [...keys].sort((a, b) => {
          const x = [...a].map((c) => c.codePointAt(0)!);
          const y = [...b].map((c) => c.codePointAt(0)!);
          for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
          return x.length - y.length;
        });
        expect(keys).toEqual(byCodePoint);
      }),
    );
  });
  it("the parser rejects a duplicate key wherever it is, naming it", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), fc.integer({ min: 0, max: 5 }), (key, depth) => {
        let text = `{${JSON.stringify(key)}:1,${JSON.stringify(key)}:2}`;
        for (let i = 0; i < depth; i++) text = `{"x":[${text}]}`;
        expect(() => parseJsonStrict(text)).toThrow(JsonParseError);
        expect(() => parseJsonStrict(text)).toThrow(`duplicate key ${JSON.stringify(key)}`);
      }),
    );
  });
  it("the parser rejects lone surrogates, raw or escaped", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0xd800, max: 0xdfff }), fc.boolean(), (unit, escaped) => {
        const s = escaped ? `"a\\u${unit.toString(16)}b"` : `"a${String.fromCharCode(unit)}b"`;
        expect(() => parseJsonStrict(s)).toThrow(/lone surrogate/);
      }),
    );
  });
  it("the parser rejects nesting beyond maxDepth with the depth in the message", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.boolean(), (max, useArrays) => {
        const open = useArrays ? "[" : '{"a":';
        const close = useArrays ? "]" : "}";
        const ok = open.repeat(max) + "1" + close.repeat(max);
        const deep = open.repeat(max + 1) + "1" + close.repeat(max + 1);
        expect(() => parseJsonStrict(ok, { maxDepth: max })).not.toThrow();
        expect(() => parseJsonStrict(deep, { maxDepth: max })).toThrow(`nesting deeper than ${max}`);
      }),
    );
  });
});
