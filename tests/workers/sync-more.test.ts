// /sync v2 beyond the basics: wake-ups for typing, receipts and to-device; filters
// (inline and by ID); lazy-loading members; full_state; knock; a gappy sync after 100
// missed events; tokens across a restart of the User actor and hub shards that lost
// their memory; the checkpoint bound and rows written per sync.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { syncHubActor, syncHubShards, userActor } from "../../party/stubs.ts";
import type { User } from "../../party/user.ts";
import { SYNC_CHECKPOINTS_PER_DEVICE } from "../../party/sync/store.ts";
import { SYNC_COUNTERS } from "../../party/sync/user-sync.ts";
import { shardOf } from "../../lib/sync/hub.ts";
import { createRoom, enc, newUser, roomPath, sendMessage, V3, type TestUser } from "./room-helpers.ts";
import { withKeys } from "./keys-helpers.ts";

type Sync = JsonObject & { next_batch: string; rooms?: any; to_device?: any; device_lists?: any; account_data?: any };

async function sync(u: TestUser, query: Record<string, string | number | boolean> = {}): Promise<Sync> {
  const q = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)] as [string, string]));
  return (await u.ok("GET", `${V3}/sync?${q}`)) as Sync;
}
const bodies = (room: any) => (room?.timeline?.events ?? []).filter((e: any) => e.type === "m.room.message").map((e: any) => e.content.body);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function pair(preset = "public_chat") {
  const alice = await newUser("ma");
  const bob = await newUser("mb");
  const roomId = await createRoom(alice, { preset });
  await bob.ok("POST", `${V3}/join/${enc(roomId)}`, {});
  return { alice, bob, roomId };
}

/** Syncs until nothing more is pending (e.g. device-list changes from joining), returns the token. */
async function settle(u: TestUser, since?: string): Promise<string> {
  let s = await sync(u, since ? { since } : {});
  for (let i = 0; i < 10; i++) {
    const next = await sync(u, { since: s.next_batch, timeout: 150 });
    if (!next.rooms && !next.device_lists && !next.to_device && !next.account_data) return next.next_batch;
    s = next;
  }
  throw new Error("sync never settled");
}

/** Starts a long-poll from `since`, runs `act` once it is waiting, returns the response and the wake delay. */
async function wakeOn(u: TestUser, since: string, act: () => Promise<unknown>, query: Record<string, string> = {}) {
  const poll = sync(u, { ...query, since, timeout: 20000 });
  await sleep(150);
  const t0 = Date.now();
  await act();
  const res = await poll;
  return { res, ms: Date.now() - t0 };
}

async function sqlOf<T extends Record<string, SqlStorageValue>>(userId: string, q: string): Promise<T[]> {
  return runInDurableObject(userActor(env, userId), (_: User, state) => state.storage.sql.exec<T>(q).toArray());
}

async function abort(stub: DurableObjectStub): Promise<void> {
  await runInDurableObject(stub, (_: unknown, state) => {
    try {
      state.abort("test restart");
    } catch {
      // abort throws inside the aborted object
    }
  }).catch(() => {});
}

