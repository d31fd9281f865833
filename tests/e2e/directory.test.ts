// Room aliases, the published room directory and the user directory end to end: the real
// server (npm start, local D1) driven by matrix-js-sdk 37.5.0, every response the SDK
// receives validated against the spec's OpenAPI.
// https://spec.matrix.org/v1.19/client-server-api/#room-aliases, #listing-rooms, #user-directory
import { describe, expect, inject, it } from "vitest";
import { Preset, Visibility } from "matrix-js-sdk";
import { errcodeOf, sdkHarness } from "./sdk.ts";

const serverName = inject("serverName");
const { register } = sdkHarness();

/** Polls until `check` holds (the directories follow their rooms after commit, with a small lag). */
async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const word = () => `w${Math.random().toString(36).slice(2, 12)}`;

describe("[e2e: directory] aliases, public rooms and the user directory with matrix-js-sdk", () => {
  it("[cs: publicRooms] publish a public room with an alias, find it by a search term, resolve the alias, join by it", async () => {
    const alice = await register("dira");
    const bob = await register("dirb");
    const w = word();
    const aliasName = `${w}-gardening`;
    const alias = `#${aliasName}:${serverName}`;
    const { room_id: roomId } = await alice.client.createRoom({
      preset: Preset.PublicChat,
      visibility: Visibility.Public,
      room_alias_name: aliasName,
      name: `Gardening club ${w}`,
      topic: "Tomatoes, beans and compost",
    });
    expect(await alice.client.getRoomDirectoryVisibility(roomId)).toEqual({ visibility: "public" });

    // bob finds it by a word of its topic and by a prefix of the name, through POST /publicRooms
    const found = await bob.client.publicRooms({ limit: 10, filter: { generic_search_term: `compost ${w}` } });
    expect(found.chunk).toEqual([
      {
        room_id: roomId,
        name: `Gardening club ${w}`,
        topic: "Tomatoes, beans and compost",
        canonical_alias: alias,
        num_joined_members: 1,
        world_readable: false,
        guest_can_join: false,
        join_rule: "public",
      },
    ]);
    expect(found.total_room_count_estimate).toBe(1);
    expect((await bob.client.publicRooms({ filter: { generic_search_term: `GARDEN ${w.slice(0, 6)}` } })).chunk.map((c) => c.room_id)).toContain(roomId);

    // the alias resolves, and bob joins by it
    expect(await bob.client.getRoomIdForAlias(alias)).toEqual({ room_id: roomId, servers: [serverName] });
    const joined = await bob.client.joinRoom(alias);
    expect(joined.roomId).toBe(roomId);
    expect((await bob.client.getJoinedRooms()).joined_rooms).toContain(roomId);

    // the entry follows the room: two members now
    await eventually(async () => {
      const r = await bob.client.publicRooms({ filter: { generic_search_term: w } });
      return r.chunk[0]?.num_joined_members === 2 ? r : undefined;
    }, "the member count");

    // GET /publicRooms pages (no filter): the SDK sends limit and since as query parameters
    const page = await bob.client.publicRooms({ limit: 1 });
    expect(page.chunk).toHaveLength(1);
    if (page.next_batch) expect((await bob.client.publicRooms({ limit: 1, since: page.next_batch })).chunk).toHaveLength(1);
  });

  it("[cs: room aliases] create, list, resolve and delete aliases; refusals carry their errcodes", async () => {
    const alice = await register("dirc");
    const bob = await register("dird");
    const w = word();
    const { room_id: roomId } = await alice.client.createRoom({ preset: Preset.PublicChat });
    const alias = `#${w}:${serverName}`;
    await alice.client.createAlias(alias, roomId);
    expect(await alice.client.getLocalAliases(roomId)).toEqual({ aliases: [alias] });
    expect(await errcodeOf(alice.client.createAlias(alias, roomId))).toEqual([409, "M_UNKNOWN"]);
    expect(await errcodeOf(alice.client.createAlias(`#${w}:elsewhere.example`, roomId))).toEqual([400, "M_INVALID_PARAM"]);
    expect(await errcodeOf(bob.client.createAlias(`#${w}x:${serverName}`, roomId))).toEqual([403, "M_FORBIDDEN"]);
    expect(await errcodeOf(bob.client.getLocalAliases(roomId))).toEqual([403, "M_FORBIDDEN"]);

    // the canonical alias must be one of the room's aliases
    await alice.client.sendStateEvent(roomId, "m.room.canonical_alias" as never, { alias } as never, "");
    expect(await errcodeOf(alice.client.sendStateEvent(roomId, "m.room.canonical_alias" as never, { alias: `#${w}nope:${serverName}` } as never, ""))).toEqual([
      400,
      "M_BAD_ALIAS",
    ]);

    // bob joins but may neither delete alice's alias nor publish the room
    await bob.client.joinRoom(roomId);
    expect(await errcodeOf(bob.client.deleteAlias(alias))).toEqual([403, "M_FORBIDDEN"]);
    expect(await errcodeOf(bob.client.setRoomDirectoryVisibility(roomId, Visibility.Public))).toEqual([403, "M_FORBIDDEN"]);
    await alice.client.setRoomDirectoryVisibility(roomId, Visibility.Public);
    expect(await bob.client.getRoomDirectoryVisibility(roomId)).toEqual({ visibility: "public" });

    await alice.client.deleteAlias(alias);
    expect(await errcodeOf(bob.client.getRoomIdForAlias(alias))).toEqual([404, "M_NOT_FOUND"]);
    // the deleted alias left the canonical alias event
    expect(await alice.client.getStateEvent(roomId, "m.room.canonical_alias", "")).toEqual({});
  });

  it("[cs: user_directory/search] finds a user who shares a room; not a stranger in no public room", async () => {
    const w = word();
    const alice = await register("dire", `Alice ${w}`);
    const bob = await register("dirf", `Bob ${w}`);
    const stranger = await register("dirg", `Stranger ${w}`);
    const { room_id: roomId } = await alice.client.createRoom({ preset: Preset.PrivateChat, invite: [bob.userId] });
    await bob.client.joinRoom(roomId);
    await stranger.client.createRoom({ preset: Preset.PrivateChat });
    const result = await eventually(async () => {
      const r = await alice.client.searchUserDirectory({ term: `bob ${w}` });
      return r.results.length > 0 ? r : undefined;
    }, "bob in the user directory");
    expect(result).toEqual({ limited: false, results: [{ user_id: bob.userId, display_name: `Bob ${w}` }] });
    const all = await alice.client.searchUserDirectory({ term: w, limit: 10 });
    expect(all.results.map((u) => u.user_id).sort()).toEqual([alice.userId, bob.userId].sort());
    expect((await alice.client.searchUserDirectory({ term: `stranger ${w}` })).results).toEqual([]);
  });
});
