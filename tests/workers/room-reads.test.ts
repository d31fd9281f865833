// The Room actor's read paths through the edge: /messages pagination and filters,
// lazy-loading, history visibility on every read path, /context, /timestamp_to_event,
// /members, /joined_members, relations with bundled aggregations, /threads, typing,
// receipts and read markers.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { roomActor } from "../../party/stubs.ts";
import { createRoom, enc, expectError, newUser, roomEvents, roomPath, sendMessage, V3, type TestUser } from "./room-helpers.ts";

const V1 = "/_matrix/client/v1";
const v1Room = (roomId: string, rest: string) => `${V1}/rooms/${enc(roomId)}/${rest}`;
/** A well-formed event ID that no room has. */
const UNKNOWN_EVENT = "$" + "A".repeat(43);
const ids = (chunk: unknown) => (chunk as JsonObject[]).map((e) => e.event_id as string);
const bodies = (chunk: unknown) => (chunk as JsonObject[]).filter((e) => e.type === "m.room.message").map((e) => (e.content as JsonObject).body);

let txn = 0;
async function send(u: TestUser, roomId: string, content: JsonObject, type = "m.room.message"): Promise<string> {
  const r = await u.ok("PUT", roomPath(roomId, `send/${enc(type)}/rr${++txn}x${Date.now()}`), content);
  return r.event_id as string;
}
const say = (u: TestUser, roomId: string, body: string) => send(u, roomId, { msgtype: "m.text", body });

async function join(u: TestUser, roomId: string) {
  await u.ok("POST", `${V3}/join/${enc(roomId)}`, {});
}
async function invite(by: TestUser, roomId: string, who: TestUser) {
  await by.ok("POST", roomPath(roomId, "invite"), { user_id: who.userId });
}
async function leave(u: TestUser, roomId: string) {
  await u.ok("POST", roomPath(roomId, "leave"), {});
}

/** Every page of /messages from `from` (or the default) until `end` is omitted. */
async function paginateAll(u: TestUser, roomId: string, dir: "b" | "f", limit: number, extra = ""): Promise<{ events: JsonObject[]; pages: number }> {
  const events: JsonObject[] = [];
  let from: string | undefined;
  let pages = 0;
  for (;;) {
    const q = `messages?dir=${dir}&limit=${limit}${from ? `&from=${enc(from)}` : ""}${extra}`;
    const page = await u.ok("GET", roomPath(roomId, q));
    pages++;
    expect(typeof page.start).toBe("string");
    events.push(...(page.chunk as JsonObject[]));
    if (page.end === undefined) break;
    expect(page.end).not.toBe(from);
    from = page.end as string;
    if (pages > 1000) throw new Error("pagination does not end");
  }
  return { events, pages };
}

describe("[cs: messages] pagination", { timeout: 120_000 }, () => {
  it("[cs: messages] 250 events paginate backwards and forwards with gap-free tokens, each event exactly once", async () => {
    const a = await newUser();
    const roomId = await createRoom(a, { preset: "private_chat" });
    for (let i = 0; i < 250; i += 25) {
      // Concurrent batches exercise the write path's group commit; order is what the room assigned.
      await Promise.all(Array.from({ length: 25 }, (_, j) => say(a, roomId, `m${i + j}`)));
    }
    const stored = (await roomEvents(roomId)).map((e) => e.event_id);
    expect(stored.length).toBeGreaterThan(250);

    const back = await paginateAll(a, roomId, "b", 17);
    expect(ids(back.events)).toEqual([...stored].reverse());
    expect(back.pages).toBe(Math.ceil(stored.length / 17));

    const fwd = await paginateAll(a, roomId, "f", 40);
    expect(ids(fwd.events)).toEqual(stored);
  });

  it("[cs: messages] `to` bounds a page; `end` is omitted when the range is used up", async () => {
    const a = await newUser();
    const roomId = await createRoom(a);
    for (let i = 0; i < 10; i++) await say(a, roomId, `m${i}`);
    const first = await a.ok("GET", roomPath(roomId, "messages?dir=b&limit=3"));
    expect(bodies(first.chunk)).toEqual(["m9", "m8", "m7"]);
    const second = await a.ok("GET", roomPath(roomId, `messages?dir=b&limit=3&from=${enc(first.end as string)}`));
    expect(bodies(second.chunk)).toEqual(["m6", "m5", "m4"]);
    // Forward from the second page's end up to the first page's end: exactly m4..m9 again.
    const between = await a.ok("GET", roomPath(roomId, `messages?dir=f&limit=50&from=${enc(second.end as string)}&to=${enc(first.start as string)}`));
    expect(bodies(between.chunk)).toEqual(["m4", "m5", "m6", "m7", "m8", "m9"]);
    expect(between.end).toBeUndefined();
    // Backwards from the first page's end to the second page's end: m6..m4.
    const bounded = await a.ok("GET", roomPath(roomId, `messages?dir=b&limit=50&from=${enc(first.end as string)}&to=${enc(second.end as string)}`));
    expect(bodies(bounded.chunk)).toEqual(["m6", "m5", "m4"]);
    expect(bounded.end).toBeUndefined();
  });

  it("[cs: messages] bad parameters: dir missing, bad dir, bad token, bad limit, bad filter JSON", async () => {
    const a = await newUser();
    const roomId = await createRoom(a);
    expectError(await a.call("GET", roomPath(roomId, "messages")), 400, "M_MISSING_PARAM");
    expectError(await a.call("GET", roomPath(roomId, "messages?dir=x")), 400, "M_INVALID_PARAM");
    expectError(await a.call("GET", roomPath(roomId, "messages?dir=b&from=nonsense")), 400, "M_INVALID_PARAM");
    expectError(await a.call("GET", roomPath(roomId, "messages?dir=b&limit=-1")), 400, "M_INVALID_PARAM");
    expectError(await a.call("GET", roomPath(roomId, `messages?dir=b&filter=${enc("{nope")}`)), 400, "M_INVALID_PARAM");
    expectError(await a.call("GET", roomPath(roomId, `messages?dir=b&filter=${enc('{"types":"x"}')}`)), 400, "M_BAD_JSON");
    const huge = await a.ok("GET", roomPath(roomId, "messages?dir=b&limit=100000"));
    expect((huge.chunk as JsonObject[]).length).toBeGreaterThan(0);
  });
});

