// /sendToDevice through the edge and the inbox RPCs /sync will use (toDeviceSince, ackToDevice,
// syncState): order, idempotency, acknowledgement, the per-device cap.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { DeviceKeys } from "../../party/device-keys.ts";
import { deviceKeysActor } from "../../party/stubs.ts";
import { call, expectError, expectOk, login, passwordAuth, register, type Session, V3 } from "./keys-helpers.ts";

let txn = 0;
async function send(from: Session, messages: Record<string, Record<string, unknown>>, txnId = `t${++txn}`, type = "m.test") {
  return call("PUT", `${V3}/sendToDevice/${encodeURIComponent(type)}/${txnId}`, { messages }, from.token);
}

/** The actor's RPC surface with its declared types (the stub's mapped types of recursive JSON are too deep for tsc). */
const dk = (userId: string) => deviceKeysActor(env, userId) as unknown as DeviceKeys;
const inbox = (s: Session, since = 0, limit?: number) => dk(s.userId).toDeviceSince(s.deviceId, since, limit);

describe("[cs: send-to-device] PUT /sendToDevice", () => {
  it("[cs: send-to-device] messages arrive in order with sender and type", async () => {
    const alice = await register();
    const bob = await register();
    for (let i = 0; i < 5; i++) expectOk(await send(alice, { [bob.userId]: { [bob.deviceId]: { i } } }, undefined, "m.room_key_request"));
    const b = await inbox(bob);
    expect(b.events.map((e) => e.content.i)).toEqual([0, 1, 2, 3, 4]);
    expect(b.events[0]).toEqual({ sender: alice.userId, type: "m.room_key_request", content: { i: 0 } });
    expect(b.more).toBe(false);
  });

  it("[cs: send-to-device] * reaches every device of the user; unknown device IDs are dropped", async () => {
    const alice = await register();
    const bob = await register();
    const bob2 = await login(bob.userId);
    expectOk(await send(alice, { [bob.userId]: { "*": { all: true }, NOSUCHDEVICE: { x: 1 } } }));
    expect((await inbox(bob)).events.map((e) => e.content)).toEqual([{ all: true }]);
    expect((await inbox(bob2)).events.map((e) => e.content)).toEqual([{ all: true }]);
    expect((await dk(bob.userId).toDeviceSince("NOSUCHDEVICE", 0)).events).toEqual([]);
  });

  it("[cs: transaction-identifiers] the same txnId from the same device is delivered once; another device may reuse it", async () => {
    const alice = await register();
    const alice2 = await login(alice.userId);
    const bob = await register();
    expectOk(await send(alice, { [bob.userId]: { [bob.deviceId]: { n: 1 } } }, "same"));
    expectOk(await send(alice, { [bob.userId]: { [bob.deviceId]: { n: 1 } } }, "same"));
    expectOk(await send(alice2, { [bob.userId]: { [bob.deviceId]: { n: 2 } } }, "same"));
    expect((await inbox(bob)).events.map((e) => e.content.n)).toEqual([1, 2]);
  });

  it("[cs: send-to-device] deleted only when acknowledged: a lost response is read again", async () => {
    const alice = await register();
    const bob = await register();
    for (let i = 0; i < 5; i++) expectOk(await send(alice, { [bob.userId]: { [bob.deviceId]: { i } } }));
    const first = await inbox(bob, 0, 2);
    expect(first.events.map((e) => e.content.i)).toEqual([0, 1]);
    expect(first.more).toBe(true);
    // The client never saw `first`: reading from 0 again gives the same messages.
    expect((await inbox(bob, 0, 2)).events).toEqual(first.events);
    // Acknowledging first.next deletes exactly those two.
    const bobKeys = dk(bob.userId);
    expect(await bobKeys.ackToDevice(bob.deviceId, first.next)).toBe(2);
    expect((await inbox(bob, 0)).events.map((e) => e.content.i)).toEqual([2, 3, 4]);
    // syncState acknowledges the position it is given and returns what follows.
    const st = await bobKeys.syncState(bob.deviceId, { toDeviceSince: first.next, toDeviceLimit: 1, deviceListSince: 0 });
    expect(st.toDevice.events.map((e) => e.content.i)).toEqual([2]);
    const st2 = await bobKeys.syncState(bob.deviceId, { toDeviceSince: st.toDevice.next, deviceListSince: 0 });
    expect(st2.toDevice.events.map((e) => e.content.i)).toEqual([3, 4]);
    expect(st2.oneTimeKeyCounts).toEqual({ signed_curve25519: 0 });
    expect(st2.unusedFallbackKeyTypes).toEqual([]);
  });

  it("[cs: send-to-device] a full inbox is 429 M_LIMIT_EXCEEDED; the retry delivers only what is missing", async () => {
    const alice = await register();
    const bob = await register();
    const carol = await register();
    await runInDurableObject(deviceKeysActor(env, bob.userId), (_: DeviceKeys, state) => {
      state.storage.sql.exec("INSERT INTO counters (name, value) VALUES ('to_device_cap', 2)");
    });
    expectOk(await send(alice, { [bob.userId]: { [bob.deviceId]: { i: 0 } } }));
    expectOk(await send(alice, { [bob.userId]: { [bob.deviceId]: { i: 1 } } }));
    const full = await send(alice, { [bob.userId]: { [bob.deviceId]: { i: 2 } }, [carol.userId]: { [carol.deviceId]: { i: 2 } } }, "over");
    expectError(full, 429, "M_LIMIT_EXCEEDED");
    expect(typeof full.body.retry_after_ms).toBe("number");
    expect((await inbox(carol)).events.map((e) => e.content.i)).toEqual([2]); // the others were delivered
    // Bob reads and acknowledges; the retry now fits, and Carol does not get a second copy.
    const b = await inbox(bob);
    await deviceKeysActor(env, bob.userId).ackToDevice(bob.deviceId, b.next);
    expectOk(await send(alice, { [bob.userId]: { [bob.deviceId]: { i: 2 } }, [carol.userId]: { [carol.deviceId]: { i: 2 } } }, "over"));
    expect((await inbox(bob)).events.map((e) => e.content.i)).toEqual([2]);
    expect((await inbox(carol)).events.map((e) => e.content.i)).toEqual([2]);
  });

  it("[cs: send-to-device] a deleted device's inbox goes with it; remote recipients are dropped", async () => {
    const alice = await register();
    const bob = await register();
    const phone = await login(bob.userId);
    expectOk(await send(alice, { [phone.userId]: { [phone.deviceId]: { x: 1 } }, "@someone:remote.example": { D: { x: 1 } } }));
    expect((await inbox(phone)).events).toHaveLength(1);
    const c = await call("POST", `${V3}/delete_devices`, { devices: [phone.deviceId] }, bob.token);
    expectOk(await call("POST", `${V3}/delete_devices`, { devices: [phone.deviceId], auth: passwordAuth(bob.userId, c.body.session as string) }, bob.token));
    expect((await inbox(phone)).events).toEqual([]);
  });

  it("[cs: send-to-device] bad bodies", async () => {
    const alice = await register();
    expectError(await call("PUT", `${V3}/sendToDevice/m.test/x1`, {}, alice.token), 400, "M_MISSING_PARAM");
    expectError(await call("PUT", `${V3}/sendToDevice/m.test/x2`, { messages: { nobody: {} } }, alice.token), 400, "M_INVALID_PARAM");
    expectError(await call("PUT", `${V3}/sendToDevice/m.test/x3`, { messages: { [alice.userId]: { D: 1 } } }, alice.token), 400, "M_BAD_JSON");
    expectError(await call("PUT", `${V3}/sendToDevice/m.test/${"t".repeat(300)}`, { messages: {} }, alice.token), 400, "M_INVALID_PARAM");
    expectError(await call("PUT", `${V3}/sendToDevice/m.test/x4`, { messages: {} }), 401, "M_MISSING_TOKEN");
  });
});
