// /sync v2 through the edge Worker: initial and incremental syncs, long-poll wake-ups,
// limited timelines with prev_batch, invite and leave sections, filters, tokens.
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { createRoom, enc, newUser, roomPath, sendMessage, V3, type TestUser } from "./room-helpers.ts";

type Sync = JsonObject & {
  next_batch: string;
  rooms?: { join?: Record<string, any>; invite?: Record<string, any>; leave?: Record<string, any>; knock?: Record<string, any> };
  account_data?: { events: Array<{ type: string; content: JsonObject }> };
};

async function sync(u: TestUser, query: Record<string, string | number | boolean> = {}): Promise<Sync> {
  const q = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)] as [string, string]));
  return (await u.ok("GET", `${V3}/sync?${q}`)) as Sync;
}

/** Syncs until nothing more is pending (joining makes device lists change), returns the token. */
async function settle(u: TestUser): Promise<string> {
  let s = await sync(u);
  for (let i = 0; i < 10; i++) {
    const next = await sync(u, { since: s.next_batch, timeout: 150 });
    if (!next.rooms && !next.device_lists && !next.account_data) return next.next_batch;
    s = next;
  }
  throw new Error("sync never settled");
}

const bodies = (room: any) => (room?.timeline?.events ?? []).filter((e: any) => e.type === "m.room.message").map((e: any) => e.content.body);

