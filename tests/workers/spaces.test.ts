// Spaces (/hierarchy) and room summaries (/room_summary) through the edge Worker, inside workerd.
// https://spec.matrix.org/v1.19/client-server-api/#spaces
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { call, createRoom, enc, expectError, newUser, roomPath, SERVER_NAME, type TestUser } from "./room-helpers.ts";

const V1 = "/_matrix/client/v1";
const hierarchyPath = (roomId: string, query = "") => `${V1}/rooms/${enc(roomId)}/hierarchy${query ? `?${query}` : ""}`;
const summaryPath = (idOrAlias: string) => `${V1}/room_summary/${enc(idOrAlias)}`;

type HRoom = JsonObject & { room_id: string; children_state: Array<JsonObject & { state_key: string; origin_server_ts: number }> };

async function addChild(u: TestUser, space: string, child: string, extra: JsonObject = {}): Promise<void> {
  await u.ok("PUT", roomPath(space, `state/m.space.child/${enc(child)}`), { via: [SERVER_NAME], ...extra });
}

const space = (u: TestUser, extra: JsonObject = {}) => createRoom(u, { preset: "public_chat", creation_content: { type: "m.space" }, ...extra });

/**
 * Alice's space tree (children in this order): public A; invite-only B; restricted C
 * (allow: members of the space); knock D; world_readable E; sub-space S2 → public F.
 */
async function tree(alice: TestUser) {
  const root = await space(alice, { name: "Root" });
  const a = await createRoom(alice, { preset: "public_chat", name: "A" });
  const b = await createRoom(alice, { preset: "private_chat", name: "B" });
  const c = await createRoom(alice, {
    room_version: "10",
    name: "C",
    initial_state: [{ type: "m.room.join_rules", state_key: "", content: { join_rule: "restricted", allow: [{ type: "m.room_membership", room_id: root }] } }],
  });
  const d = await createRoom(alice, { room_version: "10", name: "D", initial_state: [{ type: "m.room.join_rules", state_key: "", content: { join_rule: "knock" } }] });
  const e = await createRoom(alice, {
    preset: "private_chat",
    name: "E",
    initial_state: [{ type: "m.room.history_visibility", state_key: "", content: { history_visibility: "world_readable" } }],
  });
  const s2 = await space(alice, { name: "S2" });
  const f = await createRoom(alice, { preset: "public_chat", name: "F" });
  const children: Array<[string, JsonObject]> = [
    [a, { order: "a" }],
    [b, { order: "b" }],
    [c, { order: "c" }],
    [d, { order: "d" }],
    [e, { order: "e", suggested: true }],
    [s2, { order: "f", suggested: true }],
  ];
  // Added in reverse, so the result's order comes from `order`, not from insertion.
  for (const [id, extra] of [...children].reverse()) await addChild(alice, root, id, extra);
  await addChild(alice, s2, f);
  return { root, a, b, c, d, e, s2, f };
}

async function walk(u: TestUser, root: string, query: string): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let from: string | undefined;
  let pages = 0;
  do {
    const q = [query, from === undefined ? "" : `from=${enc(from)}`].filter((x) => x !== "").join("&");
    const page = await u.ok("GET", hierarchyPath(root, q));
    pages++;
    ids.push(...(page.rooms as HRoom[]).map((r) => r.room_id));
    from = page.next_batch as string | undefined;
    expect(pages).toBeLessThan(20);
  } while (from !== undefined);
  return { ids, pages };
}

