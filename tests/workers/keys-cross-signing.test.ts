// Cross-signing through the edge: /keys/device_signing/upload (UIA rules) and
// /keys/signatures/upload (verification, per-key failures, who sees which signature).
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { signJson } from "../../lib/signing.ts";
import { FakeCrossSigning, keyNamedByItself } from "../lib/e2ee/client.ts";
import { call, expectError, expectOk, passwordAuth, register, type Session, V3, withKeys } from "./keys-helpers.ts";

async function bootstrap(s: Session): Promise<FakeCrossSigning> {
  const cs = await FakeCrossSigning.create(s.userId);
  expectOk(await call("POST", `${V3}/keys/device_signing/upload`, await cs.uploadBody(), s.token));
  return cs;
}

async function query(viewer: Session, userId: string): Promise<JsonObject> {
  return expectOk(await call("POST", `${V3}/keys/query`, { device_keys: { [userId]: [] } }, viewer.token));
}

describe("[cs: cross-signing] POST /keys/device_signing/upload", () => {
  it("[cs: device_signing/upload] the first upload needs no UIA; keys appear in /keys/query", async () => {
    const alice = await register();
    const cs = await bootstrap(alice);
    const body = await cs.uploadBody();
    const own = await query(alice, alice.userId);
    expect((own.master_keys as JsonObject)[alice.userId]).toEqual(body.master_key);
    expect((own.self_signing_keys as JsonObject)[alice.userId]).toEqual(body.self_signing_key);
    expect((own.user_signing_keys as JsonObject)[alice.userId]).toEqual(body.user_signing_key);
  });

  it("[cs: keys/query] another user sees the master and self-signing keys, not the user-signing key", async () => {
    const alice = await register();
    const bob = await register();
    await bootstrap(alice);
    const seen = await query(bob, alice.userId);
    expect(Object.keys(seen.master_keys as JsonObject)).toEqual([alice.userId]);
    expect(Object.keys(seen.self_signing_keys as JsonObject)).toEqual([alice.userId]);
    expect(seen.user_signing_keys).toEqual({});
  });

  it("[cs: device_signing/upload] repeating the stored keys needs no UIA (idempotent retry)", async () => {
    const alice = await register();
    const cs = await bootstrap(alice);
    expectOk(await call("POST", `${V3}/keys/device_signing/upload`, await cs.uploadBody(), alice.token));
  });

  it("[cs: device_signing/upload] replacing keys needs UIA with the password; a wrong password is refused", async () => {
    const alice = await register();
    await bootstrap(alice);
    const next = await FakeCrossSigning.create(alice.userId);
    const body = await next.uploadBody();
    const challenge = await call("POST", `${V3}/keys/device_signing/upload`, body, alice.token);
    expect(challenge.status).toBe(401);
    expect(challenge.body.flows).toEqual([{ stages: ["m.login.password"] }]);
    const session = challenge.body.session as string;
    const wrong = await call("POST", `${V3}/keys/device_signing/upload`, { ...body, auth: { ...passwordAuth(alice.userId, session), password: "nope" } }, alice.token);
    expect(wrong.status).toBe(401);
    expect(wrong.body.errcode).toBe("M_FORBIDDEN");
    // Still the old keys.
    expect(((await query(alice, alice.userId)).master_keys as JsonObject)[alice.userId]).not.toEqual(body.master_key);
    expectOk(await call("POST", `${V3}/keys/device_signing/upload`, { ...body, auth: passwordAuth(alice.userId, session) }, alice.token));
    expect(((await query(alice, alice.userId)).master_keys as JsonObject)[alice.userId]).toEqual(body.master_key);
  });

  it("[cs: device_signing/upload] bad signatures, missing master, wrong user and device-ID clashes", async () => {
    const alice = await register();
    const cs = await FakeCrossSigning.create(alice.userId);
    const stranger = await keyNamedByItself();
    const badSsk = await signJson(cs.keyObject("self_signing"), alice.userId, stranger);
    expectError(await call("POST", `${V3}/keys/device_signing/upload`, { master_key: cs.keyObject("master"), self_signing_key: badSsk }, alice.token), 400, "M_INVALID_SIGNATURE");
    expectError(
      await call("POST", `${V3}/keys/device_signing/upload`, { self_signing_key: (await cs.uploadBody()).self_signing_key }, alice.token),
      400,
      "M_MISSING_PARAM",
    );
    expectError(await call("POST", `${V3}/keys/device_signing/upload`, {}, alice.token), 400, "M_MISSING_PARAM");
    expectError(
      await call("POST", `${V3}/keys/device_signing/upload`, { master_key: { ...cs.keyObject("master"), user_id: "@bob:localhost:8787" } }, alice.token),
      400,
      "M_INVALID_PARAM",
    );
    // Nothing was stored by the failures: the first real upload still needs no UIA.
    expectOk(await call("POST", `${V3}/keys/device_signing/upload`, await cs.uploadBody(), alice.token));
  });

  it("[cs: device_signing/upload] a new self-signing key alone must be signed by the stored master key", async () => {
    const alice = await register();
    const cs = await bootstrap(alice);
    const other = await FakeCrossSigning.create(alice.userId);
    const ssk = await signJson(other.keyObject("self_signing"), alice.userId, cs.master);
    const c = await call("POST", `${V3}/keys/device_signing/upload`, { self_signing_key: ssk }, alice.token);
    expect(c.status).toBe(401);
    expectOk(await call("POST", `${V3}/keys/device_signing/upload`, { self_signing_key: ssk, auth: passwordAuth(alice.userId, c.body.session as string) }, alice.token));
    const wrong = await signJson(other.keyObject("user_signing"), alice.userId, other.master);
    expectError(await call("POST", `${V3}/keys/device_signing/upload`, { user_signing_key: wrong }, alice.token), 400, "M_INVALID_SIGNATURE");
  });
});

