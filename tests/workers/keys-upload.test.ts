// /keys/upload, /keys/query, /keys/claim through the edge Worker, inside workerd; the DeviceKeys
// actor behind them; device deletion removing keys.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { DeviceKeys } from "../../party/device-keys.ts";
import { deviceKeysActor } from "../../party/stubs.ts";
import { FakeDevice } from "../lib/e2ee/client.ts";
import { call, expectError, expectOk, login, passwordAuth, register, V3, withKeys } from "./keys-helpers.ts";

const CURVE = "zKbLg+NrIjpnagy+pIY6uPL4ZwEG2v+8F9lmgsnlZzs";

async function storedRows(userId: string): Promise<{ devices: number; otks: number; fallbacks: number }> {
  return runInDurableObject(deviceKeysActor(env, userId), (_: DeviceKeys, state) => {
    const count = (t: string) => state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${t}`).one().n;
    return { devices: count("device_keys"), otks: count("one_time_keys"), fallbacks: count("fallback_keys") };
  });
}

describe("[cs: keys/upload] POST /keys/upload", () => {
  it("[cs: keys/upload] device keys, one-time keys and a fallback key; counts per algorithm", async () => {
    const s = await register();
    const dev = await FakeDevice.create(s.userId, s.deviceId);
    const r = expectOk(
      await call("POST", `${V3}/keys/upload`, { device_keys: await dev.deviceKeys(), one_time_keys: await dev.oneTimeKeys(5), fallback_keys: await dev.fallbackKey() }, s.token),
    );
    expect(r).toEqual({ one_time_key_counts: { signed_curve25519: 5 } });
    // More keys later, and an empty upload reports the counts.
    expectOk(await call("POST", `${V3}/keys/upload`, { one_time_keys: { ...(await dev.oneTimeKeys(2)), "curve25519:plain1": CURVE } }, s.token));
    expect(expectOk(await call("POST", `${V3}/keys/upload`, {}, s.token))).toEqual({ one_time_key_counts: { signed_curve25519: 7, curve25519: 1 } });
    expect(await deviceKeysActor(env, s.userId).unusedFallbackKeyTypes(s.deviceId)).toEqual(["signed_curve25519"]);
  });

  it("[cs: keys/upload] re-uploading the same key is a no-op; the same key ID with another key is refused", async () => {
    const s = await register();
    const dev = await withKeys(s);
    const otks = await dev.oneTimeKeys(1);
    expectOk(await call("POST", `${V3}/keys/upload`, { one_time_keys: otks }, s.token));
    expect(expectOk(await call("POST", `${V3}/keys/upload`, { one_time_keys: otks }, s.token)).one_time_key_counts).toEqual({ signed_curve25519: 1 });
    const [id] = Object.keys(otks);
    const other = await dev.sign({ key: CURVE });
    expectError(await call("POST", `${V3}/keys/upload`, { one_time_keys: { [id!]: other } }, s.token), 400, "M_INVALID_PARAM");
  });

  it("[cs: keys/upload] bad input → the right errcode and nothing stored", async () => {
    const s = await register();
    const dev = await FakeDevice.create(s.userId, s.deviceId);
    const impostor = await FakeDevice.create(s.userId, s.deviceId);
    const other = await FakeDevice.create("@someone:localhost:8787", s.deviceId);
    const good = await dev.deviceKeys();
    const otherDevice = await FakeDevice.create(s.userId, "NOTMINE");
    const cases: Array<[JsonObject, number, string]> = [
      // Signed by someone else (a key pair that is not the one the keys name).
      [{ device_keys: await impostor.sign({ ...good, signatures: {} }) }, 400, "M_INVALID_SIGNATURE"],
      // Mismatched user_id / device_id.
      [{ device_keys: await other.deviceKeys() }, 400, "M_INVALID_PARAM"],
      [{ device_keys: await otherDevice.deviceKeys() }, 400, "M_INVALID_PARAM"],
      // Malformed keys.
      [{ device_keys: await dev.deviceKeys({ keys: { [`ed25519:${s.deviceId}`]: "AAAA", [`curve25519:${s.deviceId}`]: CURVE } }) }, 400, "M_INVALID_PARAM"],
      [{ device_keys: good, one_time_keys: { "curve25519:x": "not-a-key" } }, 400, "M_INVALID_PARAM"],
      // A valid device key set, with a one-time key signed by another device: all refused.
      [{ device_keys: good, one_time_keys: await impostor.oneTimeKeys(1) }, 400, "M_INVALID_SIGNATURE"],
      [{ device_keys: good, fallback_keys: { ...(await dev.fallbackKey()), ...(await dev.fallbackKey()) } }, 400, "M_INVALID_PARAM"],
      [{ device_keys: "x" }, 400, "M_BAD_JSON"],
    ];
    for (const [b, status, code] of cases) expectError(await call("POST", `${V3}/keys/upload`, b, s.token), status, code);
    // Oversized: more than the per-upload limit, and more than the request body limit.
    const many: JsonObject = {};
    for (let i = 0; i < 1001; i++) many[`curve25519:k${i}`] = CURVE;
    expectError(await call("POST", `${V3}/keys/upload`, { one_time_keys: many }, s.token), 413, "M_TOO_LARGE");
    expectError(await call("POST", `${V3}/keys/upload`, { device_keys: { ...good, pad: "x".repeat(1024 * 1024) } }, s.token), 413, "M_TOO_LARGE");
    expect(await storedRows(s.userId)).toEqual({ devices: 0, otks: 0, fallbacks: 0 });
  });

  it("[cs: keys/upload] signed one-time keys need the device's keys first", async () => {
    const s = await register();
    const dev = await FakeDevice.create(s.userId, s.deviceId);
    expectError(await call("POST", `${V3}/keys/upload`, { one_time_keys: await dev.oneTimeKeys(1) }, s.token), 400, "M_INVALID_SIGNATURE");
  });

  it("[cs: keys/upload] requires authentication", async () => {
    expectError(await call("POST", `${V3}/keys/upload`, {}), 401, "M_MISSING_TOKEN");
  });
});

describe("[cs: keys/query] POST /keys/query", () => {
  it("[cs: keys/query] another user's devices with display names; all or selected devices", async () => {
    const alice = await register("qa");
    const bob = await register("qb");
    const bob2 = await login(bob.userId);
    await call("PUT", `${V3}/devices/${bob.deviceId}`, { display_name: "Bob's phone" }, bob.token);
    const d1 = await withKeys(bob);
    await withKeys(bob2);
    const r = expectOk(await call("POST", `${V3}/keys/query`, { device_keys: { [bob.userId]: [] } }, alice.token));
    const devices = (r.device_keys as JsonObject)[bob.userId] as Record<string, JsonObject>;
    expect(Object.keys(devices).sort()).toEqual([bob.deviceId, bob2.deviceId].sort());
    expect(devices[bob.deviceId]).toEqual({ ...(await d1.deviceKeys()), unsigned: { device_display_name: "Bob's phone" } });
    expect(devices[bob2.deviceId]).not.toHaveProperty("unsigned");
    const one = expectOk(await call("POST", `${V3}/keys/query`, { device_keys: { [bob.userId]: [bob2.deviceId] } }, alice.token));
    expect(Object.keys((one.device_keys as JsonObject)[bob.userId] as JsonObject)).toEqual([bob2.deviceId]);
    expect(one.failures).toEqual({});
  });

  it("[cs: keys/query] unknown local users are empty; remote servers are reported under failures", async () => {
    const alice = await register();
    const r = expectOk(await call("POST", `${V3}/keys/query`, { device_keys: { "@nobody-here:localhost:8787": [], "@x:elsewhere.example": [] } }, alice.token));
    expect(r.device_keys).toEqual({ "@nobody-here:localhost:8787": {} });
    expect(Object.keys(r.failures as JsonObject)).toEqual(["elsewhere.example"]);
  });

  it("[cs: keys/query] bad bodies", async () => {
    const alice = await register();
    expectError(await call("POST", `${V3}/keys/query`, {}, alice.token), 400, "M_MISSING_PARAM");
    expectError(await call("POST", `${V3}/keys/query`, { device_keys: [] }, alice.token), 400, "M_BAD_JSON");
    expectError(await call("POST", `${V3}/keys/query`, { device_keys: { [alice.userId]: "all" } }, alice.token), 400, "M_BAD_JSON");
    expectError(await call("POST", `${V3}/keys/query`, { device_keys: { alice: [] } }, alice.token), 400, "M_INVALID_PARAM");
  });
});

describe("[cs: keys/claim] POST /keys/claim", () => {
  it("[cs: keys/claim] one-time keys in upload order, then the fallback key (marked used, never deleted)", async () => {
    const alice = await register();
    const bob = await register();
    const dev = await FakeDevice.create(bob.userId, bob.deviceId);
    const first = await dev.oneTimeKeys(1);
    expectOk(await call("POST", `${V3}/keys/upload`, { device_keys: await dev.deviceKeys(), one_time_keys: first }, bob.token));
    const second = await dev.oneTimeKeys(1);
    const fallback = await dev.fallbackKey();
    expectOk(await call("POST", `${V3}/keys/upload`, { one_time_keys: second, fallback_keys: fallback }, bob.token));
    const claim = async () =>
      ((expectOk(await call("POST", `${V3}/keys/claim`, { one_time_keys: { [bob.userId]: { [bob.deviceId]: "signed_curve25519" } } }, alice.token)).one_time_keys as JsonObject)[
        bob.userId
      ] as JsonObject)[bob.deviceId];
    expect(await claim()).toEqual(first);
    expect(await claim()).toEqual(second);
    expect(await deviceKeysActor(env, bob.userId).unusedFallbackKeyTypes(bob.deviceId)).toEqual(["signed_curve25519"]);
    expect(await claim()).toEqual(fallback);
    expect(await claim()).toEqual(fallback);
    expect(await deviceKeysActor(env, bob.userId).unusedFallbackKeyTypes(bob.deviceId)).toEqual([]);
    // A new fallback key is unused again.
    expectOk(await call("POST", `${V3}/keys/upload`, { fallback_keys: await dev.fallbackKey() }, bob.token));
    expect(await deviceKeysActor(env, bob.userId).unusedFallbackKeyTypes(bob.deviceId)).toEqual(["signed_curve25519"]);
  });

  it("[cs: keys/claim] unknown devices and algorithms give nothing; remote servers are failures", async () => {
    const alice = await register();
    const bob = await register();
    await withKeys(bob, 1);
    const r = expectOk(
      await call(
        "POST",
        `${V3}/keys/claim`,
        { one_time_keys: { [bob.userId]: { NOPE: "signed_curve25519", [bob.deviceId]: "curve25519" }, "@x:remote.example": { D: "signed_curve25519" } } },
        alice.token,
      ),
    );
    expect(r.one_time_keys).toEqual({});
    expect(Object.keys(r.failures as JsonObject)).toEqual(["remote.example"]);
    expectError(await call("POST", `${V3}/keys/claim`, {}, alice.token), 400, "M_MISSING_PARAM");
    expectError(await call("POST", `${V3}/keys/claim`, { one_time_keys: { [bob.userId]: { D: 5 } } }, alice.token), 400, "M_BAD_JSON");
  });

  it("[cs: keys/claim] atomicity: 500 concurrent claims over 100 one-time keys give exactly the 100 keys once each, then the fallback key", async () => {
    const alice = await register("atomic");
    const bob = await register("atomicb");
    const dev = await FakeDevice.create(bob.userId, bob.deviceId);
    const otks = await dev.oneTimeKeys(100);
    const fallback = await dev.fallbackKey();
    expectOk(await call("POST", `${V3}/keys/upload`, { device_keys: await dev.deviceKeys(), one_time_keys: otks, fallback_keys: fallback }, bob.token));
    const body = { one_time_keys: { [bob.userId]: { [bob.deviceId]: "signed_curve25519" } } };
    const replies = await Promise.all(Array.from({ length: 500 }, () => call("POST", `${V3}/keys/claim`, body, alice.token)));
    const claimed = replies.map((r) => {
      expect(r.status).toBe(200);
      const keys = ((r.body.one_time_keys as JsonObject)[bob.userId] as JsonObject)[bob.deviceId] as JsonObject;
      expect(Object.keys(keys)).toHaveLength(1);
      return Object.entries(keys)[0]!;
    });
    const [fallbackId, fallbackKey] = Object.entries(fallback)[0]!;
    const oneTime = claimed.filter(([id]) => id !== fallbackId);
    const fallbacks = claimed.filter(([id]) => id === fallbackId);
    expect(oneTime).toHaveLength(100);
    expect(new Set(oneTime.map(([id]) => id)).size).toBe(100); // never a duplicate
    expect(Object.fromEntries(oneTime)).toEqual(otks); // exactly the uploaded keys, unchanged
    expect(fallbacks).toHaveLength(400);
    for (const [, k] of fallbacks) expect(k).toEqual(fallbackKey);
    expect(await deviceKeysActor(env, bob.userId).oneTimeKeyCounts(bob.deviceId)).toEqual({ signed_curve25519: 0 });
  }, 300_000);
});

describe("[cs: device-management] deleting a device removes its keys", () => {
  it("[cs: delete-devices] DELETE /devices/{id} removes keys, one-time keys and the fallback key", async () => {
    const alice = await register();
    const phone = await login(alice.userId);
    await withKeys(alice, 2, true);
    await withKeys(phone, 3, true);
    expect(await storedRows(alice.userId)).toEqual({ devices: 2, otks: 5, fallbacks: 2 });
    const first = await call("DELETE", `${V3}/devices/${phone.deviceId}`, {}, alice.token);
    expect(first.status).toBe(401);
    expectOk(await call("DELETE", `${V3}/devices/${phone.deviceId}`, { auth: passwordAuth(alice.userId, first.body.session as string) }, alice.token));
    expect(await storedRows(alice.userId)).toEqual({ devices: 1, otks: 2, fallbacks: 1 });
    const q = expectOk(await call("POST", `${V3}/keys/query`, { device_keys: { [alice.userId]: [] } }, alice.token));
    expect(Object.keys((q.device_keys as JsonObject)[alice.userId] as JsonObject)).toEqual([alice.deviceId]);
  });

  it("[cs: logout] /logout removes the device's keys", async () => {
    const alice = await register();
    const phone = await login(alice.userId);
    await withKeys(phone, 1);
    expectOk(await call("POST", `${V3}/logout`, {}, phone.token));
    expect(await storedRows(alice.userId)).toEqual({ devices: 0, otks: 0, fallbacks: 0 });
  });
});
