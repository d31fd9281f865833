// POST /search (room_events) through the edge Worker, inside workerd: per-room FTS5 index,
// history visibility, ordering, pagination across rooms, context, state, groupings.
// https://spec.matrix.org/v1.19/client-server-api/#server-side-search
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { router } from "../../party/edge/index.ts";
import { BASE, call, createRoom, enc, expectError, newUser, roomPath, sendMessage, V3, type TestUser } from "./room-helpers.ts";

type Result = { rank: number; result: JsonObject & { event_id: string; content: JsonObject; room_id: string }; context?: JsonObject };
type RoomEvents = { count: number; highlights: string[]; results: Result[]; next_batch?: string; state?: Record<string, JsonObject[]>; groups?: JsonObject };

async function search(u: TestUser, criteria: JsonObject, nextBatch?: string): Promise<RoomEvents> {
  const q = nextBatch === undefined ? "" : `?next_batch=${enc(nextBatch)}`;
  const r = await u.ok("POST", `${V3}/search${q}`, { search_categories: { room_events: criteria } });
  return (r.search_categories as { room_events: RoomEvents }).room_events;
}

const bodies = (re: RoomEvents) => re.results.map((r) => r.result.content.body ?? r.result.content.name ?? r.result.content.topic);
const send = async (u: TestUser, room: string, body: string) => (await sendMessage(u, room, body)).body.event_id as string;

/** A search under other settings (SEARCH_INDEX_BUDGET), run to completion. */
async function searchWith(vars: Record<string, string>, u: TestUser, criteria: JsonObject): Promise<RoomEvents> {
  const ctx = createExecutionContext();
  const req = new Request(`${BASE}${V3}/search`, {
    method: "POST",
    headers: { Authorization: `Bearer ${u.token}` },
    body: JSON.stringify({ search_categories: { room_events: criteria } }),
  });
  const res = await router.handle(req, { ...env, ...vars }, ctx);
  await waitOnExecutionContext(ctx);
  expect(res.status).toBe(200);
  return ((await res.json()) as { search_categories: { room_events: RoomEvents } }).search_categories.room_events;
}

