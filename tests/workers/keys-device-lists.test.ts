// The device-list change stream (/keys/changes now, /sync device_lists later): own changes,
// tracked users notified through the outbox, left users, and the alarm that retries delivery.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { encodeSyncToken } from "../../lib/sync/token.ts";
import type { DeviceKeys } from "../../party/device-keys.ts";
import { deviceKeysActor } from "../../party/stubs.ts";
import { FakeCrossSigning } from "../lib/e2ee/client.ts";
import { call, expectError, expectOk, login, passwordAuth, register, type Session, V3, withKeys } from "./keys-helpers.ts";

const dk = (s: Session) => deviceKeysActor(env, s.userId);

async function changes(s: Session, from: number) {
  return expectOk(await call("GET", `${V3}/keys/changes?from=${from}&to=${from}`, undefined, s.token));
}

/** Delivers every pending outbox row of these users' actors (what the after-commit flush and the alarm do). */
async function settle(...users: Session[]): Promise<void> {
  for (let i = 0; i < 3; i++) for (const u of users) await dk(u).flushOutbox();
}

describe("[cs: keys/changes] device-list changes", () => {
  it("[cs: keys/changes] uploading new device keys is a change of one's own device list; an identical re-upload is not", async () => {
    const alice = await register();
    const p0 = await dk(alice).deviceListPosition();
    const dev = await withKeys(alice);
    expect(await changes(alice, p0)).toEqual({ changed: [alice.userId], left: [] });
    const p1 = await dk(alice).deviceListPosition();
    expect(p1).toBeGreaterThan(p0);
    expectOk(await call("POST", `${V3}/keys/upload`, { device_keys: await dev.deviceKeys() }, alice.token));
    expect(await changes(alice, p1)).toEqual({ changed: [], left: [] });
    // One-time keys alone are not a device-list change.
    expectOk(await call("POST", `${V3}/keys/upload`, { one_time_keys: await dev.oneTimeKeys(2) }, alice.token));
    expect(await dk(alice).deviceListPosition()).toBe(p1);
  });

  it("[cs: keys/changes] tracked users' changes reach the tracker; untracking reports them as left", async () => {
    const alice = await register();
    const bob = await register();
    await dk(alice).trackUsers([bob.userId]);
    const p0 = await dk(alice).deviceListPosition();
    expect((await dk(alice).deviceListChangesSince(0)).changed).toContain(bob.userId); // newly shared: fetch their keys
    await settle(alice, bob);
    await withKeys(bob);
    await settle(alice, bob);
    expect(await changes(alice, p0)).toEqual({ changed: [bob.userId], left: [] });
    // Bob's new device, his cross-signing keys and a deleted device each reach Alice.
    const p1 = await dk(alice).deviceListPosition();
    const phone = await login(bob.userId);
    await withKeys(phone);
    await settle(alice, bob);
    expect((await changes(alice, p1)).changed).toEqual([bob.userId]);
    const p2 = await dk(alice).deviceListPosition();
    const cs = await FakeCrossSigning.create(bob.userId);
    expectOk(await call("POST", `${V3}/keys/device_signing/upload`, await cs.uploadBody(), bob.token));
    await settle(alice, bob);
    expect((await changes(alice, p2)).changed).toEqual([bob.userId]);
    const p3 = await dk(alice).deviceListPosition();
    const c = await call("DELETE", `${V3}/devices/${phone.deviceId}`, {}, bob.token);
    expectOk(await call("DELETE", `${V3}/devices/${phone.deviceId}`, { auth: passwordAuth(bob.userId, c.body.session as string) }, bob.token));
    await settle(alice, bob);
    expect((await changes(alice, p3)).changed).toEqual([bob.userId]);
    // No longer sharing a room.
    const p4 = await dk(alice).deviceListPosition();
    await dk(alice).untrackUsers([bob.userId]);
    await settle(alice, bob);
    expect(await changes(alice, p4)).toEqual({ changed: [], left: [bob.userId] });
    // Bob's later changes no longer reach Alice.
    const p5 = await dk(alice).deviceListPosition();
    await withKeys(await login(bob.userId));
    await settle(alice, bob);
    expect(await dk(alice).deviceListPosition()).toBe(p5);
  });

  it("[cs: keys/changes] notifications still pending (failed earlier, retry due) are delivered by the alarm", async () => {
    const alice = await register();
    const bob = await register();
    await dk(alice).trackUsers([bob.userId]);
    await settle(alice, bob);
    // A row as a failed delivery leaves it: attempts counted, retry due.
    await withKeys(bob);
    const pending = await runInDurableObject(dk(bob), (_: DeviceKeys, state) => {
      state.storage.sql.exec("INSERT INTO outbox (target, kind, gen, attempts, next_ts) VALUES ('@ghost:localhost:8787', 'changed', 999999, 3, 0) ON CONFLICT DO NOTHING");
      return state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox").one().n;
    });
    expect(pending).toBeGreaterThan(0);
    await runInDurableObject(dk(bob), async (instance: DeviceKeys) => {
      await instance.onAlarm();
    });
    const left = await runInDurableObject(dk(bob), (_: DeviceKeys, state) => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox").one().n);
    expect(left).toBe(0);
  });

  it("[cs: keys/changes] signing another user's master key is a change only in the signer's stream", async () => {
    const alice = await register();
    const bob = await register();
    const acs = await FakeCrossSigning.create(alice.userId);
    const bcs = await FakeCrossSigning.create(bob.userId);
    expectOk(await call("POST", `${V3}/keys/device_signing/upload`, await acs.uploadBody(), alice.token));
    expectOk(await call("POST", `${V3}/keys/device_signing/upload`, await bcs.uploadBody(), bob.token));
    const pa = await dk(alice).deviceListPosition();
    const pb = await dk(bob).deviceListPosition();
    const signed = await acs.signUser(bcs.keyObject("master"));
    expectOk(await call("POST", `${V3}/keys/signatures/upload`, { [bob.userId]: { [bcs.master.publicKeyBase64]: signed } }, alice.token));
    expect((await changes(alice, pa)).changed).toEqual([bob.userId]);
    expect(await dk(bob).deviceListPosition()).toBe(pb);
  });

  it("[cs: keys/changes] from and to may be /sync next_batch tokens (their device-list position)", async () => {
    const alice = await register();
    const p0 = await dk(alice).deviceListPosition();
    await withKeys(alice);
    const token = (pos: number) => encodeSyncToken({ checkpoint: 0, accountData: 0, toDevice: 0, deviceLists: pos, inline: new Map() });
    const r = expectOk(await call("GET", `${V3}/keys/changes?from=${token(p0)}&to=${token(p0 + 1)}`, undefined, alice.token));
    expect(r).toEqual({ changed: [alice.userId], left: [] });
    const p1 = await dk(alice).deviceListPosition();
    expect(expectOk(await call("GET", `${V3}/keys/changes?from=${token(p1)}&to=${token(p1)}`, undefined, alice.token))).toEqual({ changed: [], left: [] });
  });

  it("[cs: keys/changes] from and to are required positions", async () => {
    const alice = await register();
    expectError(await call("GET", `${V3}/keys/changes?from=0`, undefined, alice.token), 400, "M_MISSING_PARAM");
    expectError(await call("GET", `${V3}/keys/changes?to=0`, undefined, alice.token), 400, "M_MISSING_PARAM");
    expectError(await call("GET", `${V3}/keys/changes?from=abc&to=1`, undefined, alice.token), 400, "M_INVALID_PARAM");
  });
});
