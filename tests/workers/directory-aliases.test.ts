// Room aliases through the edge Worker: PUT/GET/DELETE /directory/room/{roomAlias} with the
// permission rules, appservice namespaces and alias queries, /rooms/{roomId}/aliases, and
// m.room.canonical_alias checked against the alias index.
// https://spec.matrix.org/v1.19/client-server-api/#room-aliases
import { beforeEach, describe, expect, it } from "vitest";
import { fakeAppservice, type FakeAppservice } from "./appservice-fake.ts";
import { aliasPath, AS_TOKEN, newAdmin, uniqueWord } from "./directory-helpers.ts";
import { call, createRoom, enc, expectError, newUser, roomPath, SERVER_NAME, V3 } from "./room-helpers.ts";

const local = (name: string) => `#${name}:${SERVER_NAME}`;
const canonical = (roomId: string, content: object) => roomPath(roomId, "state/m.room.canonical_alias/");

let bridge: FakeAppservice;
beforeEach(() => {
  bridge = fakeAppservice("bridge.as.test");
  bridge.behaviour = "ok";
});

describe("[cs: room aliases] create and resolve", () => {
  it("[cs: PUT directory/room] a joined member maps an alias; GET resolves it without authentication", async () => {
    const a = await newUser();
    const roomId = await createRoom(a);
    const alias = local(uniqueWord("a"));
    expect(await a.ok("PUT", aliasPath(alias), { room_id: roomId })).toEqual({});
    const r = await call("GET", aliasPath(alias));
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ room_id: roomId, servers: [SERVER_NAME] });
  });

  it("[cs: PUT directory/room] an alias that exists already is 409 M_UNKNOWN, whichever room it names", async () => {
    const a = await newUser();
    const r1 = await createRoom(a);
    const r2 = await createRoom(a);
    const alias = local(uniqueWord("a"));
    await a.ok("PUT", aliasPath(alias), { room_id: r1 });
    expectError(await a.call("PUT", aliasPath(alias), { room_id: r2 }), 409, "M_UNKNOWN");
    expectError(await a.call("PUT", aliasPath(alias), { room_id: r1 }), 409, "M_UNKNOWN");
    expect((await call("GET", aliasPath(alias))).body.room_id).toBe(r1);
  });

  it("[cs: room aliases/grammar] invalid aliases are 400 M_INVALID_PARAM on every method", async () => {
    const a = await newUser();
    const roomId = await createRoom(a);
    for (const bad of ["nohash:" + SERVER_NAME, "#nocolon", "#:" + SERVER_NAME]) {
      expectError(await a.call("PUT", aliasPath(bad), { room_id: roomId }), 400, "M_INVALID_PARAM");
      expectError(await call("GET", aliasPath(bad)), 400, "M_INVALID_PARAM");
      expectError(await a.call("DELETE", aliasPath(bad)), 400, "M_INVALID_PARAM");
    }
  });

  it("[cs: room aliases/local] an alias of another server cannot be created here (400 M_INVALID_PARAM) nor resolved without federation (404)", async () => {
    const a = await newUser();
    const roomId = await createRoom(a);
    expectError(await a.call("PUT", aliasPath("#x:other.example"), { room_id: roomId }), 400, "M_INVALID_PARAM");
    expectError(await call("GET", aliasPath("#x:other.example")), 404, "M_NOT_FOUND");
  });

  it("[cs: PUT directory/room] bad bodies: missing room_id is M_MISSING_PARAM, a malformed one M_INVALID_PARAM", async () => {
    const a = await newUser();
    const alias = local(uniqueWord("a"));
    expectError(await a.call("PUT", aliasPath(alias), {}), 400, "M_MISSING_PARAM");
    expectError(await a.call("PUT", aliasPath(alias), { room_id: "not-a-room" }), 400, "M_INVALID_PARAM");
    expectError(await call("PUT", aliasPath(alias), { room_id: "!x:" + SERVER_NAME }), 401, "M_MISSING_TOKEN");
  });

  it("[cs: room aliases/create] only joined members may map an alias: others, and unknown rooms, are 403", async () => {
    const a = await newUser();
    const b = await newUser();
    const roomId = await createRoom(a, { preset: "public_chat" });
    const alias = local(uniqueWord("a"));
    expectError(await b.call("PUT", aliasPath(alias), { room_id: roomId }), 403, "M_FORBIDDEN");
    await a.ok("POST", roomPath(roomId, "invite"), { user_id: b.userId });
    expectError(await b.call("PUT", aliasPath(alias), { room_id: roomId }), 403, "M_FORBIDDEN");
    await b.ok("POST", roomPath(roomId, "join"), {});
    await b.ok("PUT", aliasPath(alias), { room_id: roomId });
    expectError(await b.call("PUT", aliasPath(local(uniqueWord("a"))), { room_id: `!nope${uniqueWord()}:${SERVER_NAME}` }), 403, "M_FORBIDDEN");
  });

  it("[cs: room aliases/create] a server admin may map an alias to a room they are not in", async () => {
    const a = await newUser();
    const admin = await newAdmin();
    const roomId = await createRoom(a);
    const alias = local(uniqueWord("a"));
    await admin.ok("PUT", aliasPath(alias), { room_id: roomId });
    expect((await call("GET", aliasPath(alias))).body.room_id).toBe(roomId);
    expectError(await admin.call("PUT", aliasPath(local(uniqueWord("a"))), { room_id: `!nope${uniqueWord()}:${SERVER_NAME}` }), 404, "M_NOT_FOUND");
  });

  it("[cs: join/{roomIdOrAlias}] another user joins by the alias", async () => {
    const a = await newUser();
    const b = await newUser();
    const roomId = await createRoom(a, { preset: "public_chat" });
    const alias = local(uniqueWord("a"));
    await a.ok("PUT", aliasPath(alias), { room_id: roomId });
    expect(await b.ok("POST", `${V3}/join/${enc(alias)}`, {})).toEqual({ room_id: roomId });
    expect((await b.ok("GET", `${V3}/joined_rooms`)).joined_rooms).toContain(roomId);
  });
});