describe("[cs: cross-signing] POST /keys/signatures/upload", () => {
  it("[cs: signatures/upload] own device signed by the self-signing key, master signed by a device", async () => {
    const alice = await register();
    const dev = await withKeys(alice);
    const cs = await bootstrap(alice);
    const signedDevice = await cs.signDevice(await dev.deviceKeys());
    const signedMaster = await dev.sign(cs.keyObject("master"));
    const r = expectOk(
      await call("POST", `${V3}/keys/signatures/upload`, { [alice.userId]: { [alice.deviceId]: signedDevice, [cs.master.publicKeyBase64]: signedMaster } }, alice.token),
    );
    expect(r).toEqual({ failures: {} });
    const bob = await register();
    const seen = await query(bob, alice.userId);
    expect(((seen.device_keys as JsonObject)[alice.userId] as JsonObject)[alice.deviceId]).toMatchObject({ signatures: (signedDevice as JsonObject).signatures });
    expect((seen.master_keys as JsonObject)[alice.userId]).toMatchObject({ signatures: (signedMaster as JsonObject).signatures });
  });

  it("[cs: signatures/upload] invalid signatures are per-key failures; valid ones in the same request are kept", async () => {
    const alice = await register();
    const dev = await withKeys(alice);
    const cs = await bootstrap(alice);
    const stranger = await FakeCrossSigning.create(alice.userId);
    const good = await cs.signDevice(await dev.deviceKeys());
    const badMaster = await stranger.signDevice(cs.keyObject("master")); // not signed by a device
    const r = expectOk(
      await call(
        "POST",
        `${V3}/keys/signatures/upload`,
        { [alice.userId]: { [alice.deviceId]: good, [cs.master.publicKeyBase64]: badMaster, UNKNOWN: { a: 1 } } },
        alice.token,
      ),
    );
    const failures = (r.failures as JsonObject)[alice.userId] as Record<string, JsonObject>;
    expect(Object.keys(failures).sort()).toEqual([cs.master.publicKeyBase64, "UNKNOWN"].sort());
    expect(failures[cs.master.publicKeyBase64]!.errcode).toBe("M_INVALID_SIGNATURE");
    expect(failures.UNKNOWN!.errcode).toBe("M_NOT_FOUND");
    const seen = await query(alice, alice.userId);
    expect(((seen.device_keys as JsonObject)[alice.userId] as JsonObject)[alice.deviceId]).toMatchObject({ signatures: (good as JsonObject).signatures });
    // A changed object is refused even with a valid signature over it.
    const changed = await cs.signDevice({ ...(await dev.deviceKeys()), algorithms: ["x"] });
    const r2 = expectOk(await call("POST", `${V3}/keys/signatures/upload`, { [alice.userId]: { [alice.deviceId]: changed } }, alice.token));
    expect(((r2.failures as JsonObject)[alice.userId] as JsonObject)[alice.deviceId]).toMatchObject({ errcode: "M_INVALID_PARAM" });
  });

  it("[cs: signatures/upload] signing another user's master key: visible to the signer only", async () => {
    const alice = await register();
    const bob = await register();
    const carol = await register();
    const acs = await bootstrap(alice);
    const bcs = await bootstrap(bob);
    const signed = await acs.signUser(bcs.keyObject("master"));
    expect(expectOk(await call("POST", `${V3}/keys/signatures/upload`, { [bob.userId]: { [bcs.master.publicKeyBase64]: signed } }, alice.token))).toEqual({ failures: {} });
    const aliceSig = ((signed as JsonObject).signatures as JsonObject)[alice.userId];
    const byAlice = (await query(alice, bob.userId)).master_keys as JsonObject;
    expect(((byAlice[bob.userId] as JsonObject).signatures as JsonObject)[alice.userId]).toEqual(aliceSig);
    const byCarol = (await query(carol, bob.userId)).master_keys as JsonObject;
    expect(byCarol[bob.userId]).toEqual(bcs.keyObject("master"));
    // Signed with the wrong key, or a key that is not the master key: failures.
    const forged = await acs.signDevice(bcs.keyObject("master"));
    const r = expectOk(
      await call("POST", `${V3}/keys/signatures/upload`, { [bob.userId]: { [bcs.master.publicKeyBase64]: forged, [bcs.selfSigning.publicKeyBase64]: bcs.keyObject("self_signing") } }, alice.token),
    );
    const f = (r.failures as JsonObject)[bob.userId] as Record<string, JsonObject>;
    expect(f[bcs.master.publicKeyBase64]!.errcode).toBe("M_INVALID_SIGNATURE");
    expect(f[bcs.selfSigning.publicKeyBase64]!.errcode).toBe("M_NOT_FOUND");
  });

  it("[cs: signatures/upload] remote users and signing without cross-signing keys are failures", async () => {
    const alice = await register();
    const dev = await withKeys(alice);
    const r = expectOk(
      await call("POST", `${V3}/keys/signatures/upload`, { [alice.userId]: { [alice.deviceId]: await dev.deviceKeys() }, "@x:remote.example": { K: { a: 1 } } }, alice.token),
    );
    const failures = r.failures as Record<string, JsonObject>;
    expect((failures[alice.userId] as JsonObject)[alice.deviceId]).toMatchObject({ errcode: "M_NOT_FOUND" });
    expect(Object.keys(failures["@x:remote.example"]!)).toEqual(["K"]);
  });
});
