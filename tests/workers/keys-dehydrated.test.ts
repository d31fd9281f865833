// MSC3814 dehydrated devices through the edge: upload (a real device with keys), fetch,
// to-device events for it in batches (not deleted), replacement and deletion.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { encodeBase64 } from "../../lib/base64.ts";
import type { JsonObject } from "../../lib/json.ts";
import type { DeviceKeys } from "../../party/device-keys.ts";
import { deviceKeysActor } from "../../party/stubs.ts";
import { FakeDevice } from "../lib/e2ee/client.ts";
import { call, expectError, expectOk, passwordAuth, register, type Session, V3 } from "./keys-helpers.ts";

const U = "/_matrix/client/unstable/org.matrix.msc3814.v1";
const DATA = { algorithm: "org.matrix.msc3814.v1.olm", device_pickle: "opaque" };

async function dehydrate(s: Session, otks = 3): Promise<FakeDevice> {
  // The MSC: the device ID is the device's Curve25519 key (unpadded base64, so it may hold "/" and "+").
  const id = encodeBase64(crypto.getRandomValues(new Uint8Array(32)));
  const d = await FakeDevice.create(s.userId, id);
  const r = expectOk(
    await call(
      "PUT",
      `${U}/dehydrated_device`,
      {
        device_id: id,
        device_data: DATA,
        initial_device_display_name: "Dehydrated device",
        device_keys: await d.deviceKeys({ dehydrated: true }),
        one_time_keys: await d.oneTimeKeys(otks),
        fallback_keys: await d.fallbackKey(),
      },
      s.token,
    ),
  );
  expect(r).toEqual({ device_id: id });
  return d;
}

const events = (s: Session, deviceId: string, next?: string) =>
  call("POST", `${U}/dehydrated_device/${encodeURIComponent(deviceId)}/events`, next === undefined ? {} : { next_batch: next }, s.token);