describe("[as: namespaces/aliases] appservice alias namespaces", () => {
  it("[as: namespaces/aliases] an ordinary user cannot take an alias in an exclusive namespace (PUT or room_alias_name): 400 M_EXCLUSIVE", async () => {
    const a = await newUser();
    const roomId = await createRoom(a);
    const name = `_gh_${uniqueWord()}`;
    expectError(await a.call("PUT", aliasPath(local(name)), { room_id: roomId }), 400, "M_EXCLUSIVE");
    const before = (await a.ok("GET", `${V3}/joined_rooms`)).joined_rooms as string[];
    expectError(await a.call("POST", `${V3}/createRoom`, { room_alias_name: name }), 400, "M_EXCLUSIVE");
    expect((await a.ok("GET", `${V3}/joined_rooms`)).joined_rooms).toEqual(before); // no room was made
  });

  it("[as: namespaces/aliases] the appservice maps aliases in its namespace (without being in the room), not outside it", async () => {
    const a = await newUser();
    const roomId = await createRoom(a);
    const alias = local(`_gh_${uniqueWord()}`);
    const r = await call("PUT", aliasPath(alias), { room_id: roomId }, AS_TOKEN);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect((await call("GET", aliasPath(alias))).body.room_id).toBe(roomId);
    expectError(await call("PUT", aliasPath(local(uniqueWord("plain"))), { room_id: roomId }, AS_TOKEN), 400, "M_EXCLUSIVE");
    // and it may delete its aliases, whoever created them
    expect((await call("DELETE", aliasPath(alias), undefined, AS_TOKEN)).status).toBe(200);
  });

  it("[as: GET app/v1/rooms] an unknown alias in a namespace is asked of the appservice, which creates it; then it resolves", async () => {
    const name = `_gh_${uniqueWord()}`;
    const alias = local(name);
    let created = "";
    bridge.handlers.set("/base/_matrix/app/v1/rooms/", async (req) => {
      expect(req.auth).toBe("Bearer hs-token-bridge");
      expect(decodeURIComponent(req.path.split("/").pop()!)).toBe(alias);
      const c = await call("POST", `${V3}/createRoom`, { room_alias_name: name }, AS_TOKEN);
      created = c.body.room_id as string;
      return Response.json({});
    });
    const r = await call("GET", aliasPath(alias));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.room_id).toBe(created);
    expect(bridge.requests.filter((q) => q.path.includes("/app/v1/rooms/"))).toHaveLength(1);
  });

  it("[as: GET app/v1/rooms] when the appservice does not know the alias either, 404 M_NOT_FOUND; aliases outside namespaces ask nobody", async () => {
    bridge.handlers.set("/base/_matrix/app/v1/rooms/", () => Response.json({ errcode: "M_NOT_FOUND" }, { status: 404 }));
    expectError(await call("GET", aliasPath(local(`_gh_${uniqueWord()}`))), 404, "M_NOT_FOUND");
    expect(bridge.requests.filter((q) => q.path.includes("/app/v1/rooms/"))).toHaveLength(1);
    expectError(await call("GET", aliasPath(local(uniqueWord("nobody")))), 404, "M_NOT_FOUND");
    expect(bridge.requests.filter((q) => q.path.includes("/app/v1/rooms/"))).toHaveLength(1);
  });
});

