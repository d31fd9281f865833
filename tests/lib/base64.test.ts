import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Base64Error, decodeBase64, decodeBase64Url, encodeBase64, encodeBase64Url } from "../../lib/base64.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

describe("unpadded base64", () => {
  it("[appendices: unpadded-base64] spec examples", () => {
    // https://spec.matrix.org/v1.19/appendices/#unpadded-base64
    const table: [string, string][] = [["", ""], ["f", "Zg"], ["fo", "Zm8"], ["foo", "Zm9v"], ["foob", "Zm9vYg"], ["fooba", "Zm9vYmE"], ["foobar", "Zm9vYmFy"]];
    for (const [plain, enc] of table) {
      expect(encodeBase64(bytes(plain))).toBe(enc);
      expect(decodeBase64(enc)).toEqual(bytes(plain));
    }
  });
  it("decoders accept padding", () => {
    expect(decodeBase64("Zg==")).toEqual(bytes("f"));
    expect(decodeBase64("Zm8=")).toEqual(bytes("fo"));
    expect(decodeBase64Url("Zg==")).toEqual(bytes("f"));
  });
  it("round-trips and agrees with Node's Buffer", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (b) => {
        const std = Buffer.from(b).toString("base64").replace(/=+$/, "");
        const url = Buffer.from(b).toString("base64url");
        expect(encodeBase64(b)).toBe(std);
        expect(encodeBase64Url(b)).toBe(url);
        expect(decodeBase64(std)).toEqual(b);
        expect(decodeBase64Url(url)).toEqual(b);
      }),
    );
  });
  it("rejects other alphabets, bad characters, bad padding and impossible lengths", () => {
    expect(() => decodeBase64("ab-_")).toThrow(Base64Error);
    expect(() => decodeBase64Url("ab+/")).toThrow(Base64Error);
    expect(() => decodeBase64("Zm 9vY")).toThrow(/invalid base64 character " " at 2/);
    expect(() => decodeBase64("Zg=")).toThrow(Base64Error);
    expect(() => decodeBase64("Z===")).toThrow(Base64Error);
    expect(() => decodeBase64("=Zg=")).toThrow(Base64Error);
    expect(() => decodeBase64("Zm9vY")).toThrow(/length/);
    expect(() => decodeBase64("é")).toThrow(Base64Error);
  });
  it("accepts non-zero trailing bits (the spec's published signing seed has them)", () => {
    expect(decodeBase64("Zh")).toEqual(bytes("f"));
    expect(decodeBase64("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1").length).toBe(32);
  });
});
