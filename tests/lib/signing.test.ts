import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeBase64, encodeBase64 } from "../../lib/base64.ts";
import type { JsonObject } from "../../lib/json.ts";
import { roomVersionRules } from "../../lib/room-versions.ts";
import {
  Ed25519Key,
  hashAndSignEvent,
  signEvent,
  signJson,
  verifyEd25519,
  verifyEventSignature,
  verifyJsonSignature,
  verifyJsonSignatureSync,
} from "../../lib/signing.ts";

const vectors = JSON.parse(readFileSync(new URL("../../../shared/vectors/spec-appendix.json", import.meta.url), "utf8")) as {
  signing: { seed_base64: string; public_key_base64: string; server_name: string; key_id: string };
  json_signing: { input: JsonObject; output: JsonObject }[];
  event_signing_room_v1_redaction: { input: JsonObject; output: JsonObject }[];
};
const { seed_base64, public_key_base64, server_name, key_id } = vectors.signing;
const specKey = () => Ed25519Key.fromSeed(decodeBase64(seed_base64), key_id);
const v1 = roomVersionRules("1")!;
const v11 = roomVersionRules("11")!;

describe("signing: spec appendix vectors", () => {
  it("[appendices: signing-details] seed → public key", async () => {
    const key = await specKey();
    expect(key.publicKeyBase64).toBe(public_key_base64);
    expect(key.keyId).toBe("ed25519:1");
    expect(encodeBase64(key.seed)).toBe(encodeBase64(decodeBase64(seed_base64)));
  });
  for (const [i, v] of vectors.json_signing.entries()) {
    it(`[appendices: signing-json] vector ${i}`, async () => {
      const key = await specKey();
      const signed = await signJson(v.input, server_name, key);
      expect(signed).toEqual(v.output);
      expect(await verifyJsonSignature(v.output, server_name, key_id, public_key_base64)).toBe(true);
      expect(verifyJsonSignatureSync(v.output, server_name, key_id, public_key_base64)).toBe(true);
      // tampering fails both verifiers
      const tampered = { ...v.output, extra: 1 };
      expect(await verifyJsonSignature(tampered, server_name, key_id, public_key_base64)).toBe(false);
      expect(verifyJsonSignatureSync(tampered, server_name, key_id, public_key_base64)).toBe(false);
    });
  }
  for (const [i, v] of vectors.event_signing_room_v1_redaction.entries()) {
    it(`[appendices: signing events, rooms/v1] vector ${i}: content hash and signature`, async () => {
      const key = await specKey();
      const signed = await hashAndSignEvent(v.input, server_name, key, v1);
      expect(signed).toEqual(v.output);
      expect(await verifyEventSignature(v.output, server_name, key_id, public_key_base64, v1)).toBe(true);
      // the signature covers the redacted form: content a redaction drops does not break it…
      const otherBody = { ...v.output, content: { body: "edited" } };
      expect(await verifyEventSignature(otherBody, server_name, key_id, public_key_base64, v1)).toBe(true);
      // …but kept keys do
      const otherSender = { ...v.output, sender: "@evil:domain" };
      expect(await verifyEventSignature(otherSender, server_name, key_id, public_key_base64, v1)).toBe(false);
    });
  }
});

