import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  constantTimeEqual,
  crc32,
  hashToken,
  mintToken,
  parseToken,
  randomBase62,
} from "../../lib/access-token.ts";

describe("access tokens carry their routing key", () => {
  it("[token format] mint → parse round-trips kind and localpart", () => {
    for (const kind of ["access", "refresh", "login"] as const) {
      const t = mintToken(kind, "alice");
      expect(t).toMatch(/^sy[trl]_[A-Za-z0-9_-]+_[0-9A-Za-z]{20}_[0-9A-Za-z]{6}$/);
      expect(parseToken(t)).toEqual({ kind, localpart: "alice" });
    }
  });

  it("[token format] prefixes distinguish access (syt), refresh (syr) and login (syl) tokens", () => {
    expect(mintToken("access", "a").startsWith("syt_")).toBe(true);
    expect(mintToken("refresh", "a").startsWith("syr_")).toBe(true);
    expect(mintToken("login", "a").startsWith("syl_")).toBe(true);
  });

  it("[token format] localparts whose base64url contains '_' or '-' still parse", () => {
    // "?>?" encodes to "Pz4_" in URL-safe base64; historical localparts allow these characters.
    for (const lp of ["?>?", "a_b", "\u00ff\u00fe", "user=name/x+y"]) {
      expect(parseToken(mintToken("access", lp))?.localpart).toBe(lp);
    }
  });

  it("[token format] any printable localpart round-trips (property)", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 64 }), (lp) => {
        expect(parseToken(mintToken("access", lp))).toEqual({ kind: "access", localpart: lp });
      }),
    );
  });

  it("[token format] CRC rejects any single-character change", () => {
    const t = mintToken("access", "bob");
    for (let i = 0; i < t.length; i++) {
      if (t[i] === "_") continue;
      const c = t[i] === "A" ? "B" : "A";
      const mutated = t.slice(0, i) + c + t.slice(i + 1);
      expect(parseToken(mutated), `position ${i}`).toBeNull();
    }
  });

  it("[token format] malformed tokens are rejected", () => {
    const good = mintToken("access", "bob");
    expect(parseToken("")).toBeNull();
    expect(parseToken("syt_")).toBeNull();
    expect(parseToken("xyz_Ym9i_" + "a".repeat(20) + "_000000")).toBeNull();
    expect(parseToken(good.slice(0, -1))).toBeNull();
    expect(parseToken(good + "x")).toBeNull();
    expect(parseToken("syt__" + good.split("_").slice(2).join("_"))).toBeNull(); // empty localpart
    expect(parseToken("syt_" + "A".repeat(2000))).toBeNull();
  });

  it("[token format] tokens are unique", () => {
    const seen = new Set(Array.from({ length: 1000 }, () => mintToken("access", "u")));
    expect(seen.size).toBe(1000);
  });

  it("crc32 matches the IEEE/zlib check value", () => {
    expect(crc32("123456789")).toBe(0xcbf43926);
    expect(crc32("")).toBe(0);
  });

  it("randomBase62 draws only from the alphabet at the requested length", () => {
    const s = randomBase62(500);
    expect(s).toHaveLength(500);
    expect(s).toMatch(/^[0-9A-Za-z]+$/);
    // every character class appears in 500 draws with overwhelming probability
    expect(s).toMatch(/[0-9]/);
    expect(s).toMatch(/[a-z]/);
    expect(s).toMatch(/[A-Z]/);
  });
});

describe("tokens are stored hashed", () => {
  it("[token storage] hashToken is SHA-256 hex", async () => {
    expect(await hashToken("abc")).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
  });

  it("constantTimeEqual compares content and length", () => {
    expect(constantTimeEqual("abc", "abc")).toBe(true);
    expect(constantTimeEqual("abc", "abd")).toBe(false);
    expect(constantTimeEqual("abc", "ab")).toBe(false);
    expect(constantTimeEqual("", "")).toBe(true);
    expect(constantTimeEqual("é", "e")).toBe(false);
  });
});