describe("[cs: DELETE directory/room] deleting aliases", () => {
  it("[cs: room aliases/delete] the creator may delete their alias, even after leaving; afterwards it is 404", async () => {
    const a = await newUser();
    const b = await newUser();
    const roomId = await createRoom(a, { preset: "public_chat" });
    await b.ok("POST", roomPath(roomId, "join"), {});
    const alias = local(uniqueWord("a"));
    await b.ok("PUT", aliasPath(alias), { room_id: roomId });
    await b.ok("POST", roomPath(roomId, "leave"), {});
    expect(await b.ok("DELETE", aliasPath(alias))).toEqual({});
    expectError(await call("GET", aliasPath(alias)), 404, "M_NOT_FOUND");
    expectError(await b.call("DELETE", aliasPath(alias)), 404, "M_NOT_FOUND");
  });

  it("[cs: room aliases/delete] others need the power to send m.room.canonical_alias (moderators may, plain members may not)", async () => {
    const a = await newUser();
    const b = await newUser();
    const c = await newUser();
    const roomId = await createRoom(a, { preset: "public_chat" });
    await b.ok("POST", roomPath(roomId, "join"), {});
    await c.ok("POST", roomPath(roomId, "join"), {});
    const alias = local(uniqueWord("a"));
    await b.ok("PUT", aliasPath(alias), { room_id: roomId });
    expectError(await c.call("DELETE", aliasPath(alias)), 403, "M_FORBIDDEN");
    expect((await call("GET", aliasPath(alias))).status).toBe(200);
    await a.ok("DELETE", aliasPath(alias)); // the creator of the room has power 100
    expectError(await call("GET", aliasPath(alias)), 404, "M_NOT_FOUND");
  });

  it("[cs: room aliases/delete] a server admin may delete any alias", async () => {
    const a = await newUser();
    const admin = await newAdmin();
    const roomId = await createRoom(a);
    const alias = local(uniqueWord("a"));
    await a.ok("PUT", aliasPath(alias), { room_id: roomId });
    await admin.ok("DELETE", aliasPath(alias));
    expectError(await call("GET", aliasPath(alias)), 404, "M_NOT_FOUND");
  });

  it("[cs: room aliases/delete] a deleted alias leaves the room's m.room.canonical_alias (alias and alt_aliases)", async () => {
    const a = await newUser();
    const name = uniqueWord("c");
    const roomId = await createRoom(a, { room_alias_name: name });
    const alt = local(uniqueWord("alt"));
    await a.ok("PUT", aliasPath(alt), { room_id: roomId });
    await a.ok("PUT", canonical(roomId, {}), { alias: local(name), alt_aliases: [alt] });
    await a.ok("DELETE", aliasPath(local(name)));
    expect(await a.ok("GET", canonical(roomId, {}))).toEqual({ alt_aliases: [alt] });
    await a.ok("DELETE", aliasPath(alt));
    expect(await a.ok("GET", canonical(roomId, {}))).toEqual({ alt_aliases: [] });
  });
});

describe("[cs: GET rooms/aliases] a room's local aliases", () => {
  it("[cs: rooms/aliases] members get the list; non-members of a room that is not world_readable get 403", async () => {
    const a = await newUser();
    const b = await newUser();
    const name = uniqueWord("l");
    const roomId = await createRoom(a, { room_alias_name: name });
    const other = local(uniqueWord("l"));
    await a.ok("PUT", aliasPath(other), { room_id: roomId });
    expect((await a.ok("GET", roomPath(roomId, "aliases"))).aliases).toEqual([local(name), other]);
    expectError(await b.call("GET", roomPath(roomId, "aliases")), 403, "M_FORBIDDEN");
    expectError(await b.call("GET", roomPath(`!nope${uniqueWord()}:${SERVER_NAME}`, "aliases")), 403, "M_FORBIDDEN");
  });

  it("[cs: rooms/aliases] in a world_readable room anyone may list them; admins always may", async () => {
    const a = await newUser();
    const b = await newUser();
    const admin = await newAdmin();
    const roomId = await createRoom(a);
    expect((await admin.ok("GET", roomPath(roomId, "aliases"))).aliases).toEqual([]);
    await a.ok("PUT", roomPath(roomId, "state/m.room.history_visibility/"), { history_visibility: "world_readable" });
    expect((await b.ok("GET", roomPath(roomId, "aliases"))).aliases).toEqual([]);
  });
});

