// The published room directory: /directory/list/room visibility with its permissions,
// createRoom visibility, GET/POST /publicRooms (FTS5 search, room_types, keyset
// pagination, networks, server), and entries kept current from room events.
// https://spec.matrix.org/v1.19/client-server-api/#listing-rooms
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import type { Room } from "../../party/room.ts";
import { roomActor } from "../../party/stubs.ts";
import { AS_TOKEN, eventually, newAdmin, uniqueWord } from "./directory-helpers.ts";
import { call, createRoom, expectError, newUser, roomPath, roomSql, SERVER_NAME, V3, type TestUser } from "./room-helpers.ts";

const listPath = (roomId: string) => `${V3}/directory/list/room/${encodeURIComponent(roomId)}`;

async function search(u: TestUser, term: string, extra: JsonObject = {}): Promise<JsonObject> {
  return u.ok("POST", `${V3}/publicRooms`, { ...extra, filter: { generic_search_term: term, ...((extra.filter as JsonObject) ?? {}) } });
}
const ids = (r: JsonObject) => (r.chunk as JsonObject[]).map((c) => c.room_id);

/** The room's entry once it satisfies `check` (entries follow their rooms after commit). */
async function entryWhen(u: TestUser, term: string, roomId: string, check: (c: JsonObject) => boolean): Promise<JsonObject> {
  return eventually(async () => {
    const c = (await search(u, term)).chunk as JsonObject[];
    const hit = c.find((x) => x.room_id === roomId);
    return hit && check(hit) ? hit : undefined;
  }, `the directory entry of ${roomId}`);
}

describe("[cs: directory/list/room] visibility", () => {
  it("[cs: directory/list/room] a new room is private; its creator publishes it; GET needs no token", async () => {
    const a = await newUser();
    const roomId = await createRoom(a);
    expect((await call("GET", listPath(roomId))).body).toEqual({ visibility: "private" });
    expect(await a.ok("PUT", listPath(roomId), { visibility: "public" })).toEqual({});
    expect((await call("GET", listPath(roomId))).body).toEqual({ visibility: "public" });
    await a.ok("PUT", listPath(roomId), { visibility: "private" });
    expect((await call("GET", listPath(roomId))).body).toEqual({ visibility: "private" });
  });

  it("[cs: directory/list/room] visibility defaults to public; other values are 400 M_INVALID_PARAM", async () => {
    const a = await newUser();
    const roomId = await createRoom(a);
    await a.ok("PUT", listPath(roomId), {});
    expect((await call("GET", listPath(roomId))).body).toEqual({ visibility: "public" });
    expectError(await a.call("PUT", listPath(roomId), { visibility: "everyone" }), 400, "M_INVALID_PARAM");
  });

  it("[cs: directory/list/room] an unknown room is 404 M_NOT_FOUND for GET and PUT", async () => {
    const a = await newUser();
    const nope = `!nope${uniqueWord()}:${SERVER_NAME}`;
    expectError(await call("GET", listPath(nope)), 404, "M_NOT_FOUND");
    expectError(await a.call("PUT", listPath(nope), { visibility: "public" }), 404, "M_NOT_FOUND");
    expectError(await call("GET", listPath("not-a-room")), 400, "M_INVALID_PARAM");
  });

  it("[cs: directory/list/room] members without the power to send m.room.canonical_alias and non-members get 403; admins may", async () => {
    const a = await newUser();
    const b = await newUser();
    const c = await newUser();
    const admin = await newAdmin();
    const roomId = await createRoom(a, { preset: "public_chat" });
    await b.ok("POST", roomPath(roomId, "join"), {});
    expectError(await b.call("PUT", listPath(roomId), { visibility: "public" }), 403, "M_FORBIDDEN");
    expectError(await c.call("PUT", listPath(roomId), { visibility: "public" }), 403, "M_FORBIDDEN");
    expect((await call("GET", listPath(roomId))).body).toEqual({ visibility: "private" });
    // a moderator (power 50 meets the state default 50 that m.room.canonical_alias needs)
    const pl = await a.ok("GET", roomPath(roomId, "state/m.room.power_levels/"));
    await a.ok("PUT", roomPath(roomId, "state/m.room.power_levels/"), { ...pl, users: { ...(pl.users as JsonObject), [b.userId]: 50 } });
    await b.ok("PUT", listPath(roomId), { visibility: "public" });
    await admin.ok("PUT", listPath(roomId), { visibility: "private" });
    expect((await call("GET", listPath(roomId))).body).toEqual({ visibility: "private" });
    expectError(await call("PUT", listPath(roomId), { visibility: "public" }), 401, "M_MISSING_TOKEN");
  });

  it("[cs: createRoom/visibility] visibility public publishes the room with its entry; private does not", async () => {
    const a = await newUser();
    const word = uniqueWord();
    const pub = await createRoom(a, { visibility: "public", name: `Pub ${word}`, topic: "a topic" });
    const priv = await createRoom(a, { visibility: "private", preset: "public_chat", name: `Priv ${word}` });
    expect((await call("GET", listPath(pub))).body).toEqual({ visibility: "public" });
    expect((await call("GET", listPath(priv))).body).toEqual({ visibility: "private" });
    const r = await search(a, word);
    expect(r.chunk).toEqual([
      { room_id: pub, name: `Pub ${word}`, topic: "a topic", num_joined_members: 1, world_readable: false, guest_can_join: false, join_rule: "public" },
    ]);
    expect(r.total_room_count_estimate).toBe(1);
  });
});

