// The device-list change stream (/keys/changes) and tracking through rooms (/sync
// device_lists changed/left across join, leave, kick, rejoin, key changes, deactivation),
// with the message counts of the cost model (docs/design/e2ee.md, "Device lists").
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { encodeSyncToken } from "../../lib/sync/token.ts";
import type { DeviceKeys } from "../../party/device-keys.ts";
import { deviceKeysActor } from "../../party/stubs.ts";
import { FakeCrossSigning } from "../lib/e2ee/client.ts";
import { DEVICE_LIST_COUNTERS } from "../../party/device-keys/counters.ts";
import { SYNC_COUNTERS } from "../../party/sync/counters.ts";
import { call, expectError, expectOk, login, passwordAuth, register, type Session, V3, withKeys } from "./keys-helpers.ts";

const dk = (s: Session) => deviceKeysActor(env, s.userId);

async function changes(s: Session, from: number) {
  return expectOk(await call("GET", `${V3}/keys/changes?from=${from}&to=${from}`, undefined, s.token));
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

// ---- tracking through rooms ------------------------------------------------------------

type DeviceLists = { changed: string[]; left: string[] };

/** One /sync of `s` from `since` (none: initial); returns the token and the device lists. */
async function syncOnce(s: Session, since?: string, timeout = 0): Promise<{ token: string; lists: DeviceLists }> {
  const q = new URLSearchParams({ timeout: String(timeout) });
  if (since) q.set("since", since);
  const body = expectOk(await call("GET", `${V3}/sync?${q}`, undefined, s.token));
  const dl = (body.device_lists ?? {}) as Partial<DeviceLists>;
  return { token: body.next_batch as string, lists: { changed: dl.changed ?? [], left: dl.left ?? [] } };
}

/**
 * A client that syncs on: `next()` gathers what the syncs report until one reports nothing
 * (the room's answer and the key-change notices may arrive in more than one response).
 */
class Syncer {
  token: string | undefined;
  constructor(readonly s: Session) {}
  async start(): Promise<this> {
    this.token = (await syncOnce(this.s)).token;
    await this.next();
    return this;
  }
  async next(): Promise<DeviceLists> {
    const seen: DeviceLists = { changed: [], left: [] };
    for (let i = 0; i < 8; i++) {
      const r = await syncOnce(this.s, this.token, i === 0 ? 100 : 50);
      this.token = r.token;
      if (r.lists.changed.length === 0 && r.lists.left.length === 0 && i > 0) break;
      // A later report of the same user wins (changed after left, or left after changed).
      for (const [kind, other] of [["changed", "left"], ["left", "changed"]] as const) {
        for (const u of r.lists[kind]) {
          seen[other] = seen[other].filter((x) => x !== u);
          if (!seen[kind].includes(u)) seen[kind].push(u);
        }
      }
    }
    seen.changed.sort();
    seen.left.sort();
    return seen;
  }
}

async function createRoom(s: Session, body: Record<string, unknown> = { preset: "public_chat" }): Promise<string> {
  return expectOk(await call("POST", `${V3}/createRoom`, body, s.token)).room_id as string;
}
const roomPath = (roomId: string, rest: string) => `${V3}/rooms/${encodeURIComponent(roomId)}/${rest}`;
const join = async (s: Session, roomId: string) => expectOk(await call("POST", `${V3}/join/${encodeURIComponent(roomId)}`, {}, s.token));
const leave = async (s: Session, roomId: string) => expectOk(await call("POST", roomPath(roomId, "leave"), {}, s.token));

/** Delivers the key-change notices of these users' actors to their rooms (what the after-commit flush and the alarm do). */
async function deliverNotices(...users: Session[]): Promise<void> {
  for (let i = 0; i < 2; i++) for (const u of users) await dk(u).flushOutbox();
}

describe("[cs: device lists] tracking through shared rooms", () => {
  it("[cs: device lists] a user is changed on first sharing a room, on key changes, left once no room is shared, changed again on rejoin", async () => {
    const alice = await register();
    const bob = await register();
    const roomId = await createRoom(alice);
    const a = await new Syncer(alice).start();
    const p0 = await dk(alice).deviceListPosition();

    await join(bob, roomId);
    expect(await a.next()).toEqual({ changed: [bob.userId], left: [] });
    expect(await changes(alice, p0)).toEqual({ changed: [bob.userId], left: [] });
    expect(await dk(alice).sharedUsers()).toEqual([bob.userId]);

    // Bob's sync sees Alice (his client queries her keys after the initial sync, then follows her).
    const b = await new Syncer(bob).start();
    expect(await dk(bob).sharedUsers()).toEqual([alice.userId]);

    // Bob's new keys reach Alice through the room; Bob's own stream has them too.
    await withKeys(bob);
    await deliverNotices(bob);
    expect(await a.next()).toEqual({ changed: [bob.userId], left: [] });
    expect((await b.next()).changed).toEqual([bob.userId]);

    // Bob leaves: left once, then his changes no longer reach Alice.
    await leave(bob, roomId);
    expect(await a.next()).toEqual({ changed: [], left: [bob.userId] });
    expect(await b.next()).toEqual({ changed: [], left: [alice.userId] });
    const p1 = await dk(alice).deviceListPosition();
    const phone = await login(bob.userId);
    await withKeys(phone);
    await deliverNotices(bob);
    expect(await a.next()).toEqual({ changed: [], left: [] });
    expect(await dk(alice).deviceListPosition()).toBe(p1);

    // Rejoining shares the room again: changed.
    await join(bob, roomId);
    expect(await a.next()).toEqual({ changed: [bob.userId], left: [] });
    // Bob also sees his own change (the phone's keys) made while out of the room.
    expect(await b.next()).toEqual({ changed: [alice.userId, bob.userId].sort(), left: [] });
  });

  it("[cs: device lists] a new device, cross-signing keys and a deleted device of a room-mate each reach the others through the room", async () => {
    const alice = await register();
    const bob = await register();
    const roomId = await createRoom(alice);
    await join(bob, roomId);
    const a = await new Syncer(alice).start();
    const phone = await login(bob.userId);
    await withKeys(phone);
    await deliverNotices(bob);
    expect(await a.next()).toEqual({ changed: [bob.userId], left: [] });
    const cs = await FakeCrossSigning.create(bob.userId);
    expectOk(await call("POST", `${V3}/keys/device_signing/upload`, await cs.uploadBody(), bob.token));
    await deliverNotices(bob);
    expect(await a.next()).toEqual({ changed: [bob.userId], left: [] });
    const c = await call("DELETE", `${V3}/devices/${phone.deviceId}`, {}, bob.token);
    expectOk(await call("DELETE", `${V3}/devices/${phone.deviceId}`, { auth: passwordAuth(bob.userId, c.body.session as string) }, bob.token));
    await deliverNotices(bob);
    expect(await a.next()).toEqual({ changed: [bob.userId], left: [] });
    // Each change was reported once.
    expect(await a.next()).toEqual({ changed: [], left: [] });
  });

  it("[cs: device lists] left only when the last shared room goes; a kick and a ban count as leaving", async () => {
    const alice = await register();
    const bob = await register();
    const r1 = await createRoom(alice);
    const r2 = await createRoom(alice);
    await join(bob, r1);
    await join(bob, r2);
    const a = await new Syncer(alice).start();
    const b = await new Syncer(bob).start();
    expect(await dk(alice).sharedUsers()).toEqual([bob.userId]);

    await leave(bob, r1);
    expect(await a.next()).toEqual({ changed: [], left: [] }); // r2 is still shared
    expect(await b.next()).toEqual({ changed: [], left: [] });
    // Alice kicks Bob from the last shared room: both sides see left.
    expectOk(await call("POST", roomPath(r2, "kick"), { user_id: bob.userId }, alice.token));
    expect(await a.next()).toEqual({ changed: [], left: [bob.userId] });
    expect(await b.next()).toEqual({ changed: [], left: [alice.userId] });

    // Back in r1, then banned from it.
    await join(bob, r1);
    expect((await a.next()).changed).toEqual([bob.userId]);
    expectOk(await call("POST", roomPath(r1, "ban"), { user_id: bob.userId }, alice.token));
    expect(await a.next()).toEqual({ changed: [], left: [bob.userId] });
    expect(await dk(alice).sharedUsers()).toEqual([]);
  });

  it("[cs: device lists] a room left while no sync asked it is dropped by the next sync of any device (an initial one included)", async () => {
    const alice = await register();
    const bob = await register();
    const roomId = await createRoom(bob);
    await join(alice, roomId);
    await new Syncer(alice).start();
    expect(await dk(alice).sharedUsers()).toEqual([bob.userId]);
    const p0 = await dk(alice).deviceListPosition();
    await leave(alice, roomId);
    // A new device's initial sync never asks the room Alice left; her lists drop it anyway.
    const laptop = await login(alice.userId);
    await syncOnce(laptop);
    expect(await dk(alice).sharedUsers()).toEqual([]);
    expect(await changes(alice, p0)).toEqual({ changed: [], left: [bob.userId] });
  });

  it("[cs: device lists] tracking does not depend on the sync filter: member events filtered out of the timeline still count", async () => {
    const alice = await register();
    const bob = await register();
    const roomId = await createRoom(alice);
    const filter = JSON.stringify({ room: { timeline: { not_types: ["m.room.member"] }, state: { not_types: ["m.room.member"] } } });
    const first = expectOk(await call("GET", `${V3}/sync?filter=${encodeURIComponent(filter)}`, undefined, alice.token));
    await join(bob, roomId);
    const next = expectOk(await call("GET", `${V3}/sync?since=${first.next_batch as string}&timeout=100&filter=${encodeURIComponent(filter)}`, undefined, alice.token));
    expect((next.device_lists as DeviceLists | undefined)?.changed).toEqual([bob.userId]);
  });

  it("[cs: device lists] deactivation removes every key of the account and is reported to users who share a room", async () => {
    const alice = await register();
    const bob = await register();
    const roomId = await createRoom(alice);
    await join(bob, roomId);
    const a = await new Syncer(alice).start();
    await withKeys(bob, 5, true);
    const cs = await FakeCrossSigning.create(bob.userId);
    expectOk(await call("POST", `${V3}/keys/device_signing/upload`, await cs.uploadBody(), bob.token));
    const version = expectOk(await call("POST", `${V3}/room_keys/version`, { algorithm: "m.megolm_backup.v1.curve25519-aes-sha2", auth_data: { public_key: "abc" } }, bob.token)).version;
    await deliverNotices(bob);
    expect((await a.next()).changed).toEqual([bob.userId]);
    const query = async () => expectOk(await call("POST", `${V3}/keys/query`, { device_keys: { [bob.userId]: [] } }, alice.token));
    expect(Object.keys((await query()).master_keys as object)).toEqual([bob.userId]);

    const c = await call("POST", `${V3}/account/deactivate`, {}, bob.token);
    expectOk(await call("POST", `${V3}/account/deactivate`, { auth: passwordAuth(bob.userId, c.body.session as string) }, bob.token));
    await deliverNotices(bob);
    expect((await a.next()).changed).toEqual([bob.userId]);
    const q = await query();
    expect(q.device_keys).toEqual({ [bob.userId]: {} });
    expect(q.master_keys ?? {}).toEqual({});
    expect(q.self_signing_keys ?? {}).toEqual({});
    const left = await dk(bob).deviceListPosition(); // the actor is still there, empty
    expect(left).toBeGreaterThan(0);
    const rows = await runInDurableObject(dk(bob), (_: DeviceKeys, state) =>
      ["device_keys", "one_time_keys", "fallback_keys", "cross_signing_keys", "key_signatures", "backup_keys"].map(
        (t) => state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${t}`).one().n,
      ),
    );
    expect(rows).toEqual([0, 0, 0, 0, 0, 0]);
    const live = await runInDurableObject(dk(bob), (_: DeviceKeys, state) => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM backup_versions WHERE deleted = 0").one().n);
    expect(live).toBe(0);
    expect(typeof version).toBe("string");
  });
});

describe("[cs: device lists: cost] messages per join and per key change", () => {
  /** A room of `m` members (the creator and m - 1 joiners), every member's client synced up. */
  async function roomOf(m: number): Promise<{ roomId: string; members: Session[]; syncers: Syncer[] }> {
    const members = [await register()];
    const roomId = await createRoom(members[0]!);
    for (let i = 1; i < m; i++) {
      const u = await register();
      await join(u, roomId);
      members.push(u);
    }
    const syncers = [];
    for (const u of members) syncers.push(await new Syncer(u).start());
    return { roomId, members, syncers };
  }

  it("[sync: cost] a join costs no device-list message between actors, whatever the room's size; each member's next sync records it with one call to its own actor", async () => {
    const perJoin: Array<{ notices: number; calls: number; members: number }> = [];
    for (const m of [2, 6]) {
      const { roomId, members, syncers } = await roomOf(m);
      const joiner = await register();
      const before = { ...DEVICE_LIST_COUNTERS };
      await join(joiner, roomId);
      for (const s of syncers) expect((await s.next()).changed).toEqual([joiner.userId]);
      const j = await new Syncer(joiner).start();
      expect(j.token).toBeDefined();
      expect((await dk(joiner).sharedUsers()).sort()).toEqual(members.map((u) => u.userId).sort());
      perJoin.push({ notices: DEVICE_LIST_COUNTERS.roomNotices - before.roomNotices, calls: DEVICE_LIST_COUNTERS.observationCalls - before.observationCalls, members: m });
    }
    console.log(`device-list messages per join: ${JSON.stringify(perJoin)}`);
    for (const c of perJoin) {
      expect(c.notices).toBe(0);
      // One recording call per member's sync that saw the join, and one for the joiner's first sync.
      expect(c.calls).toBe(c.members + 1);
    }
  }, 60_000);

  it("[sync: cost] in the steady state (messages in a shared room) device lists cost no call: no recording, no DeviceKeys read", async () => {
    const { roomId, members, syncers } = await roomOf(3);
    const before = { ...DEVICE_LIST_COUNTERS, ...SYNC_COUNTERS };
    for (let i = 0; i < 3; i++) {
      expectOk(await call("PUT", roomPath(roomId, `send/m.room.message/steady${i}`), { msgtype: "m.text", body: `m${i}` }, members[i % 3]!.token));
      for (const s of syncers) expect(await s.next()).toEqual({ changed: [], left: [] });
    }
    expect(DEVICE_LIST_COUNTERS.observationCalls - before.observationCalls).toBe(0);
    expect(DEVICE_LIST_COUNTERS.roomNotices - before.roomNotices).toBe(0);
    expect(SYNC_COUNTERS.e2eeCalls - before.e2eeCalls).toBe(0);
    expect(SYNC_COUNTERS.e2eeCached - before.e2eeCached).toBeGreaterThan(0);
  }, 60_000);

  it("[sync: cost] a key change costs one message per room of its owner, not one per member", async () => {
    const big = await roomOf(5);
    const owner = big.members[0]!;
    const other = await createRoom(owner);
    await deliverNotices(...big.members);
    const before = DEVICE_LIST_COUNTERS.roomNotices;
    await withKeys(owner);
    await deliverNotices(owner);
    expect(DEVICE_LIST_COUNTERS.roomNotices - before).toBe(2); // two rooms, five members
    for (const s of big.syncers.slice(1)) expect((await s.next()).changed).toEqual([owner.userId]);
    expect(other).toBeDefined();
  }, 60_000);
});