describe("[cs: filtering] RoomEventFilter on /messages", { timeout: 120_000 }, () => {
  it("[filter: types/not_types/senders/contains_url/limit] each narrows the page", async () => {
    const a = await newUser();
    const b = await newUser();
    const roomId = await createRoom(a, { preset: "public_chat" });
    await join(b, roomId);
    await say(a, roomId, "a1");
    await say(b, roomId, "b1");
    await send(a, roomId, { msgtype: "m.image", body: "pic", url: "mxc://x/y" });
    await send(a, roomId, { key: "v" }, "org.example.custom");
    const get = async (f: JsonObject) => (await a.ok("GET", roomPath(roomId, `messages?dir=b&limit=100&filter=${enc(JSON.stringify(f))}`))).chunk as JsonObject[];

    expect((await get({ types: ["org.example.*"] })).map((e) => e.type)).toEqual(["org.example.custom"]);
    expect((await get({ types: ["m.room.message"], senders: [b.userId] })).map((e) => (e.content as JsonObject).body)).toEqual(["b1"]);
    expect((await get({ types: ["m.room.message"], not_senders: [b.userId] })).map((e) => (e.content as JsonObject).body)).toEqual(["pic", "a1"]);
    expect((await get({ contains_url: true })).map((e) => (e.content as JsonObject).body)).toEqual(["pic"]);
    expect((await get({ types: ["m.room.*"], not_types: ["m.room.message", "m.room.member"] })).every((e) => (e.type as string).startsWith("m.room.") && e.type !== "m.room.message" && e.type !== "m.room.member")).toBe(true);
    expect(await get({ types: ["m.room.message"], limit: 2 })).toHaveLength(2);
    expect(await get({ rooms: ["!elsewhere:localhost:8787"] })).toHaveLength(0);
  });

  it("[cs: lazy-loading] lazy_load_members returns the member events of the page's senders only", async () => {
    const a = await newUser();
    const b = await newUser();
    const c = await newUser();
    const roomId = await createRoom(a, { preset: "public_chat" });
    await join(b, roomId);
    await join(c, roomId);
    await say(a, roomId, "old");
    await say(b, roomId, "b says");
    await say(c, roomId, "c says");
    const f = enc(JSON.stringify({ lazy_load_members: true, types: ["m.room.message"] }));
    const page = await a.ok("GET", roomPath(roomId, `messages?dir=b&limit=2&filter=${f}`));
    expect(bodies(page.chunk)).toEqual(["c says", "b says"]);
    const state = page.state as JsonObject[];
    expect(state.map((e) => e.state_key).sort()).toEqual([b.userId, c.userId].sort());
    expect(state.every((e) => e.type === "m.room.member" && (e.content as JsonObject).membership === "join")).toBe(true);
    // Without lazy loading there is no state section.
    const plain = await a.ok("GET", roomPath(roomId, "messages?dir=b&limit=2"));
    expect(plain.state).toBeUndefined();
  });
});

/** Alice's room with the given visibility: m1, invite Bob, m2, Bob joins, m3, Bob leaves, m4. */
async function visibilityRoom(visibility: string) {
  const a = await newUser();
  const b = await newUser();
  const roomId = await createRoom(a, {
    preset: "private_chat",
    initial_state: [{ type: "m.room.history_visibility", state_key: "", content: { history_visibility: visibility } }],
  });
  const m1 = await say(a, roomId, "m1");
  await invite(a, roomId, b);
  const m2 = await say(a, roomId, "m2");
  await join(b, roomId);
  const m3 = await say(a, roomId, "m3");
  await leave(b, roomId);
  const m4 = await say(a, roomId, "m4");
  return { a, b, roomId, m: { m1, m2, m3, m4 } };
}