describe("[cs: spaces] GET /hierarchy", () => {
  it("[cs: spaces] depth-first in `order` order; only rooms the user is in, may join, may knock on, or that are world_readable", async () => {
    const alice = await newUser("space");
    const bob = await newUser("space");
    const t = await tree(alice);
    await bob.ok("POST", roomPath(t.root, "join"), {});
    const res = await bob.ok("GET", hierarchyPath(t.root));
    const rooms = res.rooms as HRoom[];
    // B (invite-only, bob not invited) is left out; C is restricted to the space's members, which bob is.
    expect(rooms.map((r) => r.room_id)).toEqual([t.root, t.a, t.c, t.d, t.e, t.s2, t.f]);
    expect(res.next_batch).toBeUndefined();
    const root = rooms[0]!;
    expect(root).toMatchObject({ room_type: "m.space", name: "Root", join_rule: "public", num_joined_members: 2, world_readable: false, guest_can_join: false });
    // children_state: every valid child (including B), stripped state with origin_server_ts, in order.
    expect(root.children_state.map((c) => c.state_key)).toEqual([t.a, t.b, t.c, t.d, t.e, t.s2]);
    expect(Object.keys(root.children_state[0]!).sort()).toEqual(["content", "origin_server_ts", "sender", "state_key", "type"]);
    const c = rooms.find((r) => r.room_id === t.c)!;
    expect(c).toMatchObject({ join_rule: "restricted", allowed_room_ids: [t.root], room_version: "10", children_state: [] });
    expect(rooms.find((r) => r.room_id === t.s2)!.children_state.map((x) => x.state_key)).toEqual([t.f]);
    // Invited to B: now it is shown.
    await alice.ok("POST", roomPath(t.b, "invite"), { user_id: bob.userId });
    expect(((await bob.ok("GET", hierarchyPath(t.root))).rooms as HRoom[]).map((r) => r.room_id)).toContain(t.b);
  });

  it("[cs: spaces] restricted rooms are hidden from users not in an allowed room; a space the user may not see is 403", async () => {
    const alice = await newUser("space");
    const carol = await newUser("space");
    const t = await tree(alice);
    // Carol is not in the space: C (restricted to its members) is not shown, the public rest is.
    const ids = ((await carol.ok("GET", hierarchyPath(t.root))).rooms as HRoom[]).map((r) => r.room_id);
    expect(ids).toEqual([t.root, t.a, t.d, t.e, t.s2, t.f]);
    const privateSpace = await space(alice, { preset: "private_chat" });
    expectError(await carol.call("GET", hierarchyPath(privateSpace)), 403, "M_FORBIDDEN");
    expectError(await carol.call("GET", hierarchyPath(`!unknown:${SERVER_NAME}`)), 403, "M_FORBIDDEN");
    expectError(await call("GET", hierarchyPath(t.root)), 401, "M_MISSING_TOKEN");
  });

  it("[cs: spaces] max_depth: 0 is the room alone, 1 its children without theirs; suggested_only keeps suggested children", async () => {
    const alice = await newUser("space");
    const t = await tree(alice);
    const d0 = (await alice.ok("GET", hierarchyPath(t.root, "max_depth=0"))).rooms as HRoom[];
    expect(d0.map((r) => r.room_id)).toEqual([t.root]);
    expect(d0[0]!.children_state).toEqual([]);
    const d1 = (await alice.ok("GET", hierarchyPath(t.root, "max_depth=1"))).rooms as HRoom[];
    expect(d1.map((r) => r.room_id)).toEqual([t.root, t.a, t.b, t.c, t.d, t.e, t.s2]);
    expect(d1.find((r) => r.room_id === t.s2)!.children_state).toEqual([]);
    const sugg = (await alice.ok("GET", hierarchyPath(t.root, "suggested_only=true"))).rooms as HRoom[];
    // S2's child F is not suggested.
    expect(sugg.map((r) => r.room_id)).toEqual([t.root, t.e, t.s2]);
    expect(sugg[0]!.children_state.map((c) => c.state_key)).toEqual([t.e, t.s2]);
  });

  it("[cs: spaces] pagination: limit pages concatenate to the whole walk; from cannot change max_depth or suggested_only", async () => {
    const alice = await newUser("space");
    const t = await tree(alice);
    const full = (await alice.ok("GET", hierarchyPath(t.root))).rooms as HRoom[];
    const paged = await walk(alice, t.root, "limit=2");
    expect(paged.ids).toEqual(full.map((r) => r.room_id));
    expect(paged.pages).toBe(4);
    const first = await alice.ok("GET", hierarchyPath(t.root, "limit=2"));
    const from = first.next_batch as string;
    expect(typeof from).toBe("string");
    expectError(await alice.call("GET", hierarchyPath(t.root, `limit=2&max_depth=1&from=${enc(from)}`)), 400, "M_INVALID_PARAM");
    expectError(await alice.call("GET", hierarchyPath(t.root, `limit=2&suggested_only=true&from=${enc(from)}`)), 400, "M_INVALID_PARAM");
    expectError(await alice.call("GET", hierarchyPath(t.a, `from=${enc(from)}`)), 400, "M_INVALID_PARAM");
    expectError(await alice.call("GET", hierarchyPath(t.root, "from=garbage!")), 400, "M_INVALID_PARAM");
  });

  it("[cs: spaces] bad parameters are 400 M_INVALID_PARAM; invalid children (no via) are ignored; cycles are walked once", async () => {
    const alice = await newUser("space");
    const root = await space(alice);
    for (const q of ["limit=0", "limit=-1", "limit=x", "max_depth=-1", "max_depth=1.5", "suggested_only=yes"]) {
      expectError(await alice.call("GET", hierarchyPath(root, q)), 400, "M_INVALID_PARAM");
    }
    expectError(await alice.call("GET", hierarchyPath("not-a-room")), 400, "M_INVALID_PARAM");
    const child = await space(alice);
    await alice.ok("PUT", roomPath(root, `state/m.space.child/${enc(child)}`), { via: [] });
    expect(((await alice.ok("GET", hierarchyPath(root))).rooms as HRoom[]).map((r) => r.room_id)).toEqual([root]);
    // root → child → root: each room once.
    await addChild(alice, root, child);
    await addChild(alice, child, root);
    expect(((await alice.ok("GET", hierarchyPath(root))).rooms as HRoom[]).map((r) => r.room_id)).toEqual([root, child]);
  });
});