describe("/sync v2: wake-ups", () => {
  it("[sync: timeout] typing wakes a long-poll and arrives as m.typing", async () => {
    const { alice, bob, roomId } = await pair();
    const s1 = { next_batch: await settle(bob) };
    const { res, ms } = await wakeOn(bob, s1.next_batch, () => alice.ok("PUT", roomPath(roomId, `typing/${enc(alice.userId)}`), { typing: true, timeout: 5000 }));
    expect(ms).toBeLessThan(1000);
    const eph = res.rooms.join[roomId].ephemeral.events;
    expect(eph).toContainEqual({ type: "m.typing", content: { user_ids: [alice.userId] } });
  });

  it("[sync: timeout] a read receipt wakes a long-poll and arrives as m.receipt", async () => {
    const { alice, bob, roomId } = await pair();
    const sent = await sendMessage(bob, roomId, "read this");
    const eventId = sent.body.event_id as string;
    const s1 = { next_batch: await settle(bob) };
    const before = { ...SYNC_COUNTERS };
    const { res, ms } = await wakeOn(bob, s1.next_batch, () => alice.ok("POST", roomPath(roomId, `receipt/m.read/${enc(eventId)}`), {}));
    expect(ms).toBeLessThan(1000);
    // Receipts travel with the room's publish: the room is not asked.
    expect(SYNC_COUNTERS.fromRoom - before.fromRoom).toBe(0);
    const receipt = res.rooms.join[roomId].ephemeral.events.find((e: any) => e.type === "m.receipt");
    expect(receipt.content[eventId]["m.read"][alice.userId].ts).toEqual(expect.any(Number));
  });

  it("[sync: to_device] a to-device message wakes a long-poll, is delivered once, and acknowledged by the next since", async () => {
    const { alice, bob } = await pair();
    const s1 = { next_batch: await settle(bob) };
    const { res, ms } = await wakeOn(bob, s1.next_batch, () =>
      alice.ok("PUT", `${V3}/sendToDevice/org.example.ping/t${Date.now()}`, { messages: { [bob.userId]: { [bob.deviceId]: { n: 1 } } } }),
    );
    expect(ms).toBeLessThan(1000);
    expect(res.to_device.events).toEqual([{ type: "org.example.ping", sender: alice.userId, content: { n: 1 } }]);
    // Retrying the older token (a lost response) gets it again: not acknowledged yet.
    const retry = await sync(bob, { since: s1.next_batch });
    expect(retry.to_device.events).toHaveLength(1);
    // Sending back the token that carried it acknowledges (deletes) it.
    const s3 = await sync(bob, { since: res.next_batch });
    expect(s3.to_device).toBeUndefined();
    expect((await sync(bob, { since: s1.next_batch })).to_device).toBeUndefined();
  });

  it("[sync: device_lists] sharing a room makes the other user's device list followed (changed)", async () => {
    const alice = await newUser("ma");
    const bob = await newUser("mb");
    const roomId = await createRoom(alice, { preset: "public_chat" });
    const s1 = await sync(alice);
    await bob.ok("POST", `${V3}/join/${enc(roomId)}`, {});
    let changed: string[] = [];
    let since = s1.next_batch;
    for (let i = 0; i < 5 && !changed.includes(bob.userId); i++) {
      const s = await sync(alice, { since, timeout: 2000 });
      changed = s.device_lists?.changed ?? [];
      since = s.next_batch;
    }
    expect(changed).toContain(bob.userId);
  });
});

describe("/sync v2: the hub fast path", () => {
  it("[sync: fast path] a listener a few events behind gets them from the hub, without asking the room", async () => {
    const { alice, bob, roomId } = await pair();
    const since = await settle(bob);
    const before = { ...SYNC_COUNTERS };
    const { res } = await wakeOn(bob, since, async () => {
      await sendMessage(alice, roomId, "via hub");
    });
    const room = res.rooms.join[roomId];
    expect(bodies(room)).toEqual(["via hub"]);
    expect(room.timeline.events[0].unsigned.membership).toBe("join");
    expect(SYNC_COUNTERS.fromHub - before.fromHub).toBeGreaterThanOrEqual(1);
    expect(SYNC_COUNTERS.fromRoom - before.fromRoom).toBe(0);
    // The sender's own device gets its transaction ID through the hub too.
    const aliceSince = await settle(alice);
    const put = await alice.ok("PUT", roomPath(roomId, "send/m.room.message/txn-hub-1"), { msgtype: "m.text", body: "mine" });
    const mine = await sync(alice, { since: aliceSince, timeout: 5000 });
    const echo = mine.rooms.join[roomId].timeline.events.find((e: any) => e.event_id === put.event_id);
    expect(echo.unsigned.transaction_id).toBe("txn-hub-1");
  });

  it("[sync: fast path] a member event goes through the room (summary and membership change)", async () => {
    const { alice, bob, roomId } = await pair();
    const since = await settle(bob);
    const carol = await newUser("mc");
    const before = { ...SYNC_COUNTERS };
    const { res } = await wakeOn(bob, since, () => carol.ok("POST", `${V3}/join/${enc(roomId)}`, {}));
    expect(res.rooms.join[roomId].summary["m.joined_member_count"]).toBe(3);
    expect(SYNC_COUNTERS.fromRoom - before.fromRoom).toBeGreaterThanOrEqual(1);
    void alice;
  });
});