describe("[cs: m.room.canonical_alias] aliases checked against the index", () => {
  it("[cs: m.room.canonical_alias] an alias the index does not have is 400 M_BAD_ALIAS; one that points here is accepted", async () => {
    const a = await newUser();
    const roomId = await createRoom(a);
    const alias = local(uniqueWord("k"));
    expectError(await a.call("PUT", canonical(roomId, {}), { alias }), 400, "M_BAD_ALIAS");
    // refused before the write queue: no event was written
    expectError(await a.call("GET", canonical(roomId, {})), 404, "M_NOT_FOUND");
    await a.ok("PUT", aliasPath(alias), { room_id: roomId });
    await a.ok("PUT", canonical(roomId, {}), { alias });
    expect(await a.ok("GET", canonical(roomId, {}))).toEqual({ alias });
  });

  it("[cs: m.room.canonical_alias] an alias (or alt alias) pointing to another room is 400 M_BAD_ALIAS", async () => {
    const a = await newUser();
    const here = await createRoom(a);
    const there = await createRoom(a);
    const mine = local(uniqueWord("k"));
    const theirs = local(uniqueWord("k"));
    await a.ok("PUT", aliasPath(mine), { room_id: here });
    await a.ok("PUT", aliasPath(theirs), { room_id: there });
    expectError(await a.call("PUT", canonical(here, {}), { alias: theirs }), 400, "M_BAD_ALIAS");
    expectError(await a.call("PUT", canonical(here, {}), { alias: mine, alt_aliases: [theirs] }), 400, "M_BAD_ALIAS");
    expectError(await a.call("PUT", canonical(here, {}), { alt_aliases: ["#remote:other.example"] }), 400, "M_BAD_ALIAS");
  });

  it("[cs: m.room.canonical_alias] invalid alias grammar or field types are 400 M_INVALID_PARAM", async () => {
    const a = await newUser();
    const roomId = await createRoom(a);
    expectError(await a.call("PUT", canonical(roomId, {}), { alias: "no-hash" }), 400, "M_INVALID_PARAM");
    expectError(await a.call("PUT", canonical(roomId, {}), { alt_aliases: "#x:y.org" }), 400, "M_INVALID_PARAM");
  });

  it("[cs: m.room.canonical_alias] aliases already in the event are not checked again; removing aliases is always allowed", async () => {
    const a = await newUser();
    const name = uniqueWord("k");
    const roomId = await createRoom(a, { room_alias_name: name });
    const alt = local(uniqueWord("k"));
    await a.ok("PUT", aliasPath(alt), { room_id: roomId });
    await a.ok("PUT", canonical(roomId, {}), { alias: local(name), alt_aliases: [alt] });
    // the alt alias leaves the index without touching the event (as another server's removal would)
    const admin = await newAdmin();
    await admin.ok("DELETE", aliasPath(alt)); // the admin is not in the room: the event keeps it
    expect(await a.ok("GET", canonical(roomId, {}))).toEqual({ alias: local(name), alt_aliases: [alt] });
    await a.ok("PUT", canonical(roomId, {}), { alias: local(name), alt_aliases: [alt], note: "unchanged aliases" });
    await a.ok("PUT", canonical(roomId, {}), {});
  });

  it("[cs: createRoom/initial_state] a canonical alias in initial_state must point to the new room; the room_alias_name is released on failure", async () => {
    const a = await newUser();
    const name = uniqueWord("i");
    const bogus = local(uniqueWord("i"));
    const r = await a.call("POST", `${V3}/createRoom`, {
      room_alias_name: name,
      initial_state: [{ type: "m.room.canonical_alias", state_key: "", content: { alias: local(name), alt_aliases: [bogus] } }],
    });
    expectError(r, 400, "M_BAD_ALIAS");
    expectError(await call("GET", aliasPath(local(name))), 404, "M_NOT_FOUND");
    const ok = await createRoom(a, { room_alias_name: name, initial_state: [{ type: "m.room.canonical_alias", state_key: "", content: { alias: local(name) } }] });
    expect((await call("GET", aliasPath(local(name)))).body.room_id).toBe(ok);
  });
});
