// Appservices through the edge Worker: as_token authentication, identity assertion
// (user_id masquerading), m.login.application_service, M_EXCLUSIVE, ts massaging, ping,
// third-party lookups, user queries, and room events reaching the appservice.
// https://spec.matrix.org/v1.19/application-service-api/
import { env, SELF } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { appserviceActor } from "../../party/stubs.ts";
import { fakeAppservice, waitFor, type FakeAppservice } from "./appservice-fake.ts";
import { BASE, call, createRoom, enc, expectError, newUser, roomEvents, roomPath, SERVER_NAME, V3, type Reply } from "./room-helpers.ts";

const AS_TOKEN = "as-token-bridge";

let bridge: FakeAppservice;
beforeEach(() => {
  bridge = fakeAppservice("bridge.as.test");
  bridge.behaviour = "ok";
});

async function asCall(method: string, path: string, body?: unknown, query: Record<string, string> = {}, token = AS_TOKEN): Promise<Reply> {
  const qs = new URLSearchParams(query).toString();
  return call(method, qs ? `${path}${path.includes("?") ? "&" : "?"}${qs}` : path, body, token);
}

let n = 0;
async function ghost(tag = "g"): Promise<string> {
  const localpart = `_gh_${tag}${++n}x${Math.floor(Math.random() * 1e6)}`;
  const r = await asCall("POST", `${V3}/register`, { type: "m.login.application_service", username: localpart, inhibit_login: true });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  expect(r.body).toEqual({ user_id: `@${localpart}:${SERVER_NAME}` });
  return r.body.user_id as string;
}

describe("[as: identity assertion] authentication", () => {
  it("[as: authorization] the as_token acts as the sender user, created on first use; no device_id", async () => {
    const r = await asCall("GET", `${V3}/account/whoami`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ user_id: `@_gh_bot:${SERVER_NAME}`, is_guest: false });
    // Also as the deprecated access_token query parameter.
    const q = await call("GET", `${V3}/account/whoami?access_token=${AS_TOKEN}`);
    expect(q.body.user_id).toBe(`@_gh_bot:${SERVER_NAME}`);
  });

  it("[as: authorization] a wrong as_token is an unknown token", async () => {
    expectError(await asCall("GET", `${V3}/account/whoami`, undefined, {}, "as-token-bridgeX"), 401, "M_UNKNOWN_TOKEN");
  });

  it("[as: identity assertion] user_id inside the namespace acts as that (registered) user", async () => {
    const g = await ghost();
    const r = await asCall("GET", `${V3}/account/whoami`, undefined, { user_id: g });
    expect(r.status).toBe(200);
    expect(r.body.user_id).toBe(g);
  });

  it("[as: identity assertion] user_id outside the namespace (ordinary user, another appservice's, remote) is 403 M_FORBIDDEN", async () => {
    const alice = await newUser();
    for (const u of [alice.userId, `@_watch_x:${SERVER_NAME}`, "@_gh_x:elsewhere.org", "not a user id"]) {
      expectError(await asCall("GET", `${V3}/account/whoami`, undefined, { user_id: u }), 403, "M_FORBIDDEN");
    }
  });

  it("[as: identity assertion] a namespaced user the appservice never registered is 403 M_FORBIDDEN", async () => {
    expectError(await asCall("GET", `${V3}/account/whoami`, undefined, { user_id: `@_gh_never${Date.now()}:${SERVER_NAME}` }), 403, "M_FORBIDDEN");
  });
});