describe("sync hub positions", () => {
  it("[sync: bump stamp] messages move a room's bump stamp (a timestamp, comparable across rooms); state changes do not", async () => {
    const alice = await newUser("ma");
    const a = await createRoom(alice);
    const b = await createRoom(alice);
    const bump = async (roomId: string) => {
      await sleep(50); // publishes are after commit
      const positions = (await syncHubActor(env, shardOf(roomId, syncHubShards(env))).positions([roomId])) as Array<[string, { b: number }]>;
      return positions[0]![1].b;
    };
    await sendMessage(alice, a, "older");
    await sleep(5);
    await sendMessage(alice, b, "newer");
    const [ba, bb] = [await bump(a), await bump(b)];
    expect(bb).toBeGreaterThan(ba);
    await alice.ok("PUT", roomPath(a, "state/m.room.topic/"), { topic: "not a bump" });
    expect(await bump(a)).toBe(ba);
    await sendMessage(alice, a, "now newest");
    expect(await bump(a)).toBeGreaterThan(bb);
  });
});

describe("/sync v2: the quiet path", () => {
  it("[sync: cost] a long-poll continuing from an armed token asks neither the hub nor the DeviceKeys actor", async () => {
    const { bob } = await pair();
    const since = await settle(bob);
    const before = { ...SYNC_COUNTERS };
    const a = await sync(bob, { since, timeout: 100 });
    await sync(bob, { since: a.next_batch, timeout: 100 });
    expect(SYNC_COUNTERS.hubPollsSkipped - before.hubPollsSkipped).toBeGreaterThanOrEqual(2);
    expect(SYNC_COUNTERS.hubPolls - before.hubPolls).toBe(0);
    expect(SYNC_COUNTERS.e2eeCached - before.e2eeCached).toBeGreaterThanOrEqual(2);
    expect(SYNC_COUNTERS.e2eeCalls - before.e2eeCalls).toBe(0);
  });

  it("[sync: device_one_time_keys_count] a claim by another user shows in the owner's next sync (no stale cached count)", async () => {
    const { alice, bob } = await pair();
    await withKeys({ userId: bob.userId, deviceId: bob.deviceId, token: bob.token }, 3);
    const since = await settle(bob);
    const counted = await sync(bob, { since, timeout: 100 });
    expect(counted.device_one_time_keys_count).toEqual({ signed_curve25519: 3 });
    await alice.ok("POST", `${V3}/keys/claim`, { one_time_keys: { [bob.userId]: { [bob.deviceId]: "signed_curve25519" } } });
    const after = await sync(bob, { since: counted.next_batch, timeout: 100 });
    expect(after.device_one_time_keys_count).toEqual({ signed_curve25519: 2 });
  });
});

describe("/sync v2: filters and lazy loading", () => {
  it("[filter: timeline types] not_types and types select timeline events; a stored filter by ID works the same", async () => {
    const alice = await newUser("ma");
    const roomId = await createRoom(alice);
    const s1 = await sync(alice);
    await sendMessage(alice, roomId, "text");
    await alice.ok("PUT", roomPath(roomId, "send/org.example.custom/c1"), { x: 1 });
    const filter = { room: { timeline: { not_types: ["m.room.message"] } } };
    const inline = await sync(alice, { since: s1.next_batch, filter: JSON.stringify(filter) });
    expect(inline.rooms.join[roomId].timeline.events.map((e: any) => e.type)).toEqual(["org.example.custom"]);
    const { filter_id } = await alice.ok("POST", `${V3}/user/${enc(alice.userId)}/filter`, { room: { timeline: { types: ["m.room.*"] } } });
    const byId = await sync(alice, { since: s1.next_batch, filter: filter_id as string });
    expect(byId.rooms.join[roomId].timeline.events.map((e: any) => e.type)).toEqual(["m.room.message"]);
    const r = await alice.call("GET", `${V3}/sync?filter=99999999`);
    expect(r.body.errcode).toBe("M_INVALID_PARAM");
  });

  it("[filter: rooms] room.rooms and not_rooms choose which rooms are synced", async () => {
    const alice = await newUser("ma");
    const a = await createRoom(alice);
    const b = await createRoom(alice);
    const only = await sync(alice, { filter: JSON.stringify({ room: { rooms: [a] } }) });
    expect(Object.keys(only.rooms.join)).toEqual([a]);
    const not = await sync(alice, { filter: JSON.stringify({ room: { not_rooms: [a] } }) });
    expect(Object.keys(not.rooms.join)).toEqual([b]);
  });

  it("[filter: account_data] account_data types filter global account data", async () => {
    const alice = await newUser("ma");
    await alice.ok("PUT", `${V3}/user/${enc(alice.userId)}/account_data/org.example.a`, { a: 1 });
    await alice.ok("PUT", `${V3}/user/${enc(alice.userId)}/account_data/org.example.b`, { b: 1 });
    const s = await sync(alice, { filter: JSON.stringify({ account_data: { types: ["org.example.b"] } }) });
    expect(s.account_data.events.map((e: any) => e.type)).toEqual(["org.example.b"]);
  });

  it("[lazy-loading] members come with their senders' events, once per device unless include_redundant_members", async () => {
    const { alice, bob, roomId } = await pair();
    const carol = await newUser("mc");
    await carol.ok("POST", `${V3}/join/${enc(roomId)}`, {});
    for (let i = 0; i < 5; i++) await sendMessage(alice, roomId, `filler ${i}`);
    await sendMessage(bob, roomId, "bob speaks");
    const lazy = { room: { state: { lazy_load_members: true }, timeline: { limit: 2 } } };
    const s1 = await sync(alice, { filter: JSON.stringify(lazy) });
    const members1 = s1.rooms.join[roomId].state.events.filter((e: any) => e.type === "m.room.member").map((e: any) => e.state_key);
    // bob (a sender in the timeline), alice (herself) and, the room being unnamed, the
    // heroes (bob, carol: the spec requires their member events with lazy loading).
    expect(members1.sort()).toEqual([alice.userId, bob.userId, carol.userId].sort());
    expect(s1.rooms.join[roomId].summary["m.joined_member_count"]).toBe(3);
    await sendMessage(bob, roomId, "bob again");
    const s2 = await sync(alice, { since: s1.next_batch, filter: JSON.stringify(lazy) });
    expect(s2.rooms.join[roomId].state).toBeUndefined(); // bob's member event was sent already
    const redundant = { room: { state: { lazy_load_members: true, include_redundant_members: true }, timeline: { limit: 2 } } };
    const s3 = await sync(alice, { since: s1.next_batch, filter: JSON.stringify(redundant) });
    expect(s3.rooms.join[roomId].state.events.map((e: any) => e.state_key)).toEqual([bob.userId]);
  });
});

