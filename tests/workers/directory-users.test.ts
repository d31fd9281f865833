// The user directory: POST /user_directory/search with the spec's visibility (users who share
// a room with the searcher, users joined to public or world_readable rooms), kept current from
// member events. https://spec.matrix.org/v1.19/client-server-api/#user-directory
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { eventually, uniqueWord } from "./directory-helpers.ts";
import { call, createRoom, expectError, newUser, roomPath, V3, type TestUser } from "./room-helpers.ts";

async function searchUsers(u: TestUser, term: string, limit?: number): Promise<JsonObject> {
  return u.ok("POST", `${V3}/user_directory/search`, limit === undefined ? { search_term: term } : { search_term: term, limit });
}
const found = (r: JsonObject) => (r.results as JsonObject[]).map((x) => x.user_id);

async function named(tag: string, displayname: string): Promise<TestUser> {
  const u = await newUser(tag);
  await u.ok("PUT", `${V3}/profile/${encodeURIComponent(u.userId)}/displayname`, { displayname });
  return u;
}

/** Waits until `searcher` finds exactly `expected` for `term` (the directory follows rooms after commit). */
async function expectFound(searcher: TestUser, term: string, expected: string[]): Promise<void> {
  const want = JSON.stringify([...expected].sort());
  await eventually(async () => JSON.stringify(found(await searchUsers(searcher, term)).sort()) === want, `${term} → ${want}`).catch(async (e) => {
    expect(found(await searchUsers(searcher, term)).sort(), term).toEqual([...expected].sort());
    throw e;
  });
}

describe("[cs: user_directory/search] visibility", () => {
  it("[cs: user_directory/search] a user who shares a private room with the searcher is found; a stranger in no public room is not", async () => {
    const w = uniqueWord();
    const alice = await named("ua", `Alice ${w}`);
    const bob = await named("ub", `Bob ${w}`);
    const stranger = await named("us", `Stranger ${w}`);
    const other = await newUser("uo");
    const shared = await createRoom(alice, { preset: "private_chat", invite: [bob.userId] });
    await bob.ok("POST", roomPath(shared, "join"), {});
    // the stranger is in a private room too, just not with alice
    const theirs = await createRoom(other, { preset: "private_chat", invite: [stranger.userId] });
    await stranger.ok("POST", roomPath(theirs, "join"), {});
    await expectFound(alice, w, [alice.userId, bob.userId]);
    const r = await searchUsers(alice, `bob ${w}`);
    expect(r).toEqual({ results: [{ user_id: bob.userId, display_name: `Bob ${w}` }], limited: false });
    // the stranger sees other's side only
    await expectFound(stranger, w, [stranger.userId]);
    expect(found(await searchUsers(other, w))).toEqual([stranger.userId]);
  });

  it("[cs: user_directory/search] users joined to a public room are found by anyone; invited users are not", async () => {
    const w = uniqueWord();
    const host = await named("uh", `Host ${w}`);
    const guest = await named("ug", `Guest ${w}`);
    const invited = await named("ui", `Invited ${w}`);
    const outsider = await newUser("ux");
    const room = await createRoom(host, { preset: "public_chat" });
    await guest.ok("POST", roomPath(room, "join"), {});
    await host.ok("POST", roomPath(room, "invite"), { user_id: invited.userId });
    await expectFound(outsider, w, [host.userId, guest.userId]);
  });

  it("[cs: user_directory/search] members of a world_readable room are found by anyone", async () => {
    const w = uniqueWord();
    const host = await named("uw", `Reader ${w}`);
    const outsider = await newUser("ux");
    const room = await createRoom(host, { preset: "private_chat" });
    await expectFound(outsider, w, []);
    await host.ok("PUT", roomPath(room, "state/m.room.history_visibility/"), { history_visibility: "world_readable" });
    await expectFound(outsider, w, [host.userId]);
  });

  it("[cs: user_directory/search] leaving the only shared room, or the room turning private, hides a user again", async () => {
    const w = uniqueWord();
    const a = await named("ul", `Anna ${w}`);
    const b = await named("ul", `Bert ${w}`);
    const c = await newUser("ux");
    const room = await createRoom(a, { preset: "public_chat" });
    await b.ok("POST", roomPath(room, "join"), {});
    await expectFound(c, w, [a.userId, b.userId]);
    await a.ok("PUT", roomPath(room, "state/m.room.join_rules/"), { join_rule: "invite" });
    await expectFound(c, w, []);
    await expectFound(a, w, [a.userId, b.userId]);
    await b.ok("POST", roomPath(room, "leave"), {});
    await expectFound(a, w, [a.userId]);
  });
});