describe("[cs: publicRooms] listing and search", () => {
  it("[cs: GET publicRooms] lists published rooms without a token; POST needs one", async () => {
    const a = await newUser();
    const roomId = await createRoom(a, { visibility: "public" });
    const r = await call("GET", `${V3}/publicRooms?limit=500`);
    expect(r.status).toBe(200);
    expect(typeof r.body.total_room_count_estimate).toBe("number");
    // the newest test room may be on a later page when other tests published many
    expect(Array.isArray(r.body.chunk)).toBe(true);
    expectError(await call("POST", `${V3}/publicRooms`, {}), 401, "M_MISSING_TOKEN");
    expect((await a.ok("POST", `${V3}/publicRooms`, { limit: 1 })).chunk).toHaveLength(1);
    expect(roomId).toBeTruthy();
  });

  it("[cs: POST publicRooms/filter] generic_search_term matches name, topic and canonical alias by word prefix, any case", async () => {
    const a = await newUser();
    const w = uniqueWord();
    const byName = await createRoom(a, { visibility: "public", name: `${w}name Gardening` });
    const byTopic = await createRoom(a, { visibility: "public", topic: `All about ${w}topic and Ünïcode` });
    const aliasName = `${w}alias-lovers`;
    const byAlias = await createRoom(a, { visibility: "public", room_alias_name: aliasName });
    await createRoom(a, { visibility: "private", preset: "public_chat", name: `${w}name hidden` });
    expect(ids(await search(a, `${w}NAME`))).toEqual([byName]);
    expect(ids(await search(a, `${w.slice(0, 10)}`)).sort()).toEqual([byName, byTopic, byAlias].sort());
    expect(ids(await search(a, `${w}topic unicode`))).toEqual([byTopic]);
    expect(ids(await search(a, `#${w}alias-lov`))).toEqual([byAlias]);
    expect((await search(a, `${w}alias`)).chunk).toEqual([
      expect.objectContaining({ room_id: byAlias, canonical_alias: `#${aliasName}:${SERVER_NAME}` }),
    ]);
    expect(ids(await search(a, `${w}name gard`))).toEqual([byName]);
    expect(ids(await search(a, `${w}name nothing`))).toEqual([]);
  });

  it("[cs: POST publicRooms/filter] FTS5 syntax in the search term is text, never an error or a broader query", async () => {
    const a = await newUser();
    const w = uniqueWord();
    // Every word the terms below contain is in the name, so each (quoted, ANDed) query matches it.
    const roomId = await createRoom(a, { visibility: "public", name: `${w} near the OR sign, name and` });
    for (const term of [`"${w}`, `${w}*`, `name:${w}`, `${w} OR`, `NEAR(${w})`, `${w} AND "`, `^${w}`, `(${w}`, `${w}) OR (x`]) {
      const r = await a.call("POST", `${V3}/publicRooms`, { filter: { generic_search_term: term } });
      expect(r.status, `${term}: ${JSON.stringify(r.body)}`).toBe(200);
      expect(ids(r.body), term).toEqual(term.includes("x") ? [] : [roomId]);
    }
    // a term with no words matches nothing (rather than everything)
    expect(await search(a, ' "" * : ')).toEqual({ chunk: [], total_room_count_estimate: 0 });
  });

  it("[cs: POST publicRooms/filter] room_types: a type, null for rooms without one, both", async () => {
    const a = await newUser();
    const w = uniqueWord();
    const space = await createRoom(a, { visibility: "public", name: w, creation_content: { type: "m.space" } });
    const plain = await createRoom(a, { visibility: "public", name: w });
    const other = await createRoom(a, { visibility: "public", name: w, creation_content: { type: "org.example.custom" } });
    const r = await search(a, w, { filter: { room_types: ["m.space"] } });
    expect(ids(r)).toEqual([space]);
    expect((r.chunk as JsonObject[])[0]!.room_type).toBe("m.space");
    expect(ids(await search(a, w, { filter: { room_types: [null] } }))).toEqual([plain]);
    expect(ids(await search(a, w, { filter: { room_types: [null, "m.space"] } })).sort()).toEqual([space, plain].sort());
    expect(ids(await search(a, w, { filter: { room_types: [] } })).sort()).toEqual([space, plain, other].sort());
    expect((await search(a, w, { filter: { room_types: ["m.space"] } })).total_room_count_estimate).toBe(1);
  });

  it("[cs: publicRooms/pagination] limit, next_batch and prev_batch walk the list largest room first, without repeats or gaps", async () => {
    const a = await newUser();
    const w = uniqueWord();
    const members = [await newUser(), await newUser(), await newUser()];
    const rooms: Array<{ id: string; size: number }> = [];
    for (let i = 0; i < 7; i++) {
      const id = await createRoom(a, { visibility: "public", preset: "public_chat", name: `${w} room ${i}` });
      const size = 1 + (i % 4);
      for (const m of members.slice(0, size - 1)) await m.ok("POST", roomPath(id, "join"), {});
      rooms.push({ id, size });
    }
    const expected = [...rooms].sort((x, y) => y.size - x.size || (x.id < y.id ? -1 : 1)).map((r) => r.id);
    await eventually(async () => JSON.stringify(ids(await search(a, w, { limit: 50 }))) === JSON.stringify(expected), "member counts");
    const pages: string[][] = [];
    let since: string | undefined;
    const tokens: Array<string | undefined> = [];
    do {
      const r = await search(a, w, { limit: 3, ...(since ? { since } : {}) });
      expect(r.total_room_count_estimate).toBe(7);
      pages.push(ids(r) as string[]);
      tokens.push(r.prev_batch as string | undefined);
      since = r.next_batch as string | undefined;
    } while (since);
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    expect(pages.flat()).toEqual(expected);
    expect(tokens[0]).toBeUndefined();
    // back from the last page
    const back = await search(a, w, { limit: 3, since: tokens[2]! });
    expect(ids(back)).toEqual(pages[1]);
    expect(back.next_batch).toBeDefined();
    const first = await search(a, w, { limit: 3, since: back.prev_batch });
    expect(ids(first)).toEqual(pages[0]);
    expect(first.prev_batch).toBeUndefined();
    // GET pages the same way (over every published room)
    const g = await call("GET", `${V3}/publicRooms?limit=2`);
    expect((g.body.chunk as unknown[]).length).toBe(2);
    const g2 = await call("GET", `${V3}/publicRooms?limit=2&since=${encodeURIComponent(g.body.next_batch as string)}`);
    expect(g2.status).toBe(200);
    expect(ids(g2.body).some((id) => ids(g.body).includes(id))).toBe(false);
    expectError(await call("GET", `${V3}/publicRooms?since=bogus`), 400, "M_INVALID_PARAM");
  });

  it("[cs: publicRooms/server] our own server name lists our rooms; another server is 404 (no federation)", async () => {
    const a = await newUser();
    expect((await call("GET", `${V3}/publicRooms?limit=1&server=${SERVER_NAME}`)).status).toBe(200);
    expectError(await call("GET", `${V3}/publicRooms?server=other.example`), 404, "M_NOT_FOUND");
    expectError(await a.call("POST", `${V3}/publicRooms?server=other.example`, {}), 404, "M_NOT_FOUND");
  });
});

