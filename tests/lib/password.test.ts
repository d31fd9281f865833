import { describe, expect, it } from "vitest";
import {
  checkPasswordPolicy,
  hashPassword,
  PBKDF2_ITERATIONS,
  verifyPassword,
} from "../../lib/password.ts";
import { MatrixError } from "../../lib/errors.ts";

describe("password hashing (PBKDF2-SHA256)", () => {
  it("stores algorithm, iterations, salt and hash", async () => {
    const h = await hashPassword("correct horse", 1000);
    expect(h).toMatch(/^pbkdf2-sha256\$1000\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
  });

  it("defaults to the workerd maximum of 100,000 iterations", async () => {
    expect(PBKDF2_ITERATIONS).toBe(100_000);
    const h = await hashPassword("correct horse");
    expect(h.split("$")[1]).toBe("100000");
    expect(await verifyPassword("correct horse", h)).toEqual({ ok: true, needsRehash: false });
  });

  it("verifies the right password and rejects a wrong one", async () => {
    const h = await hashPassword("correct horse", 1000);
    expect((await verifyPassword("correct horse", h)).ok).toBe(true);
    expect((await verifyPassword("correct hors", h)).ok).toBe(false);
    expect((await verifyPassword("", h)).ok).toBe(false);
  });

  it("uses a fresh salt every time", async () => {
    expect(await hashPassword("same", 1000)).not.toBe(await hashPassword("same", 1000));
  });

  it("matches an independent PBKDF2 computation (Node crypto)", async () => {
    const { pbkdf2Sync } = await import("node:crypto");
    const h = await hashPassword("pässword", 2000);
    const [, iter, salt, hash] = h.split("$");
    const expected = pbkdf2Sync("pässword".normalize("NFKC"), Buffer.from(salt!, "base64"), Number(iter), 32, "sha256");
    expect(Buffer.from(hash!, "base64").equals(expected)).toBe(true);
  });

  it("flags hashes weaker than today's parameters for rehash", async () => {
    const h = await hashPassword("pw123456", 1000);
    expect(await verifyPassword("pw123456", h)).toEqual({ ok: true, needsRehash: true });
  });

  it("NFKC-normalises so equivalent Unicode spellings match", async () => {
    const h = await hashPassword("\u212b-angstrom", 1000); // Å as ANGSTROM SIGN
    expect((await verifyPassword("\u00c5-angstrom", h)).ok).toBe(true);
  });

  it("malformed stored hashes never match", async () => {
    for (const bad of ["", "plain", "pbkdf2-sha256$x$a$b", "bcrypt$1$a$b", "pbkdf2-sha256$1000000$AAAA$AAAA"]) {
      expect(await verifyPassword("anything", bad)).toEqual({ ok: false, needsRehash: false });
    }
  });
});

describe("password policy", () => {
  it("[register] passwords shorter than 8 characters are M_WEAK_PASSWORD", () => {
    try {
      checkPasswordPolicy("short");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(MatrixError);
      expect((e as MatrixError).errcode).toBe("M_WEAK_PASSWORD");
      expect((e as MatrixError).status).toBe(400);
    }
    expect(() => checkPasswordPolicy("12345678")).not.toThrow();
  });

  it("passwords longer than 512 characters are refused", () => {
    expect(() => checkPasswordPolicy("x".repeat(513))).toThrow(MatrixError);
    expect(() => checkPasswordPolicy("x".repeat(512))).not.toThrow();
  });
});