describe("/sync v2", () => {
  it("[sync: initial] an initial sync shows joined rooms with state, timeline and summary", async () => {
    const alice = await newUser("sa");
    const roomId = await createRoom(alice, { name: "Initial" });
    await sendMessage(alice, roomId, "one");
    const s = await sync(alice);
    expect(typeof s.next_batch).toBe("string");
    const room = s.rooms!.join![roomId];
    expect(bodies(room)).toEqual(["one"]);
    // The whole room fits in the timeline: state (before the timeline) is empty.
    const types = [...(room.state?.events ?? []), ...room.timeline.events].map((e: any) => e.type);
    expect(types).toContain("m.room.create");
    expect(types).toContain("m.room.name");
    expect(room.timeline.limited).toBe(false);
    // With a short timeline, what came before it is state.
    const short = await sync(alice, { filter: JSON.stringify({ room: { timeline: { limit: 1 } } }) });
    const r2 = short.rooms!.join![roomId];
    expect(r2.timeline.limited).toBe(true);
    expect(r2.timeline.events.map((e: any) => e.content.body)).toEqual(["one"]);
    expect(r2.state.events.map((e: any) => e.type)).toEqual(expect.arrayContaining(["m.room.create", "m.room.name", "m.room.member", "m.room.power_levels"]));
    expect(room.summary["m.joined_member_count"]).toBe(1);
    expect(room.timeline.prev_batch).toMatch(/^s\d+$/);
    for (const e of room.timeline.events) expect(e.room_id).toBeUndefined();
  });

  it("[sync: incremental] returns exactly the events after the token, once", async () => {
    const alice = await newUser("sa");
    const roomId = await createRoom(alice);
    const s1 = await sync(alice);
    await sendMessage(alice, roomId, "a");
    await sendMessage(alice, roomId, "b");
    const s2 = await sync(alice, { since: s1.next_batch });
    expect(bodies(s2.rooms!.join![roomId])).toEqual(["a", "b"]);
    expect(s2.rooms!.join![roomId].timeline.limited).toBe(false);
    const s3 = await sync(alice, { since: s2.next_batch });
    expect(s3.rooms).toBeUndefined();
    // The same token again gives the same events (a lost response can be retried).
    const again = await sync(alice, { since: s1.next_batch });
    expect(bodies(again.rooms!.join![roomId])).toEqual(["a", "b"]);
  });

  it("[sync: timeout] a long-poll returns within milliseconds of a message", async () => {
    const alice = await newUser("sa");
    const bob = await newUser("sb");
    const roomId = await createRoom(alice, { preset: "public_chat" });
    await bob.ok("POST", `${V3}/join/${enc(roomId)}`, {});
    const s1 = { next_batch: await settle(bob) };
    const started = Date.now();
    const poll = sync(bob, { since: s1.next_batch, timeout: 20000 });
    await new Promise((r) => setTimeout(r, 200));
    const sent = Date.now();
    await sendMessage(alice, roomId, "wake up");
    const s2 = await poll;
    const woke = Date.now();
    expect(bodies(s2.rooms!.join![roomId])).toEqual(["wake up"]);
    expect(woke - started).toBeLessThan(5000);
    expect(woke - sent).toBeLessThan(1000);
  });

  it("[sync: timeout] with nothing new, the long-poll waits out its timeout and answers empty", async () => {
    const alice = await newUser("sa");
    await createRoom(alice);
    const s1 = await sync(alice);
    const started = Date.now();
    const s2 = await sync(alice, { since: s1.next_batch, timeout: 300 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    expect(s2.rooms).toBeUndefined();
  });

  it("[sync: limited] a gap larger than the timeline limit is limited, prev_batch pages back through /messages", async () => {
    const alice = await newUser("sa");
    const roomId = await createRoom(alice);
    const s1 = await sync(alice);
    for (let i = 0; i < 15; i++) await sendMessage(alice, roomId, `m${i}`);
    const filter = JSON.stringify({ room: { timeline: { limit: 5 } } });
    const s2 = await sync(alice, { since: s1.next_batch, filter });
    const room = s2.rooms!.join![roomId];
    expect(room.timeline.limited).toBe(true);
    expect(bodies(room)).toEqual(["m10", "m11", "m12", "m13", "m14"]);
    const back = await alice.ok("GET", roomPath(roomId, `messages?dir=b&limit=5&from=${room.timeline.prev_batch}`));
    expect((back.chunk as any[]).map((e) => e.content.body)).toEqual(["m9", "m8", "m7", "m6", "m5"]);
  });

  it("[sync: rooms.invite] an invite appears with stripped state incl. the invite event, and wakes a long-poll", async () => {
    const alice = await newUser("sa");
    const bob = await newUser("sb");
    const roomId = await createRoom(alice, { name: "Party" });
    const s1 = await sync(bob);
    const poll = sync(bob, { since: s1.next_batch, timeout: 20000 });
    await new Promise((r) => setTimeout(r, 100));
    const sent = Date.now();
    await alice.ok("POST", roomPath(roomId, "invite"), { user_id: bob.userId });
    const s2 = await poll;
    expect(Date.now() - sent).toBeLessThan(1000);
    const inv = s2.rooms!.invite![roomId].invite_state.events;
    expect(inv.find((e: any) => e.type === "m.room.name").content.name).toBe("Party");
    const me = inv.find((e: any) => e.type === "m.room.member" && e.state_key === bob.userId);
    expect(me.content.membership).toBe("invite");
    expect(me.sender).toBe(alice.userId);
    // Joining moves the room to join, with its full state.
    await bob.ok("POST", `${V3}/join/${enc(roomId)}`, {});
    const s3 = await sync(bob, { since: s2.next_batch, filter: JSON.stringify({ room: { timeline: { limit: 1 } } }) });
    expect(s3.rooms!.invite).toBeUndefined();
    expect(s3.rooms!.join![roomId].timeline.events.map((e: any) => e.state_key)).toEqual([bob.userId]);
    expect(s3.rooms!.join![roomId].state.events.map((e: any) => e.type)).toContain("m.room.create");
  });

  it("[sync: rooms.leave] a left room appears in leave with the timeline up to the leave, then no more", async () => {
    const alice = await newUser("sa");
    const bob = await newUser("sb");
    const roomId = await createRoom(alice, { preset: "public_chat" });
    await bob.ok("POST", `${V3}/join/${enc(roomId)}`, {});
    const s1 = await sync(bob);
    await sendMessage(alice, roomId, "before");
    await bob.ok("POST", roomPath(roomId, "leave"), {});
    await sendMessage(alice, roomId, "after");
    const s2 = await sync(bob, { since: s1.next_batch });
    const left = s2.rooms!.leave![roomId];
    expect(bodies(left)).toEqual(["before"]);
    expect(left.timeline.events.at(-1).content.membership).toBe("leave");
    const s3 = await sync(bob, { since: s2.next_batch });
    expect(s3.rooms).toBeUndefined();
  });

  it("[sync: account_data] account data changes are delivered and wake a long-poll", async () => {
    const alice = await newUser("sa");
    const s1 = await sync(alice);
    const poll = sync(alice, { since: s1.next_batch, timeout: 20000 });
    await new Promise((r) => setTimeout(r, 100));
    await alice.ok("PUT", `${V3}/user/${enc(alice.userId)}/account_data/org.example.test`, { x: 1 });
    const s2 = await poll;
    expect(s2.account_data!.events).toEqual([{ type: "org.example.test", content: { x: 1 } }]);
  });

  it("[sync: since] an unknown token is refused with M_INVALID_PARAM", async () => {
    const alice = await newUser("sa");
    const r = await alice.call("GET", `${V3}/sync?since=garbage`);
    expect(r.status).toBe(400);
    expect(r.body.errcode).toBe("M_INVALID_PARAM");
  });
});