describe("[cs: publicRooms] entries follow their rooms", () => {
  it("[cs: publicRooms/chunk] name, topic, avatar, canonical alias, join rule, history visibility and guest access changes reach the entry", async () => {
    const a = await newUser();
    const w = uniqueWord();
    const alias = `${w}canon`;
    const roomId = await createRoom(a, { visibility: "public", name: `${w} before`, room_alias_name: alias });
    await a.ok("PUT", roomPath(roomId, "state/m.room.name/"), { name: `${w} after` });
    await a.ok("PUT", roomPath(roomId, "state/m.room.topic/"), { topic: "new topic" });
    await a.ok("PUT", roomPath(roomId, "state/m.room.avatar/"), { url: "mxc://example.org/avatar" });
    await a.ok("PUT", roomPath(roomId, "state/m.room.history_visibility/"), { history_visibility: "world_readable" });
    await a.ok("PUT", roomPath(roomId, "state/m.room.guest_access/"), { guest_access: "can_join" });
    await a.ok("PUT", roomPath(roomId, "state/m.room.join_rules/"), { join_rule: "knock" });
    const entry = await entryWhen(a, w, roomId, (c) => c.join_rule === "knock" && c.name === `${w} after`);
    expect(entry).toEqual({
      room_id: roomId,
      name: `${w} after`,
      topic: "new topic",
      avatar_url: "mxc://example.org/avatar",
      canonical_alias: `#${alias}:${SERVER_NAME}`,
      join_rule: "knock",
      world_readable: true,
      guest_can_join: true,
      num_joined_members: 1,
    });
    // the old name is no longer found, the new topic is
    expect(ids(await search(a, `${w} before`))).toEqual([]);
    expect(ids(await search(a, `${w} new topic`))).toEqual([roomId]);
  });

  it("[cs: publicRooms/chunk] joins and leaves change num_joined_members", async () => {
    const a = await newUser();
    const b = await newUser();
    const c = await newUser();
    const w = uniqueWord();
    const roomId = await createRoom(a, { visibility: "public", name: w });
    await b.ok("POST", roomPath(roomId, "join"), {});
    await c.ok("POST", roomPath(roomId, "join"), {});
    await entryWhen(a, w, roomId, (x) => x.num_joined_members === 3);
    await c.ok("POST", roomPath(roomId, "leave"), {});
    await entryWhen(a, w, roomId, (x) => x.num_joined_members === 2);
  });

  it("[cs: publicRooms] unpublishing removes the room from listings and search at once", async () => {
    const a = await newUser();
    const w = uniqueWord();
    const roomId = await createRoom(a, { visibility: "public", name: w });
    expect(ids(await search(a, w))).toEqual([roomId]);
    await a.ok("PUT", listPath(roomId), { visibility: "private" });
    expect(ids(await search(a, w))).toEqual([]);
    // later changes of the room do not bring it back
    await a.ok("PUT", roomPath(roomId, "state/m.room.topic/"), { topic: `${w} again` });
    await new Promise((r) => setTimeout(r, 200));
    expect(ids(await search(a, w))).toEqual([]);
  });

  it("[room: outbox] directory rows are written with their events and gone after delivery; messages add none", async () => {
    const a = await newUser();
    const roomId = await createRoom(a, { visibility: "public" });
    await eventually(async () => (await roomSql(roomId, "SELECT id FROM outbox")).length === 0, "an empty outbox");
    const sent = await a.ok("PUT", roomPath(roomId, `send/m.room.message/dir${Date.now()}`), { msgtype: "m.text", body: "hi" });
    expect(sent.event_id).toBeDefined();
    // a message commits no outbox row (the event row and its ID index: 2 rows)
    expect(await runInDurableObject(roomActor(env, roomId), (room: Room) => room.lastCommitStats())).toEqual({ rowsWritten: 2, events: 1 });
  });

  it("[room: outbox] while D1 fails the directory row stays in the outbox with a retry time and an alarm; the retry delivers it", async () => {
    const a = await newUser();
    const w = uniqueWord();
    const roomId = await createRoom(a, { visibility: "public", name: w });
    const stub = roomActor(env, roomId);
    await eventually(async () => (await roomSql(roomId, "SELECT id FROM outbox")).length === 0, "an empty outbox");
    const db = await runInDurableObject(stub, (room: Room) => (room as unknown as { env: { DB: D1Database } }).env.DB);
    const batch = db.batch;
    db.batch = () => Promise.reject(new Error("D1 is down (test)"));
    try {
      await a.ok("PUT", roomPath(roomId, "state/m.room.topic/"), { topic: "while down" });
      const rows = await eventually(async () => {
        const r = await roomSql<{ kind: string; attempts: number; next_ts: number }>(roomId, "SELECT kind, attempts, next_ts FROM outbox");
        return r.length === 1 && r[0]!.attempts === 1 ? r : undefined;
      }, "a failed delivery");
      expect(rows[0]!.kind).toBe("directory");
      expect(rows[0]!.next_ts).toBeGreaterThan(Date.now());
      expect(await runInDurableObject(stub, (_: Room, state) => state.storage.getAlarm())).not.toBeNull();
    } finally {
      db.batch = batch;
    }
    expect((await search(a, w)).chunk).toEqual([expect.not.objectContaining({ topic: "while down" })]);
    // the alarm retries after the first backoff (1 s) on its own
    await eventually(async () => (await roomSql(roomId, "SELECT id FROM outbox")).length === 0, "the retried delivery");
    await entryWhen(a, w, roomId, (x) => x.topic === "while down");
  });

  it("[room: outbox] a lost D1 row is restored by the room's next directory change (deliveries rewrite from current state)", async () => {
    const a = await newUser();
    const w = uniqueWord();
    const roomId = await createRoom(a, { visibility: "public", name: w });
    await env.DB.prepare("DELETE FROM room_directory WHERE room_id = ?").bind(roomId).run();
    expect(ids(await search(a, w))).toEqual([]);
    await a.ok("PUT", roomPath(roomId, "state/m.room.topic/"), { topic: "touch" });
    await entryWhen(a, w, roomId, (x) => x.topic === "touch");
  });
});

