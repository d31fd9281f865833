// The hub fast path of simplified sliding sync (MSC4186): new messages in a room already
// sent to a connection come from the hub shard's buffer, with the same room result the
// room would compute, and without a `Room.slidingRoom` call per listener.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { roomResultJson, type SlidingRoomAnswer } from "../../lib/sync/sliding/room-result.ts";
import { roomActor, userActor } from "../../party/stubs.ts";
import { SLIDING_COUNTERS } from "../../party/sync/sliding/counters.ts";
import { createRoom, enc, newUser, roomEvents, roomPath, sendMessage, V3, type TestUser } from "./room-helpers.ts";

const SSS = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync";

type Room = JsonObject & { timeline?: JsonObject[] };
type Res = { pos: string; rooms: Record<string, Room>; extensions: JsonObject & { receipts?: { rooms: Record<string, JsonObject> } } };

async function sss(u: TestUser, body: JsonObject, q: { pos?: string; timeout?: number } = {}): Promise<Res> {
  const qs = new URLSearchParams();
  if (q.pos !== undefined) qs.set("pos", q.pos);
  if (q.timeout !== undefined) qs.set("timeout", String(q.timeout));
  return (await u.ok("POST", `${SSS}?${qs}`, body)) as unknown as Res;
}

const bodies = (room: Room | undefined) => (room?.timeline ?? []).map((e) => (e.content as JsonObject).body);

/** Long-polls until the room's timeline shows `body`; returns that response. */
async function until(u: TestUser, req: JsonObject, pos: string, roomId: string, body: string): Promise<Res> {
  let r: Res | undefined;
  for (let i = 0; i < 8; i++) {
    r = await sss(u, req, { pos: r?.pos ?? pos, timeout: 5000 });
    if (bodies(r.rooms[roomId]).includes(body)) return r;
  }
  throw new Error(`${body} never arrived`);
}

/** A room result without what differs by the clock (each event's age). */
function withoutAge(room: JsonObject): JsonObject {
  const copy = JSON.parse(JSON.stringify(room)) as Room;
  for (const e of copy.timeline ?? []) delete (e.unsigned as JsonObject | undefined)?.age;
  return copy;
}

/** The room path's result for the same situation: `Room.slidingRoom` with the request the User actor makes. */
async function roomPathResult(u: TestUser, roomId: string, since: number, timelineLimit: number, liveAfterTs: number): Promise<JsonObject> {
  const answer = JSON.parse(
    await roomActor(env, roomId).slidingRoom({
      userId: u.userId,
      deviceId: u.deviceId,
      room: { since, timelineLimit, requiredState: { include: [], exclude: [], lazyMembers: false }, lazySent: [], liveAfterTs },
    }),
  ) as SlidingRoomAnswer;
  return roomResultJson({ answer, initial: false, isDm: false, dmChanged: false, lists: ["all"] }) as JsonObject;
}

/** Alice's public room with Bob listening on a sliding connection that has had one incremental response ("warm"). */
async function warmListener(prefix: string) {
  const [alice, bob] = await Promise.all([newUser(prefix), newUser(prefix)]);
  const roomId = await createRoom(alice, { preset: "public_chat" });
  await bob.ok("POST", `${V3}/join/${enc(roomId)}`, {});
  const body = { lists: { all: { ranges: [[0, 9]], timeline_limit: 5, required_state: [] } } };
  const first = (await sss(bob, body)).pos;
  await sendMessage(alice, roomId, "warm");
  const pos = (await until(bob, body, first, roomId, "warm")).pos;
  return { alice, bob, roomId, req: body, pos };
}

const lastStream = async (roomId: string) => (await roomEvents(roomId)).at(-1)!.stream;