describe("[history-visibility] enforced on every read path", { timeout: 120_000 }, () => {
  const expected: Record<string, string[]> = {
    world_readable: ["m1", "m2", "m3", "m4"],
    shared: ["m1", "m2", "m3"],
    invited: ["m2", "m3"],
    joined: ["m3"],
  };
  for (const [visibility, visible] of Object.entries(expected)) {
    it(`[history-visibility: ${visibility}] a user who joined late and left sees ${visible.join(", ")} on /messages, /event, /context`, async () => {
      const { b, roomId, m } = await visibilityRoom(visibility);
      const back = await paginateAll(b, roomId, "b", 4);
      expect(bodies(back.events).reverse()).toEqual(visible);
      const fwd = await paginateAll(b, roomId, "f", 3);
      expect(bodies(fwd.events)).toEqual(visible);
      for (const [name, id] of Object.entries(m)) {
        const ev = await b.call("GET", roomPath(roomId, `event/${enc(id)}`));
        const ctx = await b.call("GET", roomPath(roomId, `context/${enc(id)}?limit=4`));
        if (visible.includes(name)) {
          expect(ev.status, `${name} via /event`).toBe(200);
          expect(ctx.status, `${name} via /context`).toBe(200);
          expect(bodies([...(ctx.body.events_before as JsonObject[]), ...(ctx.body.events_after as JsonObject[])]).every((x) => visible.includes(x as string))).toBe(true);
        } else {
          expectError(ev, 404, "M_NOT_FOUND");
          expectError(ctx, 404, "M_NOT_FOUND");
        }
      }
    });
  }

  it("[history-visibility] a user who never joined is refused /messages, /members, /context (403) unless world_readable", async () => {
    const stranger = await newUser();
    const { roomId, m } = await visibilityRoom("shared");
    expectError(await stranger.call("GET", roomPath(roomId, "messages?dir=b")), 403, "M_FORBIDDEN");
    expectError(await stranger.call("GET", roomPath(roomId, "members")), 403, "M_FORBIDDEN");
    expectError(await stranger.call("GET", roomPath(roomId, `context/${enc(m.m1)}`)), 403, "M_FORBIDDEN");
    expectError(await stranger.call("GET", roomPath(roomId, `event/${enc(m.m1)}`)), 404, "M_NOT_FOUND");
    const wr = await visibilityRoom("world_readable");
    const page = await stranger.ok("GET", roomPath(wr.roomId, "messages?dir=b&limit=100"));
    expect(bodies(page.chunk).reverse()).toEqual(["m1", "m2", "m3", "m4"]);
  });

  it("[history-visibility] an invitee cannot page history; a left member's /members is the state when they left", async () => {
    const { a, b, roomId } = await visibilityRoom("shared");
    const c = await newUser();
    await invite(a, roomId, c);
    expectError(await c.call("GET", roomPath(roomId, "messages?dir=b")), 403, "M_FORBIDDEN");
    const membersForB = (await b.ok("GET", roomPath(roomId, "members"))).chunk as JsonObject[];
    // Carol's invite came after Bob left: he does not see it.
    expect(membersForB.map((e) => e.state_key)).not.toContain(c.userId);
    expect(membersForB.find((e) => e.state_key === b.userId)?.content).toMatchObject({ membership: "leave" });
    const membersForA = (await a.ok("GET", roomPath(roomId, "members"))).chunk as JsonObject[];
    expect(membersForA.find((e) => e.state_key === c.userId)?.content).toMatchObject({ membership: "invite" });
    expectError(await b.call("GET", roomPath(roomId, "joined_members")), 403, "M_FORBIDDEN");
  });

  it("[history-visibility] a departed member paging back starts where they left, whatever came after", async () => {
    const { a, b, roomId } = await visibilityRoom("shared");
    await Promise.all(Array.from({ length: 30 }, (_, i) => say(a, roomId, `later${i}`)));
    const page = await b.ok("GET", roomPath(roomId, "messages?dir=b&limit=2"));
    expect(page.chunk as JsonObject[]).toHaveLength(2);
    expect((page.chunk as JsonObject[])[0]).toMatchObject({ type: "m.room.member", state_key: b.userId, content: { membership: "leave" } });
    expect(bodies(page.chunk)).toEqual(["m3"]);
    const fwd = await b.ok("GET", roomPath(roomId, `messages?dir=f&limit=50&from=${enc(page.start as string)}`));
    expect(fwd.chunk).toEqual([]);
    expect(fwd.end).toBeUndefined();
  });

  it("[redactions] a redacted event is served redacted, with unsigned.redacted_because, on /messages, /event and /context", async () => {
    const a = await newUser();
    const roomId = await createRoom(a);
    const id = await say(a, roomId, "secret");
    const r = await a.ok("PUT", roomPath(roomId, `redact/${enc(id)}/red1`), { reason: "oops" });
    const page = await a.ok("GET", roomPath(roomId, "messages?dir=b&limit=5"));
    const served = (page.chunk as JsonObject[]).find((e) => e.event_id === id)!;
    expect(served.content).toEqual({});
    expect(((served.unsigned as JsonObject).redacted_because as JsonObject).event_id).toBe(r.event_id);
    const ev = await a.ok("GET", roomPath(roomId, `event/${enc(id)}`));
    expect(ev.content).toEqual({});
    const ctx = await a.ok("GET", roomPath(roomId, `context/${enc(id)}`));
    expect(((ctx.event as JsonObject).unsigned as JsonObject).redacted_because).toBeDefined();
  });
});

