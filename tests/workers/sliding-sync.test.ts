// Simplified sliding sync (MSC4186) through the edge Worker: lists over rooms sorted by
// recency, ranges, required_state and timeline limits, room subscriptions, filters,
// extensions delivered once, pos handling, long-poll, bad input.
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { withKeys } from "./keys-helpers.ts";
import { createRoom, enc, expectError, newUser, roomPath, sendMessage, V3, type TestUser } from "./room-helpers.ts";

const SSS = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync";

type Room = JsonObject & { timeline?: any[]; required_state?: any[]; initial?: boolean };
type Res = { pos: string; txn_id?: string; lists: Record<string, { count: number }>; rooms: Record<string, Room>; extensions: any };

async function sss(u: TestUser, body: JsonObject, q: { pos?: string; timeout?: number } = {}): Promise<Res> {
  const qs = new URLSearchParams();
  if (q.pos !== undefined) qs.set("pos", q.pos);
  if (q.timeout !== undefined) qs.set("timeout", String(q.timeout));
  return (await u.ok("POST", `${SSS}?${qs}`, body)) as unknown as Res;
}

const bodies = (room: Room | undefined) => (room?.timeline ?? []).filter((e) => e.type === "m.room.message").map((e) => e.content.body);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("simplified sliding sync", () => {
  it("[sliding: lists] 30 rooms, range [0,9]: the 10 most recent; a message in an older room moves it into the window; limits honoured", async () => {
    const alice = await newUser("ss");
    const rooms: string[] = [];
    for (let i = 0; i < 30; i++) {
      const id = await createRoom(alice, { name: `room ${i}` });
      await sendMessage(alice, id, `m${i}a`);
      await sendMessage(alice, id, `m${i}b`);
      rooms.push(id);
      await sleep(2); // distinct bump stamps (origin_server_ts)
    }
    const list = { ranges: [[0, 9]], timeline_limit: 1, required_state: [["m.room.name", ""], ["m.room.create", ""]] };
    const r1 = await sss(alice, { conn_id: "main", lists: { all: list } });
    expect(r1.lists.all!.count).toBe(30);
    const newest = rooms.slice(20).reverse();
    expect(Object.keys(r1.rooms).sort()).toEqual([...newest].sort());
    for (let i = 20; i < 30; i++) {
      const r = r1.rooms[rooms[i]!]!;
      expect(r.initial).toBe(true);
      expect(r.name).toBe(`room ${i}`);
      expect(bodies(r)).toEqual([`m${i}b`]); // timeline_limit 1
      expect(r.limited).toBe(true);
      expect(r.prev_batch).toMatch(/^s\d+$/);
      expect(r.required_state!.map((e) => e.type).sort()).toEqual(["m.room.create", "m.room.name"]);
      expect(r.joined_count).toBe(1);
      expect(r.bump_stamp).toBeGreaterThan(0);
      expect(r.lists).toEqual(["all"]);
    }
    // Recency order: bump stamps descend along the window.
    const stamps = newest.map((id) => r1.rooms[id]!.bump_stamp as number);
    expect([...stamps].sort((a, b) => b - a)).toEqual(stamps);

    // Nothing new: an empty answer (timeout 0 answers at once).
    const r2 = await sss(alice, { conn_id: "main", lists: { all: list } }, { pos: r1.pos, timeout: 0 });
    expect(r2.rooms).toEqual({});
    expect(r2.lists.all!.count).toBe(30);

    // A message in room 3 moves it to the top of the list: it is sent (new to the connection, so whole).
    await sleep(2);
    await sendMessage(alice, rooms[3]!, "back on top");
    // (A long-poll: the room tells the hub shards after its commit, so the news may be a moment behind the send.)
    const r3 = await sss(alice, { conn_id: "main", lists: { all: list } }, { pos: r2.pos, timeout: 10_000 });
    expect(Object.keys(r3.rooms)).toEqual([rooms[3]]);
    const moved = r3.rooms[rooms[3]!]!;
    expect(moved.initial).toBe(true);
    expect(bodies(moved)).toEqual(["back on top"]);
    expect(moved.required_state!.map((e) => e.type).sort()).toEqual(["m.room.create", "m.room.name"]);
    // The room pushed out of the window (room 20) is not sent; the others did not change.
    expect(r3.rooms[rooms[20]!]).toBeUndefined();

    // A new message in a room already sent: only the new event, no state, not initial.
    await sendMessage(alice, rooms[29]!, "again");
    const r4 = await sss(alice, { conn_id: "main", lists: { all: list } }, { pos: r3.pos, timeout: 10_000 });
    const again = r4.rooms[rooms[29]!]!;
    expect(again.initial).toBeUndefined();
    expect(bodies(again)).toEqual(["again"]);
    expect(again.required_state).toBeUndefined();
    expect(again.limited).toBeUndefined();
    expect(again.num_live).toBe(1);
  }, 60_000);

  it("[sliding: required_state] wildcards, $ME and $LAZY (members of timeline senders only)", async () => {
    const alice = await newUser("ss");
    const bob = await newUser("ss");
    const carol = await newUser("ss");
    const roomId = await createRoom(alice, { preset: "public_chat", name: "lazy" });
    await bob.ok("POST", `${V3}/join/${enc(roomId)}`, {});
    await carol.ok("POST", `${V3}/join/${enc(roomId)}`, {});
    await sendMessage(bob, roomId, "from bob");
    const lazy = await sss(alice, { lists: { l: { ranges: [[0, 0]], timeline_limit: 1, required_state: [["m.room.member", "$LAZY"], ["m.room.member", "$ME"]] } } });
    const members = lazy.rooms[roomId]!.required_state!.map((e) => e.state_key).sort();
    expect(members).toEqual([alice.userId, bob.userId].sort()); // not carol: she sent nothing in the timeline
    const all = await sss(alice, { lists: { l: { ranges: [[0, 0]], timeline_limit: 0, required_state: [["*", "*"]] } } });
    const types = new Set(all.rooms[roomId]!.required_state!.map((e) => e.type));
    for (const t of ["m.room.create", "m.room.power_levels", "m.room.join_rules", "m.room.name", "m.room.member"]) expect(types.has(t)).toBe(true);
    expect(all.rooms[roomId]!.required_state!.filter((e) => e.type === "m.room.member")).toHaveLength(3);
    expect(all.rooms[roomId]!.timeline).toEqual([]);
    const byType = await sss(alice, { lists: { l: { ranges: [[0, 0]], timeline_limit: 0, required_state: [["*", ""]] } } });
    expect(byType.rooms[roomId]!.required_state!.some((e) => e.type === "m.room.member")).toBe(false);
  });

  it("[sliding: filters] is_dm (m.direct), is_invite with invite_state, is_encrypted, room types", async () => {
    const alice = await newUser("ss");
    const bob = await newUser("ss");
    const plain = await createRoom(alice, {});
    const dm = await createRoom(alice, { is_direct: true, invite: [bob.userId] });
    const enc1 = await createRoom(alice, { initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }] });
    const space = await createRoom(alice, { creation_content: { type: "m.space" } });
    await alice.ok("PUT", `${V3}/user/${enc(alice.userId)}/account_data/m.direct`, { [bob.userId]: [dm] });
    const invited = await createRoom(bob, { name: "for alice" });
    await bob.ok("POST", roomPath(invited, "invite"), { user_id: alice.userId });
    const cfg = (filters: JsonObject) => ({ ranges: [[0, 20]], timeline_limit: 0, required_state: [], filters });
    const r = await sss(alice, {
      lists: {
        dms: cfg({ is_dm: true }),
        notDms: cfg({ is_dm: false, is_invite: false }),
        invites: cfg({ is_invite: true }),
        encrypted: cfg({ is_encrypted: true }),
        spaces: cfg({ room_types: ["m.space"] }),
        rooms: cfg({ not_room_types: ["m.space"], is_invite: false }),
      },
    });
    expect(r.lists.dms!.count).toBe(1);
    expect(r.lists.notDms!.count).toBe(3);
    expect(r.lists.invites!.count).toBe(1);
    expect(r.lists.encrypted!.count).toBe(1);
    expect(r.lists.spaces!.count).toBe(1);
    expect(r.lists.rooms!.count).toBe(3);
    expect(r.rooms[dm]!.is_dm).toBe(true);
    expect(r.rooms[enc1]!.lists).toEqual(expect.arrayContaining(["encrypted", "notDms", "rooms"]));
    expect(r.rooms[space]!.lists).toEqual(expect.arrayContaining(["spaces"]));
    expect(r.rooms[plain]!.is_dm).toBeUndefined();
    const inv = r.rooms[invited]!;
    expect(inv.membership).toBe("invite");
    expect((inv.invite_state as any[]).map((e) => e.type)).toEqual(expect.arrayContaining(["m.room.create", "m.room.name", "m.room.member"]));
    expect(inv.timeline).toBeUndefined();
  });

  it("[sliding: filters] spaces: the rooms a joined space names as children (m.space.child with via), not subspaces' children, not for a space the user is not in", async () => {
    const alice = await newUser("sp");
    const bob = await newUser("sp");
    const space = await createRoom(alice, { preset: "public_chat", creation_content: { type: "m.space" } });
    const sub = await createRoom(alice, { preset: "public_chat", creation_content: { type: "m.space" } });
    const [a, b, c, deep] = [await createRoom(alice, { preset: "public_chat" }), await createRoom(alice, { preset: "public_chat" }), await createRoom(alice, { preset: "public_chat" }), await createRoom(alice, { preset: "public_chat" })];
    const child = (parent: string, id: string, content: JsonObject = { via: ["localhost"] }) => alice.ok("PUT", roomPath(parent, `state/m.space.child/${enc(id)}`), content);
    await child(space, a);
    await child(space, b);
    await child(space, c, {}); // no via: not a child
    await child(space, sub);
    await child(sub, deep);
    const body = { lists: { inSpace: { ranges: [[0, 20]], timeline_limit: 0, required_state: [], filters: { spaces: [space] } } } };
    const r = await sss(alice, body);
    expect(r.lists.inSpace!.count).toBe(3);
    expect(Object.keys(r.rooms).sort()).toEqual([a, b, sub].sort());
    // Bob is in a child but not in the space: nothing.
    await bob.ok("POST", `${V3}/join/${enc(a)}`, {});
    expect((await sss(bob, body)).lists.inSpace!.count).toBe(0);
    // A new child shows up in the next response.
    await child(space, c);
    const next = await sss(alice, body, { pos: r.pos, timeout: 5000 });
    expect(next.lists.inSpace!.count).toBe(4);
    expect(Object.keys(next.rooms)).toContain(c);
  });

  it("[sliding: room_subscriptions] a subscribed room is sent with its own config; unknown rooms are ignored", async () => {
    const alice = await newUser("ss");
    const a = await createRoom(alice, { name: "sub" });
    for (let i = 0; i < 5; i++) await sendMessage(alice, a, `s${i}`);
    const r = await sss(alice, {
      room_subscriptions: { [a]: { timeline_limit: 3, required_state: [["m.room.name", ""]] }, "!nowhere:localhost:8787": { timeline_limit: 1 } },
    });
    expect(Object.keys(r.rooms)).toEqual([a]);
    expect(bodies(r.rooms[a])).toEqual(["s2", "s3", "s4"]);
    expect(r.rooms[a]!.lists).toBeUndefined();
    // A wider timeline for the same room: sent again whole.
    const wider = await sss(alice, { room_subscriptions: { [a]: { timeline_limit: 5, required_state: [["m.room.name", ""]] } } }, { pos: r.pos, timeout: 0 });
    expect(wider.rooms[a]!.initial).toBe(true);
    expect(bodies(wider.rooms[a])).toEqual(["s0", "s1", "s2", "s3", "s4"]);
  });

  it("[sliding: extensions] to_device, e2ee, account_data, typing and receipts are delivered once", async () => {
    const alice = await newUser("ss");
    const bob = await newUser("ss");
    const roomId = await createRoom(alice, { preset: "public_chat" });
    await bob.ok("POST", `${V3}/join/${enc(roomId)}`, {});
    const extensions = {
      to_device: { enabled: true },
      e2ee: { enabled: true },
      account_data: { enabled: true },
      typing: { enabled: true },
      receipts: { enabled: true },
    };
    const list = { ranges: [[0, 9]], timeline_limit: 5, required_state: [] };
    const r1 = await sss(alice, { lists: { all: list }, extensions });
    expect(r1.extensions.e2ee.device_one_time_keys_count).toBeDefined();
    expect(r1.extensions.to_device.next_batch).toBeDefined();

    await bob.ok("PUT", `${V3}/sendToDevice/m.test/t${Date.now()}`, { messages: { [alice.userId]: { [alice.deviceId]: { n: 1 } } } });
    await alice.ok("PUT", `${V3}/user/${enc(alice.userId)}/account_data/org.example.thing`, { v: 1 });
    await alice.ok("PUT", `${V3}/user/${enc(alice.userId)}/rooms/${enc(roomId)}/account_data/org.example.room`, { v: 2 });
    await bob.ok("PUT", roomPath(roomId, `typing/${enc(bob.userId)}`), { typing: true, timeout: 30000 });
    const sent = await sendMessage(bob, roomId, "read me");
    await bob.ok("POST", roomPath(roomId, `receipt/m.read/${enc(sent.body.event_id as string)}`), {});

    const ext = (since?: string) => ({ ...extensions, to_device: { enabled: true, ...(since ? { since } : {}) } });
    // Responses until the message is in (the room tells the hub after its commit; the
    // extensions may come a response earlier): each item must appear exactly once.
    const seen: Res[] = [];
    let last = r1;
    while (!seen.some((r) => bodies(r.rooms[roomId]).includes("read me"))) {
      if (seen.length > 5) throw new Error("the message never came");
      last = await sss(alice, { lists: { all: list }, extensions: ext(last.extensions.to_device.next_batch) }, { pos: last.pos, timeout: 10_000 });
      seen.push(last);
    }
    const r2 = last;
    const all = <T>(f: (r: Res) => T[] | undefined) => seen.flatMap((r) => f(r) ?? []);
    expect(all((r) => r.extensions.to_device.events).map((e: any) => e.content)).toEqual([{ n: 1 }]);
    expect(all((r) => r.extensions.account_data.global).filter((e: any) => e.type === "org.example.thing")).toHaveLength(1);
    expect(all((r) => r.extensions.account_data.rooms?.[roomId]).map((e: any) => e.type)).toEqual(["org.example.room"]);
    expect(all((r) => (r.extensions.typing.rooms[roomId] ? [r.extensions.typing.rooms[roomId].content.user_ids] : []))).toEqual([[bob.userId]]);
    const eventId = sent.body.event_id as string;
    const receipts = all((r) => (r.extensions.receipts.rooms[roomId]?.content[eventId] ? [r.extensions.receipts.rooms[roomId].content[eventId]["m.read"]] : []));
    expect(receipts.filter((byUser: any) => byUser[bob.userId] !== undefined)).toHaveLength(1);
    expect(all((r) => bodies(r.rooms[roomId]))).toEqual(["read me"]);

    // The next response (acknowledging the to-device batch) repeats none of it.
    const r3 = await sss(alice, { lists: { all: list }, extensions: ext(r2.extensions.to_device.next_batch) }, { pos: r2.pos, timeout: 0 });
    expect(r3.extensions.to_device.events).toEqual([]);
    expect(r3.extensions.account_data.global).toBeUndefined();
    expect(r3.extensions.account_data.rooms).toBeUndefined();
    expect(r3.extensions.typing.rooms).toEqual({});
    expect(r3.extensions.receipts.rooms).toEqual({});
    expect(r3.rooms).toEqual({});
  });

  it("[sliding: leave] a room the user leaves is sent once, up to the leave, then stays quiet", async () => {
    const alice = await newUser("ss");
    const bob = await newUser("ss");
    const roomId = await createRoom(bob, { preset: "public_chat", name: "to leave" });
    await alice.ok("POST", `${V3}/join/${enc(roomId)}`, {});
    const list = { ranges: [[0, 9]], timeline_limit: 10, required_state: [["m.room.member", "$ME"]] };
    const r1 = await sss(alice, { lists: { all: list } });
    expect(r1.rooms[roomId]!.membership).toBe("join");
    await alice.ok("POST", roomPath(roomId, "leave"), {});
    await sendMessage(bob, roomId, "after alice left");
    let r2 = await sss(alice, { lists: { all: list } }, { pos: r1.pos, timeout: 10_000 });
    while (r2.rooms[roomId]?.membership !== "leave") r2 = await sss(alice, { lists: { all: list } }, { pos: r2.pos, timeout: 10_000 });
    const left = r2.rooms[roomId]!;
    expect(left.initial).toBeUndefined();
    expect(left.timeline!.map((e) => e.type)).toEqual(["m.room.member"]);
    expect(bodies(left)).toEqual([]);
    expect(left.required_state!.map((e) => e.content.membership)).toEqual(["leave"]);
    // Later events in the room are not the user's to see, and do not wake the connection.
    await sendMessage(bob, roomId, "still talking");
    const r3 = await sss(alice, { lists: { all: list } }, { pos: r2.pos, timeout: 500 });
    expect(r3.rooms).toEqual({});
    expect(r3.lists.all!.count).toBe(1);
  });

  it("[sliding: e2ee] sharing a room and a key upload show in device_lists.changed; leaving shows in left", async () => {
    const alice = await newUser("ss");
    const bob = await newUser("ss");
    const roomId = await createRoom(alice, { preset: "public_chat" });
    const body = { lists: { all: { ranges: [[0, 9]], timeline_limit: 1, required_state: [] } }, extensions: { e2ee: { enabled: true } } };
    let r = await sss(alice, body);
    const collect = async (want: (r: Res) => boolean) => {
      for (let i = 0; i < 6; i++) {
        r = await sss(alice, body, { pos: r.pos, timeout: 3000 });
        if (want(r)) return true;
      }
      return false;
    };
    await bob.ok("POST", `${V3}/join/${enc(roomId)}`, {});
    expect(await collect((x) => (x.extensions.e2ee.device_lists?.changed ?? []).includes(bob.userId))).toBe(true);
    // A key upload by bob (a new device list) reaches alice through the room's device-list stream.
    await withKeys(bob);
    expect(await collect((x) => (x.extensions.e2ee.device_lists?.changed ?? []).includes(bob.userId))).toBe(true);
    await bob.ok("POST", roomPath(roomId, "leave"), {});
    expect(await collect((x) => (x.extensions.e2ee.device_lists?.left ?? []).includes(bob.userId))).toBe(true);
  });

  it("[sliding: counts] notification_count with the room's new events; a read receipt clears it", async () => {
    const alice = await newUser("ss");
    const bob = await newUser("ss");
    const roomId = await createRoom(alice, { preset: "trusted_private_chat", invite: [bob.userId] });
    await bob.ok("POST", `${V3}/join/${enc(roomId)}`, {});
    const body = { lists: { all: { ranges: [[0, 9]], timeline_limit: 5, required_state: [] } } };
    let r = await sss(alice, body);
    const sent = await sendMessage(bob, roomId, "ping");
    let room: Room | undefined;
    for (let i = 0; i < 5 && !bodies(room).includes("ping"); i++) {
      r = await sss(alice, body, { pos: r.pos, timeout: 5000 });
      room = r.rooms[roomId];
    }
    expect(bodies(room)).toEqual(["ping"]);
    expect(room!.notification_count).toBe(1); // one-to-one room: every message notifies
    await alice.ok("POST", roomPath(roomId, `receipt/m.read/${enc(sent.body.event_id as string)}`), {});
    let cleared: Room | undefined;
    for (let i = 0; i < 5 && cleared?.notification_count !== 0; i++) {
      r = await sss(alice, body, { pos: r.pos, timeout: 5000 });
      cleared = r.rooms[roomId];
    }
    expect(cleared).toEqual({ notification_count: 0, highlight_count: 0 });
  });

  it("[sliding: timeout] a long-poll returns soon after a message; txn_id is echoed", async () => {
    const alice = await newUser("ss");
    const roomId = await createRoom(alice);
    const body = { conn_id: "lp", txn_id: "t1", lists: { all: { ranges: [[0, 9]], timeline_limit: 1, required_state: [] } } };
    const r1 = await sss(alice, body);
    expect(r1.txn_id).toBe("t1");
    const started = Date.now();
    const poll = sss(alice, { ...body, txn_id: "t2" }, { pos: r1.pos, timeout: 20000 });
    await sleep(200);
    await sendMessage(alice, roomId, "wake");
    const r2 = await poll;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(r2.txn_id).toBe("t2");
    expect(bodies(r2.rooms[roomId])).toEqual(["wake"]);
    // Nothing new: waits for the timeout and returns empty.
    const t0 = Date.now();
    const r3 = await sss(alice, body, { pos: r2.pos, timeout: 300 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(r3.rooms).toEqual({});
  });

  it("[sliding: pos] unknown, foreign and superseded positions are 400 M_UNKNOWN_POS; a retried pos answers again", async () => {
    const alice = await newUser("ss");
    const bob = await newUser("ss");
    const roomId = await createRoom(alice);
    const body = { conn_id: "c1", lists: { all: { ranges: [[0, 9]], timeline_limit: 1, required_state: [] } } };
    const r1 = await sss(alice, body);
    expectError(await alice.call("POST", `${SSS}?pos=zz_zz`, body), 400, "M_UNKNOWN_POS");
    expectError(await alice.call("POST", `${SSS}?pos=garbage`, body), 400, "M_UNKNOWN_POS");
    expectError(await alice.call("POST", `${SSS}?pos=${r1.pos}`, { ...body, conn_id: "other" }), 400, "M_UNKNOWN_POS");
    expectError(await bob.call("POST", `${SSS}?pos=${r1.pos}`, body), 400, "M_UNKNOWN_POS");
    await sendMessage(alice, roomId, "x");
    const r2 = await sss(alice, body, { pos: r1.pos, timeout: 10_000 });
    expect(bodies(r2.rooms[roomId])).toEqual(["x"]);
    // The same pos again (the client lost the answer): the same data again.
    const retry = await sss(alice, body, { pos: r1.pos, timeout: 0 });
    expect(bodies(retry.rooms[roomId])).toEqual(bodies(r2.rooms[roomId]));
    const r3 = await sss(alice, body, { pos: retry.pos, timeout: 0 });
    expect(r3.rooms).toEqual({});
    await sendMessage(alice, roomId, "y");
    const r4 = await sss(alice, body, { pos: r3.pos, timeout: 10_000 });
    expect(bodies(r4.rooms[roomId])).toEqual(["y"]);
    // New messages ride in the pos (no stored version); new rooms are stored versions, and
    // once the client moved on from a stored version, the ones before it are gone.
    await createRoom(alice);
    const r5 = await sss(alice, body, { pos: r4.pos, timeout: 0 });
    await createRoom(alice);
    const r6 = await sss(alice, body, { pos: r5.pos, timeout: 0 });
    await sss(alice, body, { pos: r6.pos, timeout: 0 });
    expectError(await alice.call("POST", `${SSS}?pos=${r1.pos}`, body), 400, "M_UNKNOWN_POS");
    expectError(await alice.call("POST", `${SSS}?pos=${r4.pos}`, body), 400, "M_UNKNOWN_POS");
  });

  it("[sliding: errors] malformed bodies are 400 M_BAD_JSON / M_NOT_JSON / M_INVALID_PARAM, never 500", async () => {
    const alice = await newUser("ss");
    const bad = async (body: unknown, errcode: string, query = "") => expectError(await alice.call("POST", `${SSS}${query}`, body), 400, errcode);
    await bad([1, 2], "M_BAD_JSON");
    await bad({ lists: [] }, "M_BAD_JSON");
    await bad({ lists: { a: { ranges: [[0, "9"]], timeline_limit: 1 } } }, "M_BAD_JSON");
    await bad({ lists: { a: { ranges: [[5, 1]], timeline_limit: 1 } } }, "M_INVALID_PARAM");
    await bad({ lists: { a: { ranges: [[-1, 1]], timeline_limit: 1 } } }, "M_INVALID_PARAM");
    await bad({ lists: { a: { timeline_limit: 1, required_state: [["m.room.name"]] } } }, "M_BAD_JSON");
    await bad({ lists: { a: { timeline_limit: 1, filters: { spaces: "!s:x" } } } }, "M_BAD_JSON");
    await bad({ lists: { a: { timeline_limit: 1, filters: { room_name_like: "x" } } } }, "M_INVALID_PARAM");
    await bad({ lists: { "bad key!": { timeline_limit: 1 } } }, "M_INVALID_PARAM");
    await bad({ room_subscriptions: { "not-a-room": { timeline_limit: 1 } } }, "M_INVALID_PARAM");
    await bad({ conn_id: 5 }, "M_BAD_JSON");
    await bad({ extensions: { to_device: { enabled: true, since: "abc" } } }, "M_INVALID_PARAM");
    await bad({}, "M_INVALID_PARAM", "?timeout=soon");
    const notJson = await SELF_fetch(alice, "{nope");
    expect(notJson.status).toBe(400);
    expect(notJson.errcode).toBe("M_NOT_JSON");
    expectError(await alice.call("GET", SSS), 405, "M_UNRECOGNIZED");
  });
});

async function SELF_fetch(u: TestUser, raw: string): Promise<{ status: number; errcode: unknown }> {
  const { SELF } = await import("cloudflare:test");
  const res = await SELF.fetch(`http://127.0.0.1:8787${SSS}`, { method: "POST", headers: { Authorization: `Bearer ${u.token}`, "Content-Type": "application/json" }, body: raw });
  return { status: res.status, errcode: ((await res.json()) as JsonObject).errcode };
}