describe("[as: registration] m.login.application_service and exclusive namespaces", () => {
  it("[cs: register] an appservice registers a namespaced user without UIA; with login it gets a token without a password", async () => {
    const localpart = `_gh_login${Date.now()}`;
    const r = await asCall("POST", `${V3}/register`, { type: "m.login.application_service", username: localpart });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.user_id).toBe(`@${localpart}:${SERVER_NAME}`);
    const who = await call("GET", `${V3}/account/whoami`, undefined, r.body.access_token as string);
    expect(who.body).toMatchObject({ user_id: r.body.user_id, device_id: r.body.device_id });
    // The same user again: M_USER_IN_USE.
    expectError(await asCall("POST", `${V3}/register`, { type: "m.login.application_service", username: localpart }), 400, "M_USER_IN_USE");
  });

  it("[cs: register] the auth.type spelling is accepted too", async () => {
    const r = await asCall("POST", `${V3}/register`, { auth: { type: "m.login.application_service" }, username: `_gh_auth${Date.now()}`, inhibit_login: true });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
  });

  it("[cs: register] an appservice registering outside its namespace gets 400 M_EXCLUSIVE", async () => {
    expectError(await asCall("POST", `${V3}/register`, { type: "m.login.application_service", username: `plain${Date.now()}` }), 400, "M_EXCLUSIVE");
    expectError(await asCall("POST", `${V3}/register`, { type: "m.login.application_service", username: "_silent_x" }), 400, "M_EXCLUSIVE");
  });

  it("[cs: register] an as_token with another login type is refused; m.login.application_service without an as_token is 401", async () => {
    expectError(await asCall("POST", `${V3}/register`, { username: "_gh_y", password: "pw pw pw pw" }), 400, "M_UNKNOWN");
    expectError(await call("POST", `${V3}/register`, { type: "m.login.application_service", username: "_gh_z" }), 401, "M_MISSING_TOKEN");
  });

  it("[cs: register] an ordinary user asking for a name in an exclusive namespace gets 400 M_EXCLUSIVE (register and register/available)", async () => {
    expectError(await call("POST", `${V3}/register`, { username: "_gh_mallory", password: "correct horse battery" }), 400, "M_EXCLUSIVE");
    expectError(await call("GET", `${V3}/register/available?username=_gh_mallory`), 400, "M_EXCLUSIVE");
    expectError(await call("GET", `${V3}/register/available?username=_silent_bob`), 400, "M_EXCLUSIVE");
  });

  it("[cs: login] m.login.application_service logs a registered namespaced user in; outside the namespace is M_EXCLUSIVE", async () => {
    const g = await ghost("li");
    const r = await asCall("POST", `${V3}/login`, { type: "m.login.application_service", identifier: { type: "m.id.user", user: g } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.user_id).toBe(g);
    expect(typeof r.body.access_token).toBe("string");
    expectError(await asCall("POST", `${V3}/login`, { type: "m.login.application_service", identifier: { type: "m.id.user", user: "someone" } }), 400, "M_EXCLUSIVE");
    expectError(await call("POST", `${V3}/login`, { type: "m.login.application_service", identifier: { type: "m.id.user", user: g } }), 401, "M_MISSING_TOKEN");
  });

  it("[as: rate limits] registering 20 ghosts in a row is not rate limited", async () => {
    for (let i = 0; i < 20; i++) await ghost("rl");
  });
});

describe("[as: timestamp massaging] ts", () => {
  it("[as: timestamp massaging] a ghost's message and state event carry the given origin_server_ts", async () => {
    const alice = await newUser();
    const roomId = await createRoom(alice, { preset: "public_chat" });
    const g = await ghost("ts");
    expect((await asCall("POST", `${V3}/join/${enc(roomId)}`, {}, { user_id: g })).status).toBe(200);
    const sent = await asCall("PUT", roomPath(roomId, "send/m.room.message/ts1"), { msgtype: "m.text", body: "old" }, { user_id: g, ts: "1234567890" });
    expect(sent.status, JSON.stringify(sent.body)).toBe(200);
    const ev = await alice.ok("GET", roomPath(roomId, `event/${enc(sent.body.event_id as string)}`));
    expect(ev.origin_server_ts).toBe(1234567890);
    expect(ev.sender).toBe(g);
    const st = await asCall("PUT", roomPath(roomId, `state/m.room.member/${enc(g)}`), { membership: "join", displayname: "Old Ghost" }, { user_id: g, ts: "1111" });
    expect(st.status, JSON.stringify(st.body)).toBe(200);
    const sev = await alice.ok("GET", roomPath(roomId, `event/${enc(st.body.event_id as string)}`));
    expect(sev.origin_server_ts).toBe(1111);
  });

  it("[as: timestamp massaging] ts from an ordinary user, or malformed, is 400 M_INVALID_PARAM", async () => {
    const alice = await newUser();
    const roomId = await createRoom(alice);
    expectError(await alice.call("PUT", roomPath(roomId, "send/m.room.message/x?ts=5"), { body: "x" }), 400, "M_INVALID_PARAM");
    expectError(await asCall("PUT", roomPath(roomId, "send/m.room.message/y"), { body: "x" }, { ts: "yesterday" }), 400, "M_INVALID_PARAM");
  });
});