describe("[cs: context, timestamp_to_event, members]", { timeout: 120_000 }, () => {
  it("[cs: context] limit is split before/after; tokens continue with /messages; state at the last event", async () => {
    const a = await newUser();
    const roomId = await createRoom(a);
    const sent: string[] = [];
    for (let i = 0; i < 9; i++) sent.push(await say(a, roomId, `c${i}`));
    const ctx = await a.ok("GET", roomPath(roomId, `context/${enc(sent[4]!)}?limit=4`));
    expect((ctx.event as JsonObject).event_id).toBe(sent[4]);
    expect(bodies(ctx.events_before)).toEqual(["c3", "c2"]);
    expect(bodies(ctx.events_after)).toEqual(["c5", "c6"]);
    expect((ctx.state as JsonObject[]).some((e) => e.type === "m.room.create")).toBe(true);
    const before = await a.ok("GET", roomPath(roomId, `messages?dir=b&limit=1&from=${enc(ctx.start as string)}`));
    expect(bodies(before.chunk)).toEqual(["c1"]);
    const after = await a.ok("GET", roomPath(roomId, `messages?dir=f&limit=1&from=${enc(ctx.end as string)}`));
    expect(bodies(after.chunk)).toEqual(["c7"]);
    const zero = await a.ok("GET", roomPath(roomId, `context/${enc(sent[4]!)}?limit=0`));
    expect((zero.event as JsonObject).event_id).toBe(sent[4]);
    expect(zero.events_before).toEqual([]);
    const lazy = await a.ok("GET", roomPath(roomId, `context/${enc(sent[4]!)}?limit=2&filter=${enc('{"lazy_load_members":true}')}`));
    expect((lazy.state as JsonObject[]).map((e) => e.state_key)).toEqual([a.userId]);
  });

  it("[cs: timestamp_to_event] the closest visible event in each direction; 404 beyond the ends", async () => {
    const a = await newUser();
    const roomId = await createRoom(a);
    const first = await say(a, roomId, "t1");
    await new Promise((r) => setTimeout(r, 20));
    const second = await say(a, roomId, "t2");
    const e1 = await a.ok("GET", roomPath(roomId, `event/${enc(first)}`));
    const e2 = await a.ok("GET", roomPath(roomId, `event/${enc(second)}`));
    const ts1 = e1.origin_server_ts as number;
    const ts2 = e2.origin_server_ts as number;
    expect(ts2).toBeGreaterThan(ts1);
    const f = await a.ok("GET", v1Room(roomId, `timestamp_to_event?ts=${ts1 + 1}&dir=f`));
    expect(f).toEqual({ event_id: second, origin_server_ts: ts2 });
    const b = await a.ok("GET", v1Room(roomId, `timestamp_to_event?ts=${ts2 - 1}&dir=b`));
    expect(b).toEqual({ event_id: first, origin_server_ts: ts1 });
    expectError(await a.call("GET", v1Room(roomId, `timestamp_to_event?ts=${ts2 + 100000}&dir=f`)), 404, "M_NOT_FOUND");
    expectError(await a.call("GET", v1Room(roomId, `timestamp_to_event?ts=${ts1}`)), 400, "M_MISSING_PARAM");
  });

  it("[cs: members] membership / not_membership filters (an OR when both), `at` a token, joined_members with profiles", async () => {
    const a = await newUser();
    const b = await newUser();
    const c = await newUser();
    const roomId = await createRoom(a, { preset: "public_chat" });
    await a.ok("PUT", `${V3}/profile/${enc(a.userId)}/displayname`, { displayname: "Alice A" });
    const early = await a.ok("GET", roomPath(roomId, "messages?dir=b&limit=1"));
    await join(b, roomId);
    await invite(a, roomId, c);
    const all = (await a.ok("GET", roomPath(roomId, "members"))).chunk as JsonObject[];
    expect(all.map((e) => e.state_key).sort()).toEqual([a.userId, b.userId, c.userId].sort());
    const joined = (await a.ok("GET", roomPath(roomId, "members?membership=join"))).chunk as JsonObject[];
    expect(joined.map((e) => e.state_key).sort()).toEqual([a.userId, b.userId].sort());
    const notJoined = (await a.ok("GET", roomPath(roomId, "members?not_membership=join"))).chunk as JsonObject[];
    expect(notJoined.map((e) => e.state_key)).toEqual([c.userId]);
    const either = (await a.ok("GET", roomPath(roomId, "members?membership=invite&not_membership=invite"))).chunk as JsonObject[];
    expect(either).toHaveLength(3);
    const past = (await a.ok("GET", roomPath(roomId, `members?at=${enc(early.start as string)}`))).chunk as JsonObject[];
    expect(past.map((e) => e.state_key)).toEqual([a.userId]);
    // matrix-js-sdk sends its /sync next_batch as `at`: a user-level token the room reads as "now".
    const atSync = (await a.ok("GET", roomPath(roomId, "members?at=y1_0_0_0"))).chunk as JsonObject[];
    expect(atSync.map((e) => e.state_key).sort()).toEqual([a.userId, b.userId, c.userId].sort());
    expectError(await a.call("GET", roomPath(roomId, "members?membership=joined")), 400, "M_INVALID_PARAM");
    const jm = await a.ok("GET", roomPath(roomId, "joined_members"));
    expect(Object.keys(jm.joined as JsonObject).sort()).toEqual([a.userId, b.userId].sort());
    expect((jm.joined as Record<string, JsonObject>)[a.userId]).toMatchObject({ display_name: "Alice A" });
  });
});