describe("[msc3814] dehydrated devices", () => {
  it("[msc3814] none yet is 404 M_NOT_FOUND (so clients know the server supports it)", async () => {
    const s = await register();
    expectError(await call("GET", `${U}/dehydrated_device`, undefined, s.token), 404, "M_NOT_FOUND");
  });

  it("[msc3814] upload creates a real device with keys that others can query and claim", async () => {
    const alice = await register();
    const bob = await register();
    const d = await dehydrate(alice);
    expect(expectOk(await call("GET", `${U}/dehydrated_device`, undefined, alice.token))).toEqual({ device_id: d.deviceId, device_data: DATA });
    const devices = expectOk(await call("GET", `${V3}/devices`, undefined, alice.token)).devices as JsonObject[];
    expect(devices.find((x) => x.device_id === d.deviceId)?.display_name).toBe("Dehydrated device");
    const q = expectOk(await call("POST", `${V3}/keys/query`, { device_keys: { [alice.userId]: [d.deviceId] } }, bob.token));
    expect(((q.device_keys as JsonObject)[alice.userId] as JsonObject)[d.deviceId]).toMatchObject({ dehydrated: true });
    const c = expectOk(await call("POST", `${V3}/keys/claim`, { one_time_keys: { [alice.userId]: { [d.deviceId]: "signed_curve25519" } } }, bob.token));
    expect(Object.keys(((c.one_time_keys as JsonObject)[alice.userId] as JsonObject)[d.deviceId] as JsonObject)).toHaveLength(1);
  });

  it("[msc3814] to-device events for it come in batches with next_batch, and are not deleted", async () => {
    const alice = await register();
    const bob = await register();
    const d = await dehydrate(alice);
    for (let i = 0; i < 120; i++) {
      expectOk(await call("PUT", `${V3}/sendToDevice/m.room.encrypted/d${i}`, { messages: { [alice.userId]: { [d.deviceId]: { i } } } }, bob.token));
    }
    const first = expectOk(await events(alice, d.deviceId));
    expect((first.events as JsonObject[]).map((e) => (e.content as JsonObject).i)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect((first.events as JsonObject[])[0]).toEqual({ sender: bob.userId, type: "m.room.encrypted", content: { i: 0 } });
    const second = expectOk(await events(alice, d.deviceId, first.next_batch as string));
    expect((second.events as JsonObject[]).map((e) => (e.content as JsonObject).i)).toEqual(Array.from({ length: 20 }, (_, i) => 100 + i));
    const end = expectOk(await events(alice, d.deviceId, second.next_batch as string));
    expect(end.events).toEqual([]);
    expect(typeof end.next_batch).toBe("string");
    // Nothing was deleted: a restarted rehydration reads it all again.
    expect((expectOk(await events(alice, d.deviceId)).events as JsonObject[]).length).toBe(100);
  }, 120_000);

  it("[msc3814] another device ID is 403 M_FORBIDDEN; bad next_batch is 400", async () => {
    const alice = await register();
    const d = await dehydrate(alice);
    expectError(await events(alice, alice.deviceId), 403, "M_FORBIDDEN");
    expectError(await events(alice, d.deviceId, "xyz"), 400, "M_INVALID_PARAM");
  });

  it("[msc3814] a new upload replaces the old dehydrated device, its keys and its messages", async () => {
    const alice = await register();
    const bob = await register();
    const old = await dehydrate(alice);
    expectOk(await call("PUT", `${V3}/sendToDevice/m.test/r1`, { messages: { [alice.userId]: { [old.deviceId]: { x: 1 } } } }, bob.token));
    const fresh = await dehydrate(alice);
    expect(expectOk(await call("GET", `${U}/dehydrated_device`, undefined, alice.token)).device_id).toBe(fresh.deviceId);
    const ids = (expectOk(await call("GET", `${V3}/devices`, undefined, alice.token)).devices as JsonObject[]).map((x) => x.device_id);
    expect(ids).toContain(fresh.deviceId);
    expect(ids).not.toContain(old.deviceId);
    expect((await (deviceKeysActor(env, alice.userId) as unknown as DeviceKeys).toDeviceSince(old.deviceId, 0)).events).toEqual([]);
    expect(await deviceKeysActor(env, alice.userId).oneTimeKeyCounts(old.deviceId)).toEqual({ signed_curve25519: 0 });
  });

  it("[msc3814] DELETE removes it; deleting the device through /devices clears it too", async () => {
    const alice = await register();
    const d = await dehydrate(alice);
    expect(expectOk(await call("DELETE", `${U}/dehydrated_device`, undefined, alice.token))).toEqual({ device_id: d.deviceId });
    expectError(await call("GET", `${U}/dehydrated_device`, undefined, alice.token), 404, "M_NOT_FOUND");
    expectError(await call("DELETE", `${U}/dehydrated_device`, undefined, alice.token), 404, "M_NOT_FOUND");
    const ids = (expectOk(await call("GET", `${V3}/devices`, undefined, alice.token)).devices as JsonObject[]).map((x) => x.device_id);
    expect(ids).toEqual([alice.deviceId]);
    const d2 = await dehydrate(alice);
    const c = await call("DELETE", `${V3}/devices/${encodeURIComponent(d2.deviceId)}`, {}, alice.token);
    expectOk(await call("DELETE", `${V3}/devices/${encodeURIComponent(d2.deviceId)}`, { auth: passwordAuth(alice.userId, c.body.session as string) }, alice.token));
    expectError(await call("GET", `${U}/dehydrated_device`, undefined, alice.token), 404, "M_NOT_FOUND");
  });

  it("[msc3814] bad uploads: keys for another device, bad signatures, an existing device's ID", async () => {
    const alice = await register();
    const d = await FakeDevice.create(alice.userId, "DEHYD1");
    const other = await FakeDevice.create(alice.userId, "OTHER");
    const base = { device_id: "DEHYD1", device_data: DATA, device_keys: await d.deviceKeys() };
    expectError(await call("PUT", `${U}/dehydrated_device`, { ...base, device_keys: await other.deviceKeys() }, alice.token), 400, "M_INVALID_PARAM");
    expectError(await call("PUT", `${U}/dehydrated_device`, { ...base, one_time_keys: await other.oneTimeKeys(1) }, alice.token), 400, "M_INVALID_SIGNATURE");
    expectError(await call("PUT", `${U}/dehydrated_device`, { ...base, device_data: "x" }, alice.token), 400, "M_BAD_JSON");
    expectError(await call("PUT", `${U}/dehydrated_device`, { device_data: DATA }, alice.token), 400, "M_BAD_JSON");
    const mine = await FakeDevice.create(alice.userId, alice.deviceId);
    expectError(
      await call("PUT", `${U}/dehydrated_device`, { device_id: alice.deviceId, device_data: DATA, device_keys: await mine.deviceKeys() }, alice.token),
      400,
      "M_INVALID_PARAM",
    );
    expectError(await call("GET", `${U}/dehydrated_device`, undefined, alice.token), 404, "M_NOT_FOUND");
  });
});