describe("[as: ping] POST /_matrix/client/v1/appservice/{appserviceId}/ping", () => {
  const path = "/_matrix/client/v1/appservice/bridge/ping";

  it("[as: ping] the homeserver calls the appservice's /ping with the transaction_id and the hs_token, and reports duration_ms", async () => {
    bridge.handlers.set("/base/_matrix/app/v1/ping", () => Response.json({}));
    const r = await asCall("POST", path, { transaction_id: "mautrix-go_1" });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(typeof r.body.duration_ms).toBe("number");
    const seen = bridge.requests.find((q) => q.path === "/base/_matrix/app/v1/ping")!;
    expect(seen.method).toBe("POST");
    expect(seen.auth).toBe("Bearer hs-token-bridge");
    expect(seen.body).toEqual({ transaction_id: "mautrix-go_1" });
  });

  it("[as: ping] a bad status is 502 M_BAD_STATUS with status and body; a refused connection 502 M_CONNECTION_FAILED", async () => {
    bridge.handlers.set("/base/_matrix/app/v1/ping", () => Response.json({ errcode: "M_UNKNOWN_TOKEN" }, { status: 401 }));
    const r = await asCall("POST", path, {});
    expectError(r, 502, "M_BAD_STATUS");
    expect(r.body.status).toBe(401);
    expect(r.body.body).toBe('{"errcode":"M_UNKNOWN_TOKEN"}');
    bridge.behaviour = "down";
    expectError(await asCall("POST", path, {}), 502, "M_CONNECTION_FAILED");
  });

  it("[as: ping] another appservice's id, an ordinary user's token: 403 M_FORBIDDEN; no URL: 400 M_URL_NOT_SET", async () => {
    expectError(await asCall("POST", "/_matrix/client/v1/appservice/watcher/ping", {}), 403, "M_FORBIDDEN");
    const alice = await newUser();
    expectError(await alice.call("POST", path, {}), 403, "M_FORBIDDEN");
    expectError(await asCall("POST", "/_matrix/client/v1/appservice/silent/ping", {}, {}, "as-token-silent"), 400, "M_URL_NOT_SET");
  });
});

