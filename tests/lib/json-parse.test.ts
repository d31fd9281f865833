import { describe, expect, it } from "vitest";
import { JsonParseError, parseJsonBytesStrict, parseJsonStrict, utf8Length } from "../../lib/json-parse.ts";
import type { JsonObject } from "../../lib/json.ts";

function errorOf(f: () => unknown): JsonParseError {
  try {
    f();
  } catch (e) {
    if (e instanceof JsonParseError) return e;
    throw e;
  }
  throw new Error("did not throw");
}

describe("strict JSON parser", () => {
  it("parses what JSON.parse parses", () => {
    const texts = ['{"a":[1,-2,3.5,1e3,true,false,null,"x\\n\\u00e9\\ud83d\\ude00"]}', " [ ] ", '"\\/"', "0", "-0.5e-3", '{"":{}}'];
    for (const t of texts) expect(parseJsonStrict(t)).toEqual(JSON.parse(t));
  });
  it("reports syntax errors with reason and position", () => {
    const cases: [string, RegExp, number][] = [
      ["", /unexpected end of input/, 0],
      ['{"a" 1}', /expected ':'/, 5],
      ['{"a":1,}', /expected a string key/, 7],
      ["[1,]", /unexpected character "]"/, 3],
      ["[1 2]", /expected ',' or ']'/, 3],
      ["01", /unexpected data after/, 1],
      ["tru", /invalid literal/, 0],
      ['"abc', /unterminated string/, 4],
      ['"a\tb"', /unescaped control character/, 2],
      ['"\\x"', /invalid escape/, 1],
      ['"\\u12G4"', /invalid \\u escape/, 1],
      ["-", /invalid number/, 0],
      ["1.", /unexpected data after/, 1],
      ["NaN", /unexpected character/, 0],
      ["{'a':1}", /expected a string key/, 1],
    ];
    for (const [text, reason, pos] of cases) {
      const e = errorOf(() => parseJsonStrict(text));
      expect(e.reason, text).toMatch(reason);
      expect(e.position, text).toBe(pos);
      expect(e.message).toContain(`at position ${pos}`);
    }
  });
  it("[appendices: canonical-json] duplicate keys are rejected at the second key", () => {
    const e = errorOf(() => parseJsonStrict('{"a":1,"b":{"c":1,"c":2}}'));
    expect(e.reason).toBe('duplicate key "c"');
    expect(e.position).toBe(18);
    // escaped and literal spellings of the same key are duplicates
    expect(() => parseJsonStrict('{"é":1,"\\u00e9":2}')).toThrow(/duplicate key/);
    expect(() => parseJsonStrict('{"__proto__":1,"__proto__":2}')).toThrow(/duplicate key "__proto__"/);
  });
  it("[appendices: canonical-json] lone surrogates are rejected, escaped or raw; pairs are accepted", () => {
    expect(() => parseJsonStrict('"\\ud800"')).toThrow(/lone surrogate escape/);
    expect(() => parseJsonStrict('"\\udc00"')).toThrow(/lone surrogate escape/);
    expect(() => parseJsonStrict('"\\ud800\\u0041"')).toThrow(/lone surrogate escape/);
    expect(() => parseJsonStrict('"\\ud800x"')).toThrow(/lone surrogate escape/);
    expect(() => parseJsonStrict('"\ud800"')).toThrow(/lone surrogate in string/);
    expect(() => parseJsonStrict('{"\udfff":1}')).toThrow(/lone surrogate/);
    expect(parseJsonStrict('"\\uD83D\\uDE00\ud83d\ude00"')).toBe("\u{1F600}\u{1F600}");
  });
  it("[appendices: canonical-json] integers outside ±(2^53−1) are always rejected", () => {
    expect(parseJsonStrict("9007199254740991")).toBe(9007199254740991);
    expect(parseJsonStrict("-9007199254740991")).toBe(-9007199254740991);
    expect(() => parseJsonStrict("9007199254740992")).toThrow(/integer 9007199254740992 is outside/);
    expect(() => parseJsonStrict("-9007199254740992")).toThrow(/outside/);
    expect(() => parseJsonStrict("1e400")).toThrow(/out of range/);
  });
  it("[rooms/v6: canonical JSON] integersOnly rejects floats, allows integral exponent forms", () => {
    expect(parseJsonStrict("1.5")).toBe(1.5);
    expect(() => parseJsonStrict("1.5", { integersOnly: true })).toThrow(/number 1.5 is not an integer/);
    expect(() => parseJsonStrict('{"a":[0.1]}', { integersOnly: true })).toThrow(JsonParseError);
    expect(() => parseJsonStrict("1e300", { integersOnly: true })).toThrow(/outside/);
    expect(parseJsonStrict("1e10", { integersOnly: true })).toBe(10000000000);
    expect(Object.is(parseJsonStrict("-0"), 0)).toBe(true);
  });
  it("depth limit: default 100", () => {
    expect(() => parseJsonStrict("[".repeat(100) + "]".repeat(100))).not.toThrow();
    expect(() => parseJsonStrict("[".repeat(101) + "]".repeat(101))).toThrow("nesting deeper than 100");
    // far deeper input fails on the limit, not on the stack
    expect(() => parseJsonStrict("[".repeat(100000))).toThrow("nesting deeper than 100");
  });
  it("size limit counts UTF-8 bytes", () => {
    expect(utf8Length("aé日\u{1F600}")).toBe(1 + 2 + 3 + 4);
    const text = JSON.stringify("日".repeat(10)); // 32 bytes, 12 code units
    expect(() => parseJsonStrict(text, { maxBytes: 32 })).not.toThrow();
    expect(() => parseJsonStrict(text, { maxBytes: 31 })).toThrow("input larger than 31 bytes");
    expect(() => parseJsonStrict("[" + "1,".repeat(600000) + "1]")).toThrow(/larger than 1048576/);
  });
  it("[hostile JSON] __proto__ becomes an own data property and no prototype changes", () => {
    const o = parseJsonStrict('{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}},"a":{"__proto__":[]}}') as JsonObject;
    expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
    expect(Object.keys(o)).toEqual(["__proto__", "constructor", "a"]);
    expect(Object.getOwnPropertyDescriptor(o, "__proto__")?.value).toEqual({ polluted: true });
    expect((o as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(o.a)).toBe(Object.prototype);
    expect(Array.isArray(Object.getOwnPropertyDescriptor(o.a as object, "__proto__")?.value)).toBe(true);
  });
  it("bytes: invalid UTF-8 and BOM are rejected", () => {
    expect(parseJsonBytesStrict(new TextEncoder().encode('{"a":"é"}'))).toEqual({ a: "é" });
    expect(() => parseJsonBytesStrict(new Uint8Array([0x22, 0xff, 0x22]))).toThrow("invalid UTF-8");
    expect(() => parseJsonBytesStrict(new Uint8Array([0xef, 0xbb, 0xbf, 0x31]))).toThrow(JsonParseError);
  });
});