describe("/sync v2: sections and gaps", () => {
  it("[sync: limited] after 100 missed events the timeline is limited to the filter's limit and prev_batch joins up", async () => {
    const alice = await newUser("ma");
    const roomId = await createRoom(alice);
    const s1 = await sync(alice);
    for (let i = 0; i < 100; i++) await sendMessage(alice, roomId, `n${i}`);
    await alice.ok("PUT", roomPath(roomId, "state/m.room.topic/"), { topic: "changed in the gap" });
    for (let i = 100; i < 110; i++) await sendMessage(alice, roomId, `n${i}`);
    const s2 = await sync(alice, { since: s1.next_batch });
    const room = s2.rooms.join[roomId];
    expect(room.timeline.limited).toBe(true);
    expect(bodies(room)).toEqual(Array.from({ length: 10 }, (_, i) => `n${100 + i}`));
    // The state change in the gap is in state.
    expect(room.state.events.find((e: any) => e.type === "m.room.topic").content.topic).toBe("changed in the gap");
    const page = await alice.ok("GET", roomPath(roomId, `messages?dir=b&limit=3&from=${room.timeline.prev_batch}`));
    expect((page.chunk as any[]).map((e) => e.type)).toEqual(["m.room.topic", "m.room.message", "m.room.message"]);
   }, 30_000);

  it("[sync: full_state] returns at once with the whole state even with a token", async () => {
    const alice = await newUser("ma");
    const roomId = await createRoom(alice, { name: "Full" });
    const s1 = await sync(alice);
    const t0 = Date.now();
    const s2 = await sync(alice, { since: s1.next_batch, full_state: true, timeout: 10000, filter: JSON.stringify({ room: { timeline: { limit: 1 } } }) });
    expect(Date.now() - t0).toBeLessThan(2000);
    const types = s2.rooms.join[roomId].state.events.map((e: any) => e.type);
    expect(types).toEqual(expect.arrayContaining(["m.room.create", "m.room.name", "m.room.power_levels", "m.room.member"]));
  });

  it("[sync: rooms.knock] a knock appears in knock with stripped state", async () => {
    const alice = await newUser("ma");
    const bob = await newUser("mb");
    const roomId = await createRoom(alice, { name: "Knock knock", initial_state: [{ type: "m.room.join_rules", state_key: "", content: { join_rule: "knock" } }] });
    const s1 = await sync(bob);
    await bob.ok("POST", `${V3}/knock/${enc(roomId)}`, { reason: "let me in" });
    const s2 = await sync(bob, { since: s1.next_batch });
    const events = s2.rooms.knock[roomId].knock_state.events;
    expect(events.find((e: any) => e.type === "m.room.name").content.name).toBe("Knock knock");
    expect(events.find((e: any) => e.type === "m.room.member" && e.state_key === bob.userId).content.membership).toBe("knock");
  });

  it("[sync: rooms.leave] include_leave shows left rooms in an initial sync; without it they are absent", async () => {
    const { alice, bob, roomId } = await pair();
    await bob.ok("POST", roomPath(roomId, "leave"), {});
    expect((await sync(bob)).rooms?.leave).toBeUndefined();
    const s = await sync(bob, { filter: JSON.stringify({ room: { include_leave: true } }) });
    expect(s.rooms.leave[roomId].timeline.events.at(-1).content.membership).toBe("leave");
    void alice;
  });
});