describe("[cs: room summary] GET /room_summary/{roomIdOrAlias}", () => {
  it("[cs: room summary] by ID or alias: the summary, room_version, encryption and the caller's membership", async () => {
    const alice = await newUser("summary");
    const alias = `sum${Math.floor(Math.random() * 1e9)}`;
    const room = await createRoom(alice, {
      preset: "public_chat",
      name: "Summary",
      topic: "About things",
      room_alias_name: alias,
      initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }],
    });
    const byId = await alice.ok("GET", summaryPath(room));
    expect(byId).toEqual({
      room_id: room,
      name: "Summary",
      topic: "About things",
      canonical_alias: `#${alias}:${SERVER_NAME}`,
      join_rule: "public",
      num_joined_members: 1,
      world_readable: false,
      guest_can_join: false,
      room_version: expect.any(String),
      encryption: "m.megolm.v1.aes-sha2",
      membership: "join",
    });
    expect(await alice.ok("GET", summaryPath(`#${alias}:${SERVER_NAME}`))).toEqual(byId);
    // Without a token: a public room is summarised, with no membership.
    const anon = await call("GET", summaryPath(room));
    expect(anon.status).toBe(200);
    expect(anon.body.membership).toBeUndefined();
    expect(anon.body.room_id).toBe(room);
    // Another user sees membership "leave".
    const bob = await newUser("summary");
    expect((await bob.ok("GET", summaryPath(room))).membership).toBe("leave");
  });

  it("[cs: room summary] a room the caller may not see is 404 M_NOT_FOUND, as is an unknown room or alias; invitees may see it", async () => {
    const alice = await newUser("summary");
    const bob = await newUser("summary");
    const room = await createRoom(alice, { preset: "private_chat" });
    expectError(await bob.call("GET", summaryPath(room)), 404, "M_NOT_FOUND");
    expectError(await call("GET", summaryPath(room)), 404, "M_NOT_FOUND");
    expectError(await bob.call("GET", summaryPath(`!unknown:${SERVER_NAME}`)), 404, "M_NOT_FOUND");
    expectError(await bob.call("GET", summaryPath(`#nothing-here-${Date.now()}:${SERVER_NAME}`)), 404, "M_NOT_FOUND");
    expectError(await bob.call("GET", summaryPath("neither")), 400, "M_INVALID_PARAM");
    expectError(await call("GET", summaryPath(room), undefined, "not-a-token"), 401, "M_UNKNOWN_TOKEN");
    await alice.ok("POST", roomPath(room, "invite"), { user_id: bob.userId });
    expect((await bob.ok("GET", summaryPath(room))).membership).toBe("invite");
  });
});