describe("sliding sync hub fast path", () => {
  it("[sliding: fast path] new messages come from the hub with the room path's result (plain and limited timelines, num_live, prev_batch, bump_stamp)", async () => {
    const alice = await newUser("sf");
    const bob = await newUser("sf");
    const roomId = await createRoom(alice, { preset: "public_chat", name: "fast" });
    await bob.ok("POST", `${V3}/join/${enc(roomId)}`, {});
    const req = { lists: { all: { ranges: [[0, 9]], timeline_limit: 2, required_state: [] } } };
    let r = await sss(alice, req);
    expect(r.rooms[roomId]?.initial).toBe(true);

    // One message: within the limit.
    let since = await lastStream(roomId);
    let liveAfter = Date.now() - 1;
    let before = { ...SLIDING_COUNTERS };
    await sendMessage(bob, roomId, "one");
    r = await until(alice, req, r.pos, roomId, "one");
    expect(SLIDING_COUNTERS.fromHub - before.fromHub).toBeGreaterThanOrEqual(1);
    expect(SLIDING_COUNTERS.roomCalls - before.roomCalls).toBe(0);
    let fast = r.rooms[roomId]!;
    expect(bodies(fast)).toEqual(["one"]);
    expect(fast.num_live).toBe(1);
    let { notification_count: _n, highlight_count: _h, ...rest } = fast;
    expect(withoutAge(rest)).toEqual(withoutAge(await roomPathResult(alice, roomId, since, 2, liveAfter)));

    // Three messages with a timeline limit of 2: limited, with prev_batch.
    since = await lastStream(roomId);
    liveAfter = Date.now() - 1;
    before = { ...SLIDING_COUNTERS };
    for (const b of ["two", "three"]) expect((await sendMessage(bob, roomId, b)).status).toBe(200);
    await sendMessage(bob, roomId, "four");
    // All three must be in the same response for the comparison: wait for the last, from the same pos.
    let got: Res | undefined;
    for (let i = 0; i < 8 && !bodies(got?.rooms[roomId]).includes("four"); i++) got = await sss(alice, req, { pos: r.pos, timeout: 2000 });
    fast = got!.rooms[roomId]!;
    expect(bodies(fast)).toEqual(["three", "four"]);
    expect(fast.limited).toBe(true);
    expect(SLIDING_COUNTERS.roomCalls - before.roomCalls).toBe(0);
    ({ notification_count: _n, highlight_count: _h, ...rest } = fast);
    expect(withoutAge(rest)).toEqual(withoutAge(await roomPathResult(alice, roomId, since, 2, liveAfter)));
  }, 60_000);

  it("[sliding: fast path] the sender's own message carries its transaction_id; a state event goes to the room", async () => {
    const alice = await newUser("sf");
    const roomId = await createRoom(alice, { preset: "public_chat" });
    const req = { lists: { all: { ranges: [[0, 9]], timeline_limit: 5, required_state: [["m.room.topic", ""]] } } };
    let r = await sss(alice, req);
    const before = { ...SLIDING_COUNTERS };
    const txnId = `own${Date.now()}`;
    expect((await alice.call("PUT", roomPath(roomId, `send/m.room.message/${txnId}`), { msgtype: "m.text", body: "mine" })).status).toBe(200);
    r = await until(alice, req, r.pos, roomId, "mine");
    const own = r.rooms[roomId]!.timeline!.find((e) => (e.content as JsonObject).body === "mine")!;
    expect((own.unsigned as JsonObject).transaction_id).toBe(txnId);
    expect(SLIDING_COUNTERS.roomCalls - before.roomCalls).toBe(0);

    const mid = { ...SLIDING_COUNTERS };
    await alice.ok("PUT", roomPath(roomId, "state/m.room.topic/"), { topic: "changed" });
    let seen: Room | undefined;
    for (let i = 0; i < 8 && !seen?.required_state; i++) {
      r = await sss(alice, req, { pos: r.pos, timeout: 5000 });
      seen = r.rooms[roomId];
    }
    expect((seen!.required_state as JsonObject[]).map((e) => (e.content as JsonObject).topic)).toEqual(["changed"]);
    expect(SLIDING_COUNTERS.roomCalls - mid.roomCalls).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it("[sliding: cost] a message in a busy room costs no slidingRoom call per listener; the sender's own message and others' receipts cost no count call", async () => {
    const alice = await newUser("sf");
    const listeners = await Promise.all(Array.from({ length: 4 }, () => newUser("sf")));
    const roomId = await createRoom(alice, { preset: "public_chat" });
    for (const l of listeners) await l.ok("POST", `${V3}/join/${enc(roomId)}`, {});
    const req = { lists: { all: { ranges: [[0, 9]], timeline_limit: 5, required_state: [] } }, extensions: { receipts: { enabled: true } } };
    const pos = new Map<TestUser, string>();
    for (const u of [alice, ...listeners]) pos.set(u, (await sss(u, req)).pos);
    // Settle: a first incremental round after the joins (member events go to the room path).
    await sendMessage(alice, roomId, "warm");
    for (const u of [alice, ...listeners]) pos.set(u, (await until(u, req, pos.get(u)!, roomId, "warm")).pos);

    let before = { ...SLIDING_COUNTERS };
    const sent = await sendMessage(alice, roomId, "busy");
    for (const u of [alice, ...listeners]) {
      const r = await until(u, req, pos.get(u)!, roomId, "busy");
      pos.set(u, r.pos);
      // A notifying message from someone else: the count is recounted (one call); the sender's stays.
      if (u !== alice) expect(r.rooms[roomId]!.notification_count).toBeGreaterThanOrEqual(1);
    }
    expect(SLIDING_COUNTERS.roomCalls - before.roomCalls).toBe(0);
    expect(SLIDING_COUNTERS.fromHub - before.fromHub).toBeGreaterThanOrEqual(5);
    // Counts: one unreadCounts per listener, none for the sender (own messages never count).
    expect(SLIDING_COUNTERS.countCalls - before.countCalls).toBeLessThanOrEqual(listeners.length);
    expect(SLIDING_COUNTERS.countsKept - before.countsKept).toBeGreaterThanOrEqual(1);

    // A listener's read receipt: the others get it from the hub, with no room call and no recount.
    before = { ...SLIDING_COUNTERS };
    const reader = listeners[0]!;
    await reader.ok("POST", roomPath(roomId, `receipt/m.read/${enc(sent.body.event_id as string)}`), {});
    for (const u of [alice, ...listeners.slice(1)]) {
      let got: JsonObject | undefined;
      for (let i = 0; i < 8 && !got; i++) {
        const r = await sss(u, req, { pos: pos.get(u)!, timeout: 5000 });
        pos.set(u, r.pos);
        got = r.extensions.receipts?.rooms[roomId];
      }
      expect(got).toEqual({ type: "m.receipt", content: { [sent.body.event_id as string]: { "m.read": { [reader.userId]: { ts: expect.any(Number) } } } } });
    }
    expect(SLIDING_COUNTERS.roomCalls - before.roomCalls).toBe(0);
    expect(SLIDING_COUNTERS.countCalls - before.countCalls).toBe(0);
  }, 90_000);

  it("[sliding: counts on] new messages are counted by the User actor from the hub's news, as the room counts them; a state change asks the room", async () => {
    // The first counts after the join come from the room (with its push context).
    const warm = await warmListener("sc");
    const { alice, bob, roomId, req } = warm;
    let pos = warm.pos;

    const before = { ...SLIDING_COUNTERS };
    await sendMessage(alice, roomId, "plain");
    let r = await until(bob, req, pos, roomId, "plain");
    pos = r.pos;
    expect([r.rooms[roomId]!.notification_count, r.rooms[roomId]!.highlight_count]).toEqual([2, 0]);
    await alice.ok("PUT", roomPath(roomId, `send/m.room.message/m${Date.now()}`), { msgtype: "m.text", body: "you there?", "m.mentions": { user_ids: [bob.userId] } });
    r = await until(bob, req, pos, roomId, "you there?");
    pos = r.pos;
    expect([r.rooms[roomId]!.notification_count, r.rooms[roomId]!.highlight_count]).toEqual([3, 1]);
    expect(SLIDING_COUNTERS.countCalls - before.countCalls).toBe(0);
    expect(SLIDING_COUNTERS.roomCalls - before.roomCalls).toBe(0);
    expect(SLIDING_COUNTERS.countedOn - before.countedOn).toBeGreaterThanOrEqual(2);
    // The room's own count (through /sync v2) agrees.
    const v2 = (await bob.ok("GET", `${V3}/sync`)) as { rooms: { join: Record<string, JsonObject> } };
    expect(v2.rooms.join[roomId]!.unread_notifications).toEqual({ notification_count: 3, highlight_count: 1 });

    // A state event (what the push context is read from): the room answers again.
    const mid = { ...SLIDING_COUNTERS };
    await alice.ok("PUT", roomPath(roomId, "state/m.room.topic/"), { topic: "t" });
    await sendMessage(alice, roomId, "after");
    r = await until(bob, req, pos, roomId, "after");
    expect([r.rooms[roomId]!.notification_count, r.rooms[roomId]!.highlight_count]).toEqual([4, 1]);
    expect(SLIDING_COUNTERS.roomCalls - mid.roomCalls).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it("[sliding: tokens] a response carrying only new messages writes no row: its pos carries the change, and continuing from it loses and repeats nothing", async () => {
    const warm = await warmListener("si");
    const { alice, bob, roomId, req } = warm;
    let pos = warm.pos;
    const rows = () =>
      runInDurableObject(userActor(env, bob.userId), (_u, state) => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM sliding_states").one().n);
    const before = await rows();
    const seen: string[] = [];
    for (const body of ["one", "two", "three"]) {
      await sendMessage(alice, roomId, body);
      const r = await until(bob, req, pos, roomId, body);
      expect(r.pos).toContain("~");
      seen.push(...(bodies(r.rooms[roomId]) as string[]));
      pos = r.pos;
    }
    expect(await rows()).toBe(before);
    expect(seen).toEqual(["one", "two", "three"]);
    // The same inline pos again (a retry) answers from the same point.
    await sendMessage(alice, roomId, "four");
    const a = await until(bob, req, pos, roomId, "four");
    const b = await until(bob, req, pos, roomId, "four");
    expect(bodies(a.rooms[roomId])).toEqual(["four"]);
    expect(bodies(b.rooms[roomId])).toEqual(["four"]);
    // A room new to the connection is stored as a new version (and the pos starts clean).
    const second = await createRoom(alice, { preset: "public_chat" });
    await bob.ok("POST", `${V3}/join/${enc(second)}`, {});
    let r: Res | undefined;
    for (let i = 0; i < 8 && !r?.rooms[second]; i++) r = await sss(bob, req, { pos: r?.pos ?? a.pos, timeout: 5000 });
    expect(r!.rooms[second]).toBeDefined();
    expect(r!.pos).not.toContain("~");
    expect(await rows()).toBeGreaterThan(0);
  }, 60_000);
});