describe("signing", () => {
  it("[appendices: signing-json] signatures and unsigned are not signed; existing signatures are kept", async () => {
    const key = await specKey();
    const other = await Ed25519Key.generate("ed25519:other");
    const once = await signJson({ a: 1, unsigned: { age: 1 } }, "domain", key);
    const twice = await signJson(once, "other.example", other);
    expect(Object.keys(twice.signatures as JsonObject)).toEqual(["domain", "other.example"]);
    expect(twice.unsigned).toEqual({ age: 1 });
    expect(await verifyJsonSignature(twice, "domain", key_id, public_key_base64)).toBe(true);
    expect(await verifyJsonSignature(twice, "other.example", "ed25519:other", other.publicKeyBase64)).toBe(true);
    expect(await verifyJsonSignature({ ...twice, unsigned: { age: 99 } }, "domain", key_id, public_key_base64)).toBe(true);
    // a second key of the same server adds to that server's signatures
    const key2 = await Ed25519Key.fromSeed(new Uint8Array(32).fill(7), "ed25519:2");
    const both = await signJson(once, "domain", key2);
    expect(Object.keys((both.signatures as JsonObject).domain as JsonObject)).toEqual(["ed25519:1", "ed25519:2"]);
  });
  it("verification fails for a missing signature, wrong key or malformed base64", async () => {
    const key = await specKey();
    const other = await Ed25519Key.generate();
    const signed = await signJson({ x: "y" }, "domain", key);
    expect(await verifyJsonSignature(signed, "domain", "ed25519:2", public_key_base64)).toBe(false);
    expect(await verifyJsonSignature(signed, "nope", key_id, public_key_base64)).toBe(false);
    expect(await verifyJsonSignature(signed, "domain", key_id, other.publicKeyBase64)).toBe(false);
    expect(await verifyJsonSignature(signed, "domain", key_id, "not base64!")).toBe(false);
    expect(await verifyJsonSignature(signed, "domain", key_id, "AAAA")).toBe(false);
    expect(verifyJsonSignatureSync(signed, "domain", key_id, "AAAA")).toBe(false);
    const badSig = { ...signed, signatures: { domain: { [key_id]: "AAAA" } } };
    expect(await verifyJsonSignature(badSig, "domain", key_id, public_key_base64)).toBe(false);
    expect(verifyJsonSignatureSync(badSig, "domain", key_id, public_key_base64)).toBe(false);
  });
  it("generated keys sign and verify; WebCrypto and tweetnacl agree", async () => {
    const key = await Ed25519Key.generate();
    expect(key.keyId).toMatch(/^ed25519:[A-Za-z0-9_]{6}$/);
    const msg = new TextEncoder().encode("hello");
    const sig = await key.sign(msg);
    expect(sig.length).toBe(64);
    expect(await verifyEd25519(key.publicKeyBase64, msg, encodeBase64(sig))).toBe(true);
    expect(await verifyEd25519(key.publicKeyBase64, new TextEncoder().encode("hellp"), encodeBase64(sig))).toBe(false);
    const restored = await Ed25519Key.fromSeed(key.seed, key.keyId);
    expect(restored.publicKeyBase64).toBe(key.publicKeyBase64);
  });
  it("[rooms/v11: redactions] an event signature depends on the room version's redaction rules", async () => {
    const key = await specKey();
    const ev: JsonObject = { type: "m.room.power_levels", state_key: "", content: { invite: 50, ban: 50 }, sender: "@a:domain", room_id: "!r:domain", origin_server_ts: 1, depth: 1, prev_events: [], auth_events: [], hashes: { sha256: "x" } };
    const s11 = await signEvent(ev, "domain", key, v11);
    const s1 = await signEvent(ev, "domain", key, v1);
    expect(s11.signatures).not.toEqual(s1.signatures);
    // in v11 `invite` is kept, so changing it breaks the v11 signature but not the v1 one
    const changed = { content: { invite: 0, ban: 50 } };
    expect(await verifyEventSignature({ ...s11, ...changed }, "domain", key_id, public_key_base64, v11)).toBe(false);
    expect(await verifyEventSignature({ ...s1, ...changed }, "domain", key_id, public_key_base64, v1)).toBe(true);
  });
  it("rejects a bad seed length or key ID", async () => {
    await expect(Ed25519Key.fromSeed(new Uint8Array(31), "ed25519:a")).rejects.toThrow(/32 bytes/);
    await expect(Ed25519Key.fromSeed(new Uint8Array(32), "curve25519:a")).rejects.toThrow(/ed25519/);
  });
});