describe("[cs: thirdparty] lookups answered by appservices", () => {
  it("[cs: thirdparty] protocols come from the appservices declaring them, with instance_id added", async () => {
    bridge.handlers.set("/base/_matrix/app/v1/thirdparty/protocol/gitter", () =>
      Response.json({ user_fields: ["username"], location_fields: ["room"], icon: "mxc://x/y", field_types: {}, instances: [{ desc: "Gitter", network_id: "gitter", fields: {} }] }),
    );
    const alice = await newUser();
    const all = await alice.ok("GET", `${V3}/thirdparty/protocols`);
    expect(Object.keys(all)).toEqual(["gitter"]);
    expect(((all.gitter as JsonObject).instances as JsonObject[])[0]).toMatchObject({ network_id: "gitter", instance_id: "bridge|gitter" });
    expect((await alice.ok("GET", `${V3}/thirdparty/protocol/gitter`)).user_fields).toEqual(["username"]);
    expectError(await alice.call("GET", `${V3}/thirdparty/protocol/irc`), 404, "M_NOT_FOUND");
  });

  it("[cs: thirdparty] location and user queries are forwarded with their fields; reverse lookups 404 when nobody knows", async () => {
    bridge.handlers.set("/base/_matrix/app/v1/thirdparty/location/gitter", (q) =>
      Response.json([{ alias: "#_gh_gitter_room:x", protocol: "gitter", fields: { room: q.query.get("room") } }]),
    );
    const alice = await newUser();
    const r = await alice.call("GET", `${V3}/thirdparty/location/gitter?room=matrix-org%2Fspec`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual([{ alias: "#_gh_gitter_room:x", protocol: "gitter", fields: { room: "matrix-org/spec" } }]);
    const seen = bridge.requests.find((q) => q.path === "/base/_matrix/app/v1/thirdparty/location/gitter")!;
    expect(seen.query.get("access_token")).toBeNull();
    expectError(await alice.call("GET", `${V3}/thirdparty/user/irc?x=1`), 404, "M_NOT_FOUND");
    expectError(await alice.call("GET", `${V3}/thirdparty/location?alias=${enc("#nope:x")}`), 404, "M_NOT_FOUND");
  });
});

describe("[as: user query] GET /_matrix/app/v1/users/{userId}", () => {
  it("[as: user query] a profile lookup of an unknown namespaced user asks the appservice, which registers it; then the profile is served", async () => {
    const localpart = `_gh_lazy${Date.now()}`;
    const userId = `@${localpart}:${SERVER_NAME}`;
    bridge.handlers.set("/base/_matrix/app/v1/users/", async () => {
      const reg = await SELF.fetch(`${BASE}${V3}/register`, {
        method: "POST",
        headers: { Authorization: `Bearer ${AS_TOKEN}`, "Content-Type": "application/json" },
        body: JSON.stringify({ type: "m.login.application_service", username: localpart, inhibit_login: true }),
      });
      return reg.ok ? Response.json({}) : Response.json({ errcode: "X" }, { status: 404 });
    });
    const alice = await newUser();
    const r = await alice.call("GET", `${V3}/profile/${enc(userId)}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.displayname).toBe(localpart);
    expect(bridge.requests.some((q) => q.path === `/base/_matrix/app/v1/users/${enc(userId)}` && q.auth === "Bearer hs-token-bridge")).toBe(true);
    // The appservice says no: still 404.
    bridge.handlers.set("/base/_matrix/app/v1/users/", () => Response.json({}, { status: 404 }));
    expectError(await alice.call("GET", `${V3}/profile/${enc(`@_gh_nobody:${SERVER_NAME}`)}`), 404, "M_NOT_FOUND");
  });
});

describe("[as: transactions] room events reach the appservice", () => {
  it("[as: interest] a room with a joined ghost: its events and others' go to the appservice in room order; an unrelated room sends nothing", async () => {
    const alice = await newUser();
    const roomId = await createRoom(alice, { preset: "public_chat" });
    const unrelated = await createRoom(alice);
    await alice.ok("PUT", roomPath(unrelated, "send/m.room.message/u1"), { msgtype: "m.text", body: "private" });
    const g = await ghost("room");
    expect((await asCall("POST", `${V3}/rooms/${enc(roomId)}/join`, {}, { user_id: g })).status).toBe(200);
    const sent: string[] = [];
    for (let i = 0; i < 5; i++) {
      const who: Record<string, string> = { user_id: g };
      const r = i % 2 === 0
        ? await asCall("PUT", roomPath(roomId, `send/m.room.message/m${i}`), { msgtype: "m.text", body: `g${i}` }, who)
        : await alice.call("PUT", roomPath(roomId, `send/m.room.message/m${i}`), { msgtype: "m.text", body: `a${i}` });
      expect(r.status).toBe(200);
      sent.push(r.body.event_id as string);
    }
    await waitFor(() => sent.every((id) => bridge.processed.some((e) => e.event_id === id)), "the appservice to receive the messages");
    const inRoom = bridge.processed.filter((e) => e.room_id === roomId);
    // The ghost's join comes first, then the messages in order; nothing from the unrelated room.
    expect(inRoom[0]).toMatchObject({ type: "m.room.member", state_key: g, content: { membership: "join" } });
    expect(inRoom.filter((e) => e.type === "m.room.message").map((e) => e.event_id)).toEqual(sent);
    expect(bridge.processed.some((e) => e.room_id === unrelated)).toBe(false);
    // ClientEvent format.
    expect(inRoom[1]).toMatchObject({ room_id: roomId, sender: g, content: { body: "g0" } });
    expect(typeof (inRoom[1]!.unsigned as JsonObject).age).toBe("number");
    expect(inRoom[1]!.hashes).toBeUndefined();
  });

  it("[as: transactions] the appservice down while 200 events are posted: after it returns it gets all, in order, once", async () => {
    const alice = await newUser();
    const roomId = await createRoom(alice, { preset: "public_chat" });
    const g = await ghost("down");
    await asCall("POST", `${V3}/rooms/${enc(roomId)}/join`, {}, { user_id: g });
    await waitFor(async () => (await appserviceActor(env, "bridge").status()).queued === 0, "the join to be delivered");
    bridge.behaviour = "down";
    const sent: string[] = [];
    for (let i = 0; i < 200; i += 20) {
      const batch = await Promise.all(
        Array.from({ length: 20 }, (_, k) => asCall("PUT", roomPath(roomId, `send/m.room.message/d${i + k}`), { msgtype: "m.text", body: `d${i + k}` }, { user_id: g })),
      );
      sent.push(...batch.map((r) => r.body.event_id as string));
    }
    await waitFor(async () => (await appserviceActor(env, "bridge").status()).queued >= 200, "the events to be queued at the appservice actor", 30_000);
    expect(bridge.processed.filter((e) => e.room_id === roomId && e.type === "m.room.message")).toEqual([]);
    bridge.behaviour = "ok";
    await appserviceActor(env, "bridge").kick();
    await waitFor(async () => (await appserviceActor(env, "bridge").status()).queued === 0, "the backlog to drain", 30_000);
    const got = bridge.processed.filter((e) => e.room_id === roomId && e.type === "m.room.message").map((e) => e.event_id as string);
    // The room's stream order (the order it committed them in) is the order the appservice sees.
    const roomOrder = (await roomEvents(roomId)).filter((e) => e.pdu.type === "m.room.message").map((e) => e.event_id);
    expect(new Set(got)).toEqual(new Set(sent));
    expect(got.length).toBe(200);
    expect(got).toEqual(roomOrder);
  }, 60_000);
});
