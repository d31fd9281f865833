import { describe, expect, it } from "vitest";
import { parseCrossSigningKey, sameSignedContent, verifySignedByMaster } from "../../../lib/e2ee/cross-signing.ts";
import { MatrixError } from "../../../lib/errors.ts";
import type { JsonObject, JsonValue } from "../../../lib/json.ts";
import { signJson } from "../../../lib/signing.ts";
import { FakeCrossSigning, keyNamedByItself } from "./client.ts";

const ALICE = "@alice:example.org";

function errcodeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof MatrixError) return e.errcode;
    throw e;
  }
  return "none";
}

describe("[e2ee: cross-signing] key objects", () => {
  it("[e2ee: cross-signing] a well-formed key parses to its public key and key ID", async () => {
    const cs = await FakeCrossSigning.create(ALICE);
    const k = parseCrossSigningKey(cs.keyObject("master"), "master", ALICE);
    expect(k.publicKey).toBe(cs.master.publicKeyBase64);
    expect(k.keyId).toBe(`ed25519:${cs.master.publicKeyBase64}`);
  });

  it("[e2ee: cross-signing] wrong user, usage, key count, key ID or key value is refused", async () => {
    const cs = await FakeCrossSigning.create(ALICE);
    const m = cs.keyObject("master");
    const pub = cs.master.publicKeyBase64;
    const cases: Array<[JsonValue, string]> = [
      [{ ...m, user_id: "@bob:example.org" }, "M_INVALID_PARAM"],
      [{ ...m, usage: ["self_signing"] }, "M_INVALID_PARAM"],
      [{ ...m, usage: ["master", "bogus"] }, "M_INVALID_PARAM"],
      [{ ...m, usage: "master" }, "M_BAD_JSON"],
      [{ ...m, keys: {} }, "M_INVALID_PARAM"],
      [{ ...m, keys: { [`ed25519:${pub}`]: pub, "ed25519:other": pub } }, "M_INVALID_PARAM"],
      [{ ...m, keys: { "ed25519:notthekey": pub } }, "M_INVALID_PARAM"],
      [{ ...m, keys: { [`curve25519:${pub}`]: pub } }, "M_INVALID_PARAM"],
      [{ ...m, keys: { "ed25519:abc": "abc" } }, "M_INVALID_PARAM"],
      [{ ...m, signatures: "x" }, "M_BAD_JSON"],
      [{ usage: ["master"], keys: m.keys }, "M_BAD_JSON"],
      [null, "M_BAD_JSON"],
    ];
    for (const [v, code] of cases) expect(errcodeOf(() => parseCrossSigningKey(v, "master", ALICE)), JSON.stringify(v)).toBe(code);
  });

  it("[e2ee: cross-signing] self-signing and user-signing keys must be signed by the master key", async () => {
    const cs = await FakeCrossSigning.create(ALICE);
    const body = await cs.uploadBody();
    const master = parseCrossSigningKey(body.master_key, "master", ALICE);
    const ssk = parseCrossSigningKey(body.self_signing_key, "self_signing", ALICE);
    await expect(verifySignedByMaster(ssk, master, ALICE)).resolves.toBeUndefined();
    const other = await keyNamedByItself();
    const badlySigned = parseCrossSigningKey(await signJson(cs.keyObject("self_signing"), ALICE, other), "self_signing", ALICE);
    await expect(verifySignedByMaster(badlySigned, master, ALICE)).rejects.toMatchObject({ errcode: "M_INVALID_SIGNATURE" });
    const unsigned = parseCrossSigningKey(cs.keyObject("user_signing"), "user_signing", ALICE);
    await expect(verifySignedByMaster(unsigned, master, ALICE)).rejects.toMatchObject({ errcode: "M_INVALID_SIGNATURE" });
  });

  it("[e2ee: cross-signing] the same key with other signatures is the same signed content", async () => {
    const cs = await FakeCrossSigning.create(ALICE);
    const plain = cs.keyObject("master");
    const signed = (await cs.signUser(plain)) as JsonObject;
    expect(sameSignedContent(plain, signed)).toBe(true);
    expect(sameSignedContent(plain, (await FakeCrossSigning.create(ALICE)).keyObject("master"))).toBe(false);
  });
});