describe("[cs: user_directory/search] matching and results", () => {
  it("[cs: user_directory/search] matches display names and user IDs by word prefix, case-insensitively", async () => {
    const w = uniqueWord();
    const a = await named("um", `Zoë ${w}Quux`);
    await createRoom(a, { preset: "public_chat" });
    const searcher = await newUser("ux");
    await expectFound(searcher, `${w}QU`, [a.userId]);
    await expectFound(searcher, `zoe ${w}`, [a.userId]); // diacritics fold
    const localpart = a.userId.slice(1, a.userId.indexOf(":"));
    expect(found(await searchUsers(searcher, localpart))).toEqual([a.userId]);
    expect(found(await searchUsers(searcher, a.userId))).toEqual([a.userId]);
  });

  it("[cs: user_directory/search] display name changes reach the directory through the member events", async () => {
    const w = uniqueWord();
    const a = await named("up", `Before ${w}`);
    await createRoom(a, { preset: "public_chat" });
    const searcher = await newUser("ux");
    await expectFound(searcher, `before ${w}`, [a.userId]);
    await a.ok("PUT", `${V3}/profile/${encodeURIComponent(a.userId)}/displayname`, { displayname: `After ${w}` });
    await a.ok("PUT", `${V3}/profile/${encodeURIComponent(a.userId)}/avatar_url`, { avatar_url: "mxc://example.org/face" });
    await expectFound(searcher, `after ${w}`, [a.userId]);
    await expectFound(searcher, `before ${w}`, []);
    await eventually(async () => ((await searchUsers(searcher, `after ${w}`)).results as JsonObject[])[0]?.avatar_url === "mxc://example.org/face", "the avatar");
    expect((await searchUsers(searcher, `after ${w}`)).results).toEqual([{ user_id: a.userId, display_name: `After ${w}`, avatar_url: "mxc://example.org/face" }]);
  });

  it("[cs: user_directory/search] limit cuts the results and sets limited", async () => {
    const w = uniqueWord();
    const users = [await named("uq", `Q ${w} one`), await named("uq", `Q ${w} two`), await named("uq", `Q ${w} three`)];
    const room = await createRoom(users[0]!, { preset: "public_chat" });
    for (const u of users.slice(1)) await u.ok("POST", roomPath(room, "join"), {});
    const searcher = await newUser("ux");
    await expectFound(searcher, w, users.map((u) => u.userId));
    const r = await searchUsers(searcher, w, 2);
    expect((r.results as unknown[]).length).toBe(2);
    expect(r.limited).toBe(true);
    expect((await searchUsers(searcher, w, 3)).limited).toBe(false);
  });

  it("[cs: user_directory/search] FTS5 syntax in the term is text; a term without words finds nobody; bad bodies are refused", async () => {
    const w = uniqueWord();
    const a = await named("uf", `Fred ${w}`);
    await createRoom(a, { preset: "public_chat" });
    const s = await newUser("ux");
    await expectFound(s, w, [a.userId]);
    for (const term of [`"${w}`, `display_name:${w}`, `${w}*`, `(${w}`, `fred AND ${w}`]) {
      const r = await s.call("POST", `${V3}/user_directory/search`, { search_term: term });
      expect(r.status, term).toBe(200);
      expect(found(r.body), term).toEqual(term.includes("AND") || term.includes("display_name") ? [] : [a.userId]);
    }
    expect(await searchUsers(s, ' "* ')).toEqual({ results: [], limited: false });
    expectError(await s.call("POST", `${V3}/user_directory/search`, {}), 400, "M_MISSING_PARAM");
    expectError(await s.call("POST", `${V3}/user_directory/search`, { search_term: 1 }), 400, "M_BAD_JSON");
    expectError(await call("POST", `${V3}/user_directory/search`, { search_term: "x" }), 401, "M_MISSING_TOKEN");
  });
});