/** Alice's public room with Bob joined, a root message and helpers for related events. */
async function relationsRoom() {
  const a = await newUser();
  const b = await newUser();
  const roomId = await createRoom(a, { preset: "public_chat" });
  await join(b, roomId);
  const root = await say(a, roomId, "root");
  const rel = (u: TestUser, relType: string, to: string, extra: JsonObject = {}, type = "m.room.message") =>
    send(u, roomId, { msgtype: "m.text", body: `${relType} of ${to}`, ...extra, "m.relates_to": { rel_type: relType, event_id: to, ...((extra["m.relates_to"] as JsonObject) ?? {}) } }, type);
  return { a, b, roomId, root, rel };
}

describe("[relations] /relations, bundled aggregations, /threads", { timeout: 120_000 }, () => {
  it("[event-replacements] the latest valid edit is bundled as m.replace on /messages, /event and /context; another sender's edit is not", async () => {
    const { a, b, roomId, root, rel } = await relationsRoom();
    await rel(a, "m.replace", root, { "m.new_content": { msgtype: "m.text", body: "edit 1" } });
    const e2 = await rel(a, "m.replace", root, { "m.new_content": { msgtype: "m.text", body: "edit 2" } });
    await rel(b, "m.replace", root, { "m.new_content": { msgtype: "m.text", body: "hijack" } });
    const page = await b.ok("GET", roomPath(roomId, "messages?dir=b&limit=20"));
    const served = (page.chunk as JsonObject[]).find((e) => e.event_id === root)!;
    const bundled = ((served.unsigned as JsonObject)["m.relations"] as JsonObject)["m.replace"] as JsonObject;
    expect(bundled.event_id).toBe(e2);
    expect(served.content).toMatchObject({ body: "root" }); // servers do not apply edits to content
    const ev = await b.ok("GET", roomPath(roomId, `event/${enc(root)}`));
    expect((((ev.unsigned as JsonObject)["m.relations"] as JsonObject)["m.replace"] as JsonObject).event_id).toBe(e2);
    const ctx = await b.ok("GET", roomPath(roomId, `context/${enc(root)}`));
    expect(((((ctx.event as JsonObject).unsigned as JsonObject)["m.relations"] as JsonObject)["m.replace"] as JsonObject).event_id).toBe(e2);
    // Redacting the latest edit falls back to the previous one; redacting the original drops the bundle.
    await a.ok("PUT", roomPath(roomId, `redact/${enc(e2)}/r1`), {});
    const ev2 = await b.ok("GET", roomPath(roomId, `event/${enc(root)}`));
    expect(((((ev2.unsigned as JsonObject)["m.relations"] as JsonObject)["m.replace"] as JsonObject).content as JsonObject)["m.new_content"]).toMatchObject({ body: "edit 1" });
    await a.ok("PUT", roomPath(roomId, `redact/${enc(root)}/r2`), {});
    const ev3 = await b.ok("GET", roomPath(roomId, `event/${enc(root)}`));
    expect((ev3.unsigned as JsonObject)["m.relations"]).toBeUndefined();
  });

  it("[threading] the m.thread summary: count, latest_event (with its edit), current_user_participated", async () => {
    const { a, b, roomId, root, rel } = await relationsRoom();
    const c = await newUser();
    await join(c, roomId);
    await rel(b, "m.thread", root);
    await rel(a, "m.thread", root);
    const last = await rel(b, "m.thread", root);
    const lastEdit = await rel(b, "m.replace", last, { "m.new_content": { msgtype: "m.text", body: "fixed" } });
    const summary = async (u: TestUser) => {
      const ev = await u.ok("GET", roomPath(roomId, `event/${enc(root)}`));
      return ((ev.unsigned as JsonObject)["m.relations"] as JsonObject)["m.thread"] as JsonObject;
    };
    const forB = await summary(b);
    expect(forB.count).toBe(3);
    expect(forB.current_user_participated).toBe(true);
    expect((forB.latest_event as JsonObject).event_id).toBe(last);
    expect(((((forB.latest_event as JsonObject).unsigned as JsonObject)["m.relations"] as JsonObject)["m.replace"] as JsonObject).event_id).toBe(lastEdit);
    expect((await summary(a)).current_user_participated).toBe(true); // sent the root
    expect((await summary(c)).current_user_participated).toBe(false);
  });

  it("[reference-relations] m.reference children are bundled as a chunk of event IDs", async () => {
    const { a, roomId, root, rel } = await relationsRoom();
    const r1 = await rel(a, "m.reference", root);
    const r2 = await rel(a, "m.reference", root);
    const ev = await a.ok("GET", roomPath(roomId, `event/${enc(root)}`));
    expect(((ev.unsigned as JsonObject)["m.relations"] as JsonObject)["m.reference"]).toEqual({ chunk: [{ event_id: r1 }, { event_id: r2 }] });
  });

  it("[cs: relations] rel_type and event_type filters, pagination both ways, recurse up to 3 levels", async () => {
    const { a, b, roomId, root, rel } = await relationsRoom();
    const t: string[] = [];
    for (let i = 0; i < 5; i++) t.push(await rel(i % 2 ? b : a, "m.thread", root));
    const reaction = await rel(b, "m.annotation", t[0]!, { "m.relates_to": { key: "👍" } }, "m.reaction");
    const ref = await rel(a, "m.reference", root);

    const all = await a.ok("GET", v1Room(roomId, `relations/${enc(root)}`));
    expect(ids(all.chunk)).toEqual([ref, ...[...t].reverse()]);
    expect(all.next_batch).toBeUndefined();
    expect(all.recursion_depth).toBeUndefined();

    const threadOnly = await a.ok("GET", v1Room(roomId, `relations/${enc(root)}/m.thread`));
    expect(ids(threadOnly.chunk)).toEqual([...t].reverse());
    const typed = await a.ok("GET", v1Room(roomId, `relations/${enc(root)}/m.thread/m.reaction`));
    expect(typed.chunk).toEqual([]);

    // Pages of 2, newest first, then forwards.
    const seen: string[] = [];
    let from: string | undefined;
    for (let i = 0; i < 10; i++) {
      const page = await a.ok("GET", v1Room(roomId, `relations/${enc(root)}/m.thread?limit=2${from ? `&from=${enc(from)}` : ""}`));
      seen.push(...ids(page.chunk));
      if (from) expect(page.prev_batch).toBe(from);
      if (!page.next_batch) break;
      from = page.next_batch as string;
    }
    expect(seen).toEqual([...t].reverse());
    const fwd = await a.ok("GET", v1Room(roomId, `relations/${enc(root)}/m.thread?dir=f&limit=10`));
    expect(ids(fwd.chunk)).toEqual(t);

    const flat = await a.ok("GET", v1Room(roomId, `relations/${enc(root)}?recurse=false`));
    expect(ids(flat.chunk)).not.toContain(reaction);
    expect(flat.recursion_depth).toBe(1);
    const deep = await a.ok("GET", v1Room(roomId, `relations/${enc(root)}?recurse=true`));
    expect(ids(deep.chunk)).toContain(reaction);
    expect(deep.recursion_depth).toBe(3);
    const deepReactions = await a.ok("GET", v1Room(roomId, `relations/${enc(root)}/m.annotation?recurse=true`));
    expect(ids(deepReactions.chunk)).toEqual([reaction]);

    // Four levels: root ← l1 ← l2 ← l3 ← l4; recursion stops after 3.
    const l1 = await rel(a, "m.reference", ref);
    const l2 = await rel(a, "m.reference", l1);
    const l3 = await rel(a, "m.reference", l2);
    const l4 = await rel(a, "m.reference", l3);
    const chain = await a.ok("GET", v1Room(roomId, `relations/${enc(ref)}?recurse=true`));
    expect(ids(chain.chunk)).toEqual([l3, l2, l1]);
    expect(ids(chain.chunk)).not.toContain(l4);

    expectError(await a.call("GET", v1Room(roomId, `relations/${enc(UNKNOWN_EVENT)}`)), 404, "M_NOT_FOUND");
    expectError(await a.call("GET", v1Room(roomId, `relations/${enc(root)}?dir=x`)), 400, "M_INVALID_PARAM");
    expectError(await a.call("GET", v1Room(roomId, `relations/${enc("$nope")}`)), 400, "M_INVALID_PARAM");
  });

  it("[cs: relations] history visibility applies to the parent and to every child", async () => {
    const a = await newUser();
    const b = await newUser();
    const roomId = await createRoom(a, {
      preset: "public_chat",
      initial_state: [{ type: "m.room.history_visibility", state_key: "", content: { history_visibility: "joined" } }],
    });
    const early = await say(a, roomId, "before bob");
    await send(a, roomId, { msgtype: "m.text", body: "t0", "m.relates_to": { rel_type: "m.thread", event_id: early } });
    await join(b, roomId);
    const later = await send(a, roomId, { msgtype: "m.text", body: "t1", "m.relates_to": { rel_type: "m.thread", event_id: early } });
    expectError(await b.call("GET", v1Room(roomId, `relations/${enc(early)}`)), 404, "M_NOT_FOUND");
    const forA = await a.ok("GET", v1Room(roomId, `relations/${enc(early)}`));
    expect((forA.chunk as JsonObject[]).length).toBe(2);
    // Bob sees the reply sent after he joined, in the thread list it is the root he cannot see: hidden.
    const ev = await b.ok("GET", roomPath(roomId, `event/${enc(later)}`));
    expect(ev.event_id).toBe(later);
    const threadsForB = await b.ok("GET", v1Room(roomId, "threads"));
    expect(threadsForB.chunk).toEqual([]);
  });

  it("[cs: threads] roots ordered by latest reply, include=participated, pagination", async () => {
    const { a, b, roomId, root, rel } = await relationsRoom();
    const root2 = await say(b, roomId, "root2");
    const root3 = await say(a, roomId, "root3");
    await rel(b, "m.thread", root); // thread 1 by Bob
    await rel(a, "m.thread", root2); // thread 2: Alice replies to Bob's root
    await rel(a, "m.thread", root3);
    await rel(a, "m.thread", root); // thread 1 is the most recent again
    const all = await b.ok("GET", v1Room(roomId, "threads"));
    expect(ids(all.chunk)).toEqual([root, root3, root2]);
    expect(all.next_batch).toBeUndefined();
    expect((((all.chunk as JsonObject[])[0]!.unsigned as JsonObject)["m.relations"] as JsonObject)["m.thread"]).toMatchObject({ count: 2 });
    const mine = await b.ok("GET", v1Room(roomId, "threads?include=participated"));
    expect(ids(mine.chunk)).toEqual([root, root2]);
    const p1 = await b.ok("GET", v1Room(roomId, "threads?limit=2"));
    expect(ids(p1.chunk)).toEqual([root, root3]);
    const p2 = await b.ok("GET", v1Room(roomId, `threads?limit=2&from=${enc(p1.next_batch as string)}`));
    expect(ids(p2.chunk)).toEqual([root2]);
    expect(p2.next_batch).toBeUndefined();
    expectError(await b.call("GET", v1Room(roomId, "threads?include=mine")), 400, "M_INVALID_PARAM");
    expectError(await b.call("GET", v1Room(roomId, "threads?limit=0")), 400, "M_INVALID_PARAM");
  });
});