describe("[as: published room directories] appservice network lists", () => {
  it("[as: directory/list/appservice] an appservice publishes a room to its network; third_party_instance_id and include_all_networks find it", async () => {
    const a = await newUser();
    const w = uniqueWord();
    const roomId = await createRoom(a, { name: w });
    const path = `${V3}/directory/list/appservice/gitter/${encodeURIComponent(roomId)}`;
    expectError(await a.call("PUT", path, { visibility: "public" }), 403, "M_FORBIDDEN");
    expectError(await call("PUT", path, { visibility: "public" }), 401, "M_MISSING_TOKEN");
    const r = await call("PUT", path, { visibility: "public" }, AS_TOKEN);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(ids(await search(a, w))).toEqual([]); // not in the server's own list
    expect(ids(await search(a, w, { third_party_instance_id: "bridge|gitter" }))).toEqual([roomId]);
    expect(ids(await search(a, w, { third_party_instance_id: "bridge|other" }))).toEqual([]);
    expect(ids(await search(a, w, { include_all_networks: true }))).toEqual([roomId]);
    // published in both lists, it is listed once across all networks
    await a.ok("PUT", listPath(roomId), { visibility: "public" });
    expect(ids(await search(a, w, { include_all_networks: true }))).toEqual([roomId]);
    expect((await search(a, w, { include_all_networks: true })).total_room_count_estimate).toBe(1);
    await call("PUT", path, { visibility: "private" }, AS_TOKEN);
    expect(ids(await search(a, w, { third_party_instance_id: "bridge|gitter" }))).toEqual([]);
    expect(ids(await search(a, w))).toEqual([roomId]);
  });

  it("[as: directory/list/appservice] a room is in at most 32 lists (400 M_INVALID_PARAM beyond)", async () => {
    const a = await newUser();
    const roomId = await createRoom(a);
    for (let i = 0; i < 32; i++) {
      const r = await call("PUT", `${V3}/directory/list/appservice/net${i}/${encodeURIComponent(roomId)}`, { visibility: "public" }, AS_TOKEN);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    }
    expectError(await call("PUT", `${V3}/directory/list/appservice/net32/${encodeURIComponent(roomId)}`, { visibility: "public" }, AS_TOKEN), 400, "M_INVALID_PARAM");
    await a.ok("PUT", listPath(roomId), { visibility: "private" }); // leaving a list it is not in is fine
    const rows = await env.DB.prepare("SELECT COUNT(*) AS n FROM room_directory WHERE room_id = ?").bind(roomId).first<{ n: number }>();
    expect(rows?.n).toBe(32);
  });
});
