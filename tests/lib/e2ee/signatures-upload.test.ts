import { describe, expect, it } from "vitest";
import { checkUploadedSignatures, parseSignaturesUpload } from "../../../lib/e2ee/signatures-upload.ts";
import type { JsonObject } from "../../../lib/json.ts";
import { FakeCrossSigning, FakeDevice } from "./client.ts";

const ALICE = "@alice:example.org";
const BOB = "@bob:example.org";

describe("[e2ee: signatures-upload] checking uploaded signatures", () => {
  it("[e2ee: cross-signing] a device signed by the self-signing key is accepted", async () => {
    const dev = await FakeDevice.create(ALICE, "DEV1");
    const cs = await FakeCrossSigning.create(ALICE);
    const stored = await dev.deviceKeys();
    const uploaded = await cs.signDevice(stored);
    const r = await checkUploadedSignatures({ uploaded, stored, signer: ALICE, signingKeys: { [cs.selfSigning.keyId]: cs.selfSigning.publicKeyBase64 } });
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.accepted).toEqual([{ keyId: cs.selfSigning.keyId, signature: expect.any(String) }]);
  });

  it("[e2ee: cross-signing] another user's master key signed by the user-signing key is accepted", async () => {
    const alice = await FakeCrossSigning.create(ALICE);
    const bob = await FakeCrossSigning.create(BOB);
    const stored = bob.keyObject("master");
    const uploaded = await alice.signUser(stored);
    const r = await checkUploadedSignatures({ uploaded, stored, signer: ALICE, signingKeys: { [alice.userSigning.keyId]: alice.userSigning.publicKeyBase64 } });
    expect(r).toMatchObject({ ok: true });
  });

  it("[e2ee: signatures-upload] invalid, disallowed, missing or mismatched → per-key failure", async () => {
    const dev = await FakeDevice.create(ALICE, "DEV1");
    const cs = await FakeCrossSigning.create(ALICE);
    const stored = await dev.deviceKeys();
    const allowed = { [cs.selfSigning.keyId]: cs.selfSigning.publicKeyBase64 };
    const signedByUsk = await (await FakeCrossSigning.create(ALICE)).signDevice(stored);
    // The key ID is not an allowed signer.
    expect(await checkUploadedSignatures({ uploaded: signedByUsk, stored, signer: ALICE, signingKeys: allowed })).toMatchObject({
      ok: false,
      failure: { errcode: "M_INVALID_SIGNATURE" },
    });
    // Allowed key ID, wrong signature bytes.
    const good = await cs.signDevice(stored);
    const sigs = (good.signatures as JsonObject)[ALICE] as Record<string, string>;
    const forged = { ...good, signatures: { [ALICE]: { ...sigs, [cs.selfSigning.keyId]: sigs[`ed25519:DEV1`]! } } };
    expect(await checkUploadedSignatures({ uploaded: forged, stored, signer: ALICE, signingKeys: allowed })).toMatchObject({
      ok: false,
      failure: { errcode: "M_INVALID_SIGNATURE" },
    });
    // Nothing new.
    expect(await checkUploadedSignatures({ uploaded: stored, stored, signer: ALICE, signingKeys: allowed })).toMatchObject({
      ok: false,
      failure: { errcode: "M_INVALID_SIGNATURE" },
    });
    // The object was changed.
    const changed = await cs.signDevice({ ...stored, algorithms: ["x"] });
    expect(await checkUploadedSignatures({ uploaded: changed, stored, signer: ALICE, signingKeys: allowed })).toMatchObject({
      ok: false,
      failure: { errcode: "M_INVALID_PARAM" },
    });
  });

  it("[e2ee: signatures-upload] repeating a stored signature succeeds with nothing new", async () => {
    const dev = await FakeDevice.create(ALICE, "DEV1");
    const cs = await FakeCrossSigning.create(ALICE);
    const signed = await cs.signDevice(await dev.deviceKeys());
    const allowed = { [cs.selfSigning.keyId]: cs.selfSigning.publicKeyBase64 };
    expect(await checkUploadedSignatures({ uploaded: signed, stored: signed, signer: ALICE, signingKeys: allowed })).toEqual({ ok: true, accepted: [] });
  });

  it("[e2ee: signatures-upload] body shape", () => {
    const m = parseSignaturesUpload({ [ALICE]: { DEV1: { a: 1 } }, [BOB]: {} });
    expect(m.get(ALICE)?.get("DEV1")).toEqual({ a: 1 });
    expect(() => parseSignaturesUpload({ [ALICE]: [] as unknown as JsonObject })).toThrow(/must be an object/);
    expect(() => parseSignaturesUpload({ [ALICE]: { DEV1: "x" } })).toThrow(/must be an object/);
  });
});