describe("[cs: server-side search] POST /search room_events", () => {
  it("[cs: server-side search] words match as prefixes, case-insensitively; count, highlights, ClientEvent results", async () => {
    const alice = await newUser("search");
    const room = await createRoom(alice);
    await send(alice, room, "the quick brown fox");
    await send(alice, room, "a lazy dog");
    await send(alice, room, "Foxes are clever");
    const re = await search(alice, { search_term: "FOX" });
    expect(re.count).toBe(2);
    expect(re.highlights).toEqual(["fox"]);
    expect(bodies(re).sort()).toEqual(["Foxes are clever", "the quick brown fox"]);
    expect(re.results[0]!.result).toMatchObject({ type: "m.room.message", room_id: room, sender: alice.userId });
    expect(typeof re.results[0]!.rank).toBe("number");
    expect(re.next_batch).toBeUndefined();
    // Every word must match.
    expect(bodies(await search(alice, { search_term: "quick fox" }))).toEqual(["the quick brown fox"]);
    expect((await search(alice, { search_term: "cat" })).results).toEqual([]);
    // FTS syntax in the term is just text.
    expect((await search(alice, { search_term: 'fox"* ) {body' })).count).toBe(0); // words fox, body: no message has both
    expect((await search(alice, { search_term: '"fox*" ^(' })).count).toBe(2);
    // New messages are found by the next search (the index catches up).
    await send(alice, room, "another fox");
    expect((await search(alice, { search_term: "fox" })).count).toBe(3);
  });

  it("[cs: server-side search] only joined rooms, and only events the user may see (history visibility); redacted events are not found", async () => {
    const alice = await newUser("search");
    const bob = await newUser("search");
    const room = await createRoom(alice, {
      preset: "public_chat",
      initial_state: [{ type: "m.room.history_visibility", state_key: "", content: { history_visibility: "joined" } }],
    });
    const other = await createRoom(alice, { preset: "public_chat" });
    await send(alice, room, "zebra before bob");
    await send(alice, other, "zebra elsewhere");
    await bob.ok("POST", roomPath(room, "join"), {});
    const after = await send(alice, room, "zebra after bob");
    expect(bodies(await search(bob, { search_term: "zebra" }))).toEqual(["zebra after bob"]);
    expect((await search(alice, { search_term: "zebra" })).count).toBe(3);
    await alice.ok("PUT", roomPath(room, `redact/${enc(after)}/r${Date.now()}`), {});
    expect((await search(bob, { search_term: "zebra" })).results).toEqual([]);
  });

  it("[cs: server-side search] order_by recent, pages across rooms by next_batch; filter rooms/senders/limit", async () => {
    const alice = await newUser("search");
    const bob = await newUser("search");
    const r1 = await createRoom(alice, { preset: "public_chat" });
    const r2 = await createRoom(alice, { preset: "public_chat" });
    await bob.ok("POST", roomPath(r2, "join"), {});
    const sent: string[] = [];
    for (let i = 0; i < 5; i++) {
      sent.push(await send(alice, i % 2 === 0 ? r1 : r2, `walrus number ${i}`));
      await new Promise((res) => setTimeout(res, 2));
    }
    await send(bob, r2, "walrus from bob");
    const all = await search(alice, { search_term: "walrus", order_by: "recent" });
    expect(bodies(all)[0]).toBe("walrus from bob");
    expect(all.count).toBe(6);
    const ids: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await search(alice, { search_term: "walrus", order_by: "recent", filter: { limit: 2 } }, token);
      expect(page.results.length).toBeLessThanOrEqual(2);
      ids.push(...page.results.map((r) => r.result.event_id));
      token = page.next_batch;
      pages++;
    } while (token !== undefined && pages < 10);
    expect(ids).toEqual(all.results.map((r) => r.result.event_id));
    expect(pages).toBe(3);
    expect(ids.slice(1)).toEqual([...sent].reverse());
    expect(bodies(await search(alice, { search_term: "walrus", filter: { rooms: [r1] } })).sort()).toEqual(["walrus number 0", "walrus number 2", "walrus number 4"]);
    expect(bodies(await search(alice, { search_term: "walrus", filter: { senders: [bob.userId] } }))).toEqual(["walrus from bob"]);
    expect((await search(alice, { search_term: "walrus", filter: { not_senders: [alice.userId] } })).count).toBe(1);
  });

  it("[cs: server-side search] keys choose the fields: content.name, content.topic", async () => {
    const alice = await newUser("search");
    const room = await createRoom(alice, { name: "Ocelot lounge", topic: "All about ocelots" });
    await send(alice, room, "ocelot sighting");
    expect(bodies(await search(alice, { search_term: "ocelot", keys: ["content.name"] }))).toEqual(["Ocelot lounge"]);
    expect(bodies(await search(alice, { search_term: "ocelot", keys: ["content.topic"] }))).toEqual(["All about ocelots"]);
    expect(bodies(await search(alice, { search_term: "ocelot", keys: ["content.body"] }))).toEqual(["ocelot sighting"]);
    expect((await search(alice, { search_term: "ocelot" })).count).toBe(3);
  });

  it("[cs: server-side search] event_context (before/after, profile), include_state, groupings by room_id and sender", async () => {
    const alice = await newUser("search");
    const room = await createRoom(alice, { name: "Ctx" });
    await alice.ok("PUT", `${V3}/profile/${enc(alice.userId)}/displayname`, { displayname: "Alice A" });
    await send(alice, room, "one");
    await send(alice, room, "two");
    const hit = await send(alice, room, "narwhal");
    await send(alice, room, "four");
    const re = await search(alice, {
      search_term: "narwhal",
      event_context: { before_limit: 2, after_limit: 1, include_profile: true },
      include_state: true,
      groupings: { group_by: [{ key: "room_id" }, { key: "sender" }] },
    });
    expect(re.results.length).toBe(1);
    const ctx = re.results[0]!.context as JsonObject & { events_before: Array<{ content: JsonObject }>; events_after: Array<{ content: JsonObject }> };
    expect(ctx.events_before.map((e) => e.content.body)).toEqual(["two", "one"]);
    expect(ctx.events_after.map((e) => e.content.body)).toEqual(["four"]);
    expect(typeof ctx.start).toBe("string");
    expect(typeof ctx.end).toBe("string");
    expect(ctx.profile_info).toEqual({ [alice.userId]: { displayname: "Alice A" } });
    // The tokens page /messages from the context's ends.
    const older = await alice.ok("GET", roomPath(room, `messages?dir=b&from=${enc(ctx.start as string)}&limit=1`));
    expect((older.chunk as JsonObject[]).length).toBe(1);
    const state = re.state![room]!;
    expect(state.some((e) => e.type === "m.room.name" && (e.content as JsonObject).name === "Ctx")).toBe(true);
    expect(re.groups).toEqual({
      room_id: { [room]: { results: [hit], order: 1 } },
      sender: { [alice.userId]: { results: [hit], order: 1 } },
    });
  });

  it("[cs: server-side search] bad input: 400 with M_MISSING_PARAM / M_INVALID_PARAM / M_BAD_JSON; no token 401", async () => {
    const alice = await newUser("search");
    const post = (b: unknown, q = "") => alice.call("POST", `${V3}/search${q}`, b);
    expectError(await post({}), 400, "M_MISSING_PARAM");
    expectError(await post({ search_categories: { room_events: {} } }), 400, "M_MISSING_PARAM");
    expectError(await post({ search_categories: { room_events: { search_term: 5 } } }), 400, "M_MISSING_PARAM");
    expectError(await post({ search_categories: { room_events: { search_term: "x", keys: ["content.msgtype"] } } }), 400, "M_INVALID_PARAM");
    expectError(await post({ search_categories: { room_events: { search_term: "x", order_by: "oldest" } } }), 400, "M_INVALID_PARAM");
    expectError(await post({ search_categories: { room_events: { search_term: "x", filter: { limit: "ten" } } } }), 400, "M_BAD_JSON");
    expectError(await post({ search_categories: { room_events: { search_term: "x", event_context: { before_limit: -1 } } } }), 400, "M_INVALID_PARAM");
    expectError(await post({ search_categories: { room_events: { search_term: "x", groupings: { group_by: [{ key: "type" }] } } } }), 400, "M_INVALID_PARAM");
    expectError(await post({ search_categories: { room_events: { search_term: "x" } } }, "?next_batch=%%%"), 400, "M_INVALID_PARAM");
    expectError(await call("POST", `${V3}/search`, { search_categories: { room_events: { search_term: "x" } } }), 401, "M_MISSING_TOKEN");
    // No category asked: nothing to answer.
    expect(await alice.ok("POST", `${V3}/search`, { search_categories: {} })).toEqual({ search_categories: {} });
    // A term with no words matches nothing.
    expect((await search(alice, { search_term: "!!!" })).results).toEqual([]);
  });

  it("[search index] SEARCH_INDEX_BUDGET: each search indexes at most that many events, newest history first, new events before history", async () => {
    const alice = await newUser("search");
    const room = await createRoom(alice);
    for (let i = 1; i <= 5; i++) await send(alice, room, `quokka ${i}`);
    const budget = { SEARCH_INDEX_BUDGET: "2" };
    const term = { search_term: "quokka", order_by: "recent" };
    expect(bodies(await searchWith(budget, alice, term))).toEqual(["quokka 5", "quokka 4"]);
    // A new event is indexed before the rest of the history.
    await send(alice, room, "quokka 6");
    expect(bodies(await searchWith(budget, alice, term))).toEqual(["quokka 6", "quokka 5", "quokka 4", "quokka 3"]);
    expect(bodies(await searchWith(budget, alice, term))).toEqual(["quokka 6", "quokka 5", "quokka 4", "quokka 3", "quokka 2", "quokka 1"]);
    // Complete: nothing is indexed twice.
    expect((await searchWith(budget, alice, term)).count).toBe(6);
  });
});