describe("[ephemeral] typing, receipts, read markers", { timeout: 120_000 }, () => {
  it("[cs: typing] a joined member types for the timeout; stopping and lapsing both clear it; only for oneself", async () => {
    const a = await newUser();
    const b = await newUser();
    const stranger = await newUser();
    const roomId = await createRoom(a, { preset: "public_chat" });
    await join(b, roomId);
    const stub = roomActor(env, roomId);
    const s0 = (await stub.typingUsers()).serial;
    await a.ok("PUT", roomPath(roomId, `typing/${enc(a.userId)}`), { typing: true, timeout: 30000 });
    await b.ok("PUT", roomPath(roomId, `typing/${enc(b.userId)}`), { typing: true, timeout: 1500 });
    const t1 = await stub.typingUsers();
    expect(t1.user_ids).toEqual([a.userId, b.userId].sort());
    expect(t1.serial).toBe(s0 + 2);
    await a.ok("PUT", roomPath(roomId, `typing/${enc(a.userId)}`), { typing: false });
    expect((await stub.typingUsers()).user_ids).toEqual([b.userId]);
    await new Promise((r) => setTimeout(r, 2000));
    const t2 = await stub.typingUsers();
    expect(t2.user_ids).toEqual([]);
    expect(t2.serial).toBe(s0 + 4); // the lapse was a change too (a timer fired it)
    expectError(await a.call("PUT", roomPath(roomId, `typing/${enc(b.userId)}`), { typing: true, timeout: 1000 }), 403, "M_FORBIDDEN");
    expectError(await stranger.call("PUT", roomPath(roomId, `typing/${enc(stranger.userId)}`), { typing: true, timeout: 1000 }), 403, "M_FORBIDDEN");
    expectError(await a.call("PUT", roomPath(roomId, `typing/${enc(a.userId)}`), { typing: true }), 400, "M_BAD_JSON");
  });

  it("[cs: receipts] m.read is shared, m.read.private only with its owner; receipts never move back; positions for /sync", async () => {
    const a = await newUser();
    const b = await newUser();
    const roomId = await createRoom(a, { preset: "public_chat" });
    await join(b, roomId);
    const e1 = await say(a, roomId, "one");
    const e2 = await say(a, roomId, "two");
    const stub = roomActor(env, roomId);
    const p0 = (await stub.receiptsSince({ since: 0, userId: a.userId })).position;
    await b.ok("POST", roomPath(roomId, `receipt/m.read/${enc(e2)}`), {});
    await b.ok("POST", roomPath(roomId, `receipt/m.read.private/${enc(e2)}`), {});
    const forA = await stub.receiptsSince({ since: p0, userId: a.userId });
    expect(forA.content).toEqual({ [e2]: { "m.read": { [b.userId]: { ts: expect.any(Number) } } } });
    const forB = await stub.receiptsSince({ since: p0, userId: b.userId });
    expect(Object.keys((forB.content as Record<string, JsonObject>)[e2]!).sort()).toEqual(["m.read", "m.read.private"]);
    expect(forA.position).toBe(forB.position);
    // An older event does not move the receipt back.
    await b.ok("POST", roomPath(roomId, `receipt/m.read/${enc(e1)}`), {});
    const after = await stub.receiptsSince({ since: forA.position, userId: a.userId });
    expect(after.content).toEqual({});
    expect(after.position).toBe(forA.position);

    expectError(await b.call("POST", roomPath(roomId, `receipt/m.read/${enc(UNKNOWN_EVENT)}`), {}), 404, "M_NOT_FOUND");
    expectError(await b.call("POST", roomPath(roomId, `receipt/m.bogus/${enc(e2)}`), {}), 400, "M_INVALID_PARAM");
    const stranger = await newUser();
    expectError(await stranger.call("POST", roomPath(roomId, `receipt/m.read/${enc(e2)}`), {}), 403, "M_FORBIDDEN");
  });

  it("[cs: receipts/threaded] thread_id main or a thread root; the event must be in that thread", async () => {
    const a = await newUser();
    const roomId = await createRoom(a);
    const root = await say(a, roomId, "root");
    const reply = await send(a, roomId, { msgtype: "m.text", body: "r", "m.relates_to": { rel_type: "m.thread", event_id: root } });
    const stub = roomActor(env, roomId);
    const p0 = (await stub.receiptsSince({ since: 0, userId: a.userId })).position;
    await a.ok("POST", roomPath(roomId, `receipt/m.read/${enc(reply)}`), { thread_id: root });
    await a.ok("POST", roomPath(roomId, `receipt/m.read/${enc(root)}`), { thread_id: "main" });
    await a.ok("POST", roomPath(roomId, `receipt/m.read/${enc(root)}`), { thread_id: root });
    const got = await stub.receiptsSince({ since: p0, userId: a.userId });
    expect(got.content).toEqual({
      [reply]: { "m.read": { [a.userId]: { ts: expect.any(Number), thread_id: root } } },
      [root]: { "m.read": { [a.userId]: { ts: expect.any(Number), thread_id: "main" } } },
    });
    expectError(await a.call("POST", roomPath(roomId, `receipt/m.read/${enc(reply)}`), { thread_id: "main" }), 400, "M_INVALID_PARAM");
    expectError(await a.call("POST", roomPath(roomId, `receipt/m.read/${enc(root)}`), { thread_id: "" }), 400, "M_INVALID_PARAM");
    expectError(await a.call("POST", roomPath(roomId, `receipt/m.read/${enc(root)}`), { thread_id: 5 }), 400, "M_INVALID_PARAM");
    expectError(await a.call("POST", roomPath(roomId, `receipt/m.fully_read/${enc(root)}`), { thread_id: "main" }), 400, "M_INVALID_PARAM");
  });

  it("[cs: read_markers] m.fully_read becomes room account data; m.read and m.read.private become receipts", async () => {
    const a = await newUser();
    const roomId = await createRoom(a);
    const e1 = await say(a, roomId, "one");
    const e2 = await say(a, roomId, "two");
    await a.ok("POST", roomPath(roomId, "read_markers"), { "m.fully_read": e1, "m.read": e2, "m.read.private": e2 });
    const marker = await a.ok("GET", `${V3}/user/${enc(a.userId)}/rooms/${enc(roomId)}/account_data/m.fully_read`);
    expect(marker).toEqual({ event_id: e1 });
    const got = await roomActor(env, roomId).receiptsSince({ since: 0, userId: a.userId });
    expect(Object.keys((got.content as Record<string, JsonObject>)[e2]!).sort()).toEqual(["m.read", "m.read.private"]);
    await a.ok("POST", roomPath(roomId, `receipt/m.fully_read/${enc(e2)}`), {});
    expect(await a.ok("GET", `${V3}/user/${enc(a.userId)}/rooms/${enc(roomId)}/account_data/m.fully_read`)).toEqual({ event_id: e2 });
    expectError(await a.call("POST", roomPath(roomId, "read_markers"), { "m.fully_read": UNKNOWN_EVENT }), 404, "M_NOT_FOUND");
    expect(await a.ok("GET", `${V3}/user/${enc(a.userId)}/rooms/${enc(roomId)}/account_data/m.fully_read`)).toEqual({ event_id: e2 });
  });
});