describe("/sync v2: tokens", () => {
  it("[sync: tokens] a token survives a restart of the User actor and of every hub shard", async () => {
    const { alice, bob, roomId } = await pair();
    const s1 = await sync(bob);
    await sendMessage(alice, roomId, "x1");
    const s2 = await sync(bob, { since: s1.next_batch });
    expect(bodies(s2.rooms.join[roomId])).toEqual(["x1"]);
    await abort(userActor(env, bob.userId));
    for (let i = 0; i < syncHubShards(env); i++) await abort(syncHubActor(env, i));
    await sendMessage(alice, roomId, "x2");
    const s3 = await sync(bob, { since: s2.next_batch });
    expect(bodies(s3.rooms.join[roomId])).toEqual(["x2"]);
    // And the long-poll still wakes (the shard relearned the room).
    const { res, ms } = await wakeOn(bob, s3.next_batch, () => sendMessage(alice, roomId, "x3"));
    expect(bodies(res.rooms.join[roomId])).toEqual(["x3"]);
    expect(ms).toBeLessThan(1000);
  });

  it("[sync: tokens] a sync in a busy room writes no row; checkpoints stay within their bound", async () => {
    const alice = await newUser("ma");
    const rooms: string[] = [];
    for (let i = 0; i < 13; i++) rooms.push(await createRoom(alice)); // one more than fits inline
    let s = await sync(alice);
    const count = async () => (await sqlOf<{ n: number }>(alice.userId, "SELECT COUNT(*) AS n FROM sync_checkpoints"))[0]!.n;
    const before = await count();
    // Long-polls: news reaches a sync through the room's after-commit publish to its hub
    // shard, which may land just after the send's answer (a timeout-0 sync could be early).
    for (let i = 0; i < 5; i++) {
      await sendMessage(alice, rooms[0]!, `busy ${i}`);
      s = await sync(alice, { since: s.next_batch, timeout: 10_000 });
      expect(bodies(s.rooms.join[rooms[0]!])).toEqual([`busy ${i}`]);
    }
    expect(await count()).toBe(before);
    // Every room moving at once overflows the inline part: new checkpoints, at most the bound kept.
    for (let round = 0; round < SYNC_CHECKPOINTS_PER_DEVICE + 1; round++) {
      for (const r of rooms) await sendMessage(alice, r, `round ${round}`);
      const seen = new Set<string>();
      for (let tries = 0; seen.size < rooms.length && tries < 5; tries++) {
        s = await sync(alice, { since: s.next_batch, timeout: 10_000 });
        for (const r of Object.keys(s.rooms?.join ?? {})) seen.add(r);
      }
      expect(seen.size).toBe(rooms.length);
    }
    expect(await count()).toBe(SYNC_CHECKPOINTS_PER_DEVICE);
  }, 60_000);

  it("[sync: tokens] a token is the device's own: another device's token is treated as expired (full resync)", async () => {
    const alice = await newUser("ma");
    const roomId = await createRoom(alice);
    const s1 = await sync(alice);
    const login = await alice.ok("POST", `${V3}/login`, { type: "m.login.password", identifier: { type: "m.id.user", user: alice.userId }, password: "correct horse battery" });
    const other: TestUser = { ...alice, token: login.access_token as string };
    const r = await (await import("./room-helpers.ts")).call("GET", `${V3}/sync?since=${enc(s1.next_batch)}`, undefined, other.token);
    expect(r.status).toBe(200);
    expect(Object.keys((r.body as any).rooms.join)).toEqual([roomId]);
  });
});
