// Presence (m.presence): PUT/GET rules, /sync's presence section and set_presence, the
// idle and offline transitions run by the User actor's alarm (docs/design/presence.md).
// https://spec.matrix.org/v1.19/client-server-api/#presence
import { env, runDurableObjectAlarm } from "cloudflare:test";
import { loadConfig } from "../../party/env.ts";
import * as presenceRoutes from "../../party/edge/presence.ts";
import type { EdgeRequest } from "../../party/edge/router.ts";
import { afterEach, describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { userActor } from "../../party/stubs.ts";
import { PRESENCE_COUNTERS, presenceClock } from "../../party/user/presence.ts";
import { SYNC_COUNTERS } from "../../party/sync/counters.ts";
import { call, expectError, expectOk, register, type Session, V3 } from "./keys-helpers.ts";
import { fakeAppservice, waitFor } from "./appservice-fake.ts";

const status = (of: string) => `${V3}/presence/${encodeURIComponent(of)}/status`;

async function createRoom(s: Session): Promise<string> {
  return expectOk(await call("POST", `${V3}/createRoom`, { preset: "public_chat" }, s.token)).room_id as string;
}
const join = async (s: Session, roomId: string) => expectOk(await call("POST", `${V3}/join/${encodeURIComponent(roomId)}`, {}, s.token));

/** One /sync; `presence` is the set_presence parameter (offline: the syncing user stays as they are). */
async function sync(s: Session, since?: string, opts: { timeout?: number; presence?: string; filter?: JsonObject } = {}) {
  const q = new URLSearchParams({ timeout: String(opts.timeout ?? 0) });
  if (since) q.set("since", since);
  if (opts.presence) q.set("set_presence", opts.presence);
  if (opts.filter) q.set("filter", JSON.stringify(opts.filter));
  const body = expectOk(await call("GET", `${V3}/sync?${q}`, undefined, s.token));
  const events = ((body.presence as { events?: JsonObject[] } | undefined)?.events ?? []) as JsonObject[];
  return { token: body.next_batch as string, events, body };
}

const about = (events: JsonObject[], userId: string) => events.filter((e) => e.sender === userId);

/** Sets the presence clock `ms` ahead of real time (reset after each test). */
function advance(ms: number): void {
  presenceClock.now = () => Date.now() + ms;
}

afterEach(() => {
  presenceClock.now = () => Date.now();
});

describe("[cs: presence] PUT and GET /presence/{userId}/status", () => {
  it("[cs: presence] a user sets their own presence and reads it back; others may not set it", async () => {
    const alice = await register("pa");
    const bob = await register("pb");
    expectOk(await call("PUT", status(alice.userId), { presence: "online", status_msg: "hello" }, alice.token));
    const got = expectOk(await call("GET", status(alice.userId), undefined, alice.token));
    expect(got.presence).toBe("online");
    expect(got.status_msg).toBe("hello");
    expect(got.currently_active).toBe(true);
    expect(typeof got.last_active_ago).toBe("number");
    expectError(await call("PUT", status(alice.userId), { presence: "offline" }, bob.token), 403, "M_FORBIDDEN");
    // Without status_msg the message is cleared (as Synapse).
    expectOk(await call("PUT", status(alice.userId), { presence: "unavailable" }, alice.token));
    const after = expectOk(await call("GET", status(alice.userId), undefined, alice.token));
    expect(after.presence).toBe("unavailable");
    expect(after.status_msg).toBeUndefined();
    expect(after.currently_active).toBe(false);
  });

  it("[cs: presence] bad bodies are 400: missing or unknown presence, non-string or too long status_msg", async () => {
    const alice = await register("pa");
    expectError(await call("PUT", status(alice.userId), { status_msg: "x" }, alice.token), 400, "M_MISSING_PARAM");
    expectError(await call("PUT", status(alice.userId), { presence: "away" }, alice.token), 400, "M_INVALID_PARAM");
    expectError(await call("PUT", status(alice.userId), { presence: "online", status_msg: 5 }, alice.token), 400, "M_INVALID_PARAM");
    expectError(await call("PUT", status(alice.userId), { presence: "online", status_msg: "x".repeat(513) }, alice.token), 400, "M_INVALID_PARAM");
    expectError(await call("PUT", status("not-a-user-id"), { presence: "online" }, alice.token), 400, "M_INVALID_PARAM");
  });

  it("[cs: presence] GET: 403 for a user sharing no room, 404 for an unknown user, 200 once a room is shared", async () => {
    const alice = await register("pa");
    const bob = await register("pb");
    expectOk(await call("PUT", status(bob.userId), { presence: "online", status_msg: "hi" }, bob.token));
    expectError(await call("GET", status(bob.userId), undefined, alice.token), 403, "M_FORBIDDEN");
    expectError(await call("GET", status(`@nobody${Date.now()}:localhost:8787`), undefined, alice.token), 404, "M_NOT_FOUND");
    await join(bob, await createRoom(alice));
    const got = expectOk(await call("GET", status(bob.userId), undefined, alice.token));
    expect(got).toMatchObject({ presence: "online", status_msg: "hi" });
  });
});

describe("[cs: presence] PRESENCE_ENABLED=false (Synapse's presence.enabled: false)", () => {
  /** The route handlers called directly, with presence switched off in their config. */
  function disabled(method: "GET" | "PUT", userId: string, token: string, body?: unknown): EdgeRequest {
    const url = new URL(`http://127.0.0.1:8787${status(userId)}`);
    const request = new Request(url, { method, headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    const config = loadConfig(env);
    return { request, url, method, params: { userId }, env, config: { ...config, presence: { ...config.presence, enabled: false } }, clientIp: "test", waitUntil: () => {} };
  }

  it("[cs: presence] PUT is accepted and changes nothing; GET answers offline", async () => {
    const alice = await register("pq");
    expectOk(await call("PUT", status(alice.userId), { presence: "online", status_msg: "before" }, alice.token));
    const put = await presenceRoutes.setPresence(disabled("PUT", alice.userId, alice.token, { presence: "unavailable", status_msg: "ignored" }));
    expect(put.status).toBe(200);
    expect(await put.json()).toEqual({});
    const got = await presenceRoutes.getPresence(disabled("GET", alice.userId, alice.token));
    expect(await got.json()).toEqual({ presence: "offline" });
    // The state held by the (enabled) actor did not move.
    expect(expectOk(await call("GET", status(alice.userId), undefined, alice.token))).toMatchObject({ presence: "online", status_msg: "before" });
  });
});

describe("[cs: presence] /sync presence section", () => {
  it("[cs: presence] a change wakes the long-poll of a user sharing rooms, arrives once, and never reaches a stranger", async () => {
    const alice = await register("pa");
    const bob = await register("pb");
    const carol = await register("pc");
    const r1 = await createRoom(alice);
    const r2 = await createRoom(alice);
    await join(bob, r1);
    await join(bob, r2);
    await createRoom(carol);
    const b0 = await sync(bob, undefined, { presence: "offline" });
    const c0 = await sync(carol, undefined, { presence: "offline" });
    const waiting = sync(bob, b0.token, { timeout: 20_000, presence: "offline" });
    const strangerWaiting = sync(carol, c0.token, { timeout: 1_500, presence: "offline" });
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    expectOk(await call("PUT", status(alice.userId), { presence: "unavailable", status_msg: "lunch" }, alice.token));
    const b1 = await waiting;
    expect(Date.now() - t0).toBeLessThan(10_000);
    const seen = about(b1.events, alice.userId);
    expect(seen).toHaveLength(1); // two shared rooms, one event
    expect(seen[0]).toMatchObject({ type: "m.presence", sender: alice.userId, content: { presence: "unavailable", status_msg: "lunch", currently_active: false } });
    // Once told, not again.
    const b2 = await sync(bob, b1.token, { presence: "offline" });
    expect(about(b2.events, alice.userId)).toEqual([]);
    // Carol shares no room with alice.
    const c1 = await strangerWaiting;
    expect(about(c1.events, alice.userId)).toEqual([]);
    const c2 = await sync(carol, undefined, { presence: "offline" });
    expect(about(c2.events, alice.userId)).toEqual([]);
  });

  it("[cs: presence] a user who joins a room brings their presence: members already there see it without a new change", async () => {
    const alice = await register("pa");
    const bob = await register("pb");
    const roomId = await createRoom(alice);
    const a0 = await sync(alice, undefined, { presence: "offline" });
    expectOk(await call("PUT", status(bob.userId), { presence: "online", status_msg: "new here" }, bob.token));
    await join(bob, roomId);
    let token = a0.token;
    let seen: JsonObject[] = [];
    for (let i = 0; i < 5 && seen.length === 0; i++) {
      const next = await sync(alice, token, { presence: "offline", timeout: 3_000 });
      seen = about(next.events, bob.userId);
      token = next.token;
    }
    expect(seen[0]?.content).toMatchObject({ presence: "online", status_msg: "new here" });
  });

  it("[cs: presence] an initial sync holds the current presence of room members and the user's own; the presence filter applies", async () => {
    const alice = await register("pa");
    const bob = await register("pb");
    await join(bob, await createRoom(alice));
    expectOk(await call("PUT", status(alice.userId), { presence: "online", status_msg: "here" }, alice.token));
    const b = await sync(bob); // set_presence defaults to online
    expect(about(b.events, alice.userId)[0]?.content).toMatchObject({ presence: "online", status_msg: "here", currently_active: true });
    expect(about(b.events, bob.userId)[0]?.content).toMatchObject({ presence: "online" });
    const filtered = await sync(bob, undefined, { filter: { presence: { not_senders: [alice.userId] } } });
    expect(about(filtered.events, alice.userId)).toEqual([]);
    expect(about(filtered.events, bob.userId)).toHaveLength(1);
    const none = await sync(bob, undefined, { filter: { presence: { types: [] } } });
    expect(none.body.presence).toBeUndefined();
  });

  it("[cs: presence] set_presence=offline does not mark the user online; the default does; unavailable makes them idle", async () => {
    const dave = await register("pd");
    await sync(dave, undefined, { presence: "offline" });
    expect(expectOk(await call("GET", status(dave.userId), undefined, dave.token)).presence).toBe("offline");
    await sync(dave);
    expect(expectOk(await call("GET", status(dave.userId), undefined, dave.token)).presence).toBe("online");
    await sync(dave, undefined, { presence: "unavailable" });
    expect(expectOk(await call("GET", status(dave.userId), undefined, dave.token)).presence).toBe("unavailable");
  });

  it("[cs: presence] sending a message marks an idle user online and currently active", async () => {
    const erin = await register("pe");
    const roomId = await createRoom(erin);
    expectOk(await call("PUT", status(erin.userId), { presence: "unavailable" }, erin.token));
    expectOk(await call("PUT", `${V3}/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t1`, { msgtype: "m.text", body: "hi" }, erin.token));
    // The edge tells the User actor without holding the response: poll briefly.
    let got: JsonObject = {};
    for (let i = 0; i < 50 && got.presence !== "online"; i++) {
      got = expectOk(await call("GET", status(erin.userId), undefined, erin.token));
      if (got.presence !== "online") await new Promise((r) => setTimeout(r, 20));
    }
    expect(got).toMatchObject({ presence: "online", currently_active: true });
  });
});

describe("[cs: presence] timed transitions (the User actor's alarm)", () => {
  it("[cs: presence] no sync for PRESENCE_SYNC_OFFLINE_MS → offline, and a member's long-poll hears of it", async () => {
    const frank = await register("pf");
    const gina = await register("pg");
    await join(gina, await createRoom(frank));
    await sync(frank); // online
    const g0 = await sync(gina, undefined, { presence: "offline" });
    expect(about(g0.events, frank.userId)[0]?.content).toMatchObject({ presence: "online" });
    const waiting = sync(gina, g0.token, { timeout: 20_000, presence: "offline" });
    await new Promise((r) => setTimeout(r, 200));
    advance(31_000);
    await runDurableObjectAlarm(userActor(env, frank.userId)); // due now: it may have run already
    expect(expectOk(await call("GET", status(frank.userId), undefined, frank.token)).presence).toBe("offline");
    const g1 = await waiting;
    expect(about(g1.events, frank.userId)[0]?.content).toMatchObject({ presence: "offline", currently_active: false });
  });

  it("[cs: presence] no activity for PRESENCE_IDLE_MS → unavailable while still syncing; currently_active ends after PRESENCE_ACTIVE_MS", async () => {
    const hal = await register("ph");
    const ivy = await register("pi");
    await join(ivy, await createRoom(hal));
    expectOk(await call("PUT", status(hal.userId), { presence: "online" }, hal.token));
    const i0 = await sync(ivy, undefined, { presence: "offline" });
    expect(about(i0.events, hal.userId)[0]?.content).toMatchObject({ presence: "online", currently_active: true });
    advance(61_000);
    await sync(hal); // still syncing: not offline
    // The transition is due now: the alarm (armed 10 ms ahead) may have run already.
    await runDurableObjectAlarm(userActor(env, hal.userId));
    const i1 = await sync(ivy, i0.token, { presence: "offline", timeout: 5_000 });
    expect(about(i1.events, hal.userId)[0]?.content).toMatchObject({ presence: "online", currently_active: false });
    expect(typeof (about(i1.events, hal.userId)[0]?.content as JsonObject).last_active_ago).toBe("number");
    const active = expectOk(await call("GET", status(hal.userId), undefined, hal.token));
    expect(active).toMatchObject({ presence: "online", currently_active: false });
    expect(active.last_active_ago as number).toBeGreaterThanOrEqual(61_000);
    advance(301_000);
    await sync(hal);
    await runDurableObjectAlarm(userActor(env, hal.userId));
    const i2 = await sync(ivy, i1.token, { presence: "offline", timeout: 5_000 });
    expect(about(i2.events, hal.userId)[0]?.content).toMatchObject({ presence: "unavailable", currently_active: false });
    expect(expectOk(await call("GET", status(hal.userId), undefined, hal.token)).presence).toBe("unavailable");
  });
});

describe("[as: ephemeral] presence for appservices (receive_ephemeral)", () => {
  it("[as: ephemeral] a presence change of a member of a room with a ghost reaches the appservice as m.presence (no room_id)", async () => {
    const bridge = fakeAppservice("bridge.as.test");
    bridge.behaviour = "ok";
    const alice = await register("pj");
    const roomId = await createRoom(alice);
    const localpart = `_gh_pres${Math.floor(Math.random() * 1e9)}`;
    const reg = await call("POST", `${V3}/register`, { type: "m.login.application_service", username: localpart, inhibit_login: true }, "as-token-bridge");
    const ghostId = expectOk(reg).user_id as string;
    expectOk(await call("POST", `${V3}/rooms/${encodeURIComponent(roomId)}/join?user_id=${encodeURIComponent(ghostId)}`, {}, "as-token-bridge"));
    expectOk(await call("PUT", status(alice.userId), { presence: "online", status_msg: "bridged" }, alice.token));
    const mine = () => bridge.ephemeral.filter((e) => e.type === "m.presence" && e.sender === alice.userId);
    await waitFor(() => mine().length > 0, "alice's presence to reach the appservice");
    expect(mine()[0]).toMatchObject({ type: "m.presence", sender: alice.userId, content: { presence: "online", status_msg: "bridged", currently_active: true } });
    expect(mine()[0]!.room_id).toBeUndefined();
  });
});

describe("[sync: cost] presence costs (docs/design/presence.md, cost model)", () => {
  it("[sync: cost] a published change costs one message per room of its owner; a sync or activity that changes nothing visible costs none; a reader asks each shared room once", async () => {
    const kim = await register("pk");
    const lee = await register("pl");
    const rooms = [await createRoom(kim), await createRoom(kim), await createRoom(kim)];
    await join(lee, rooms[0]!);
    await join(lee, rooms[1]!);
    await sync(kim); // online
    const l0 = await sync(lee, undefined, { presence: "offline" });
    const count = () => ({ ...PRESENCE_COUNTERS, fromRoom: SYNC_COUNTERS.fromRoom });

    let before = count();
    expectOk(await call("PUT", status(kim.userId), { presence: "unavailable", status_msg: "away" }, kim.token));
    expect(PRESENCE_COUNTERS.published - before.published).toBe(1);
    expect(PRESENCE_COUNTERS.roomNotices - before.roomNotices).toBe(3);

    // The reader shares two of the rooms: its next sync asks exactly those two.
    before = count();
    const l1 = await sync(lee, l0.token, { presence: "offline", timeout: 5_000 });
    expect(about(l1.events, kim.userId)).toHaveLength(1);
    expect(SYNC_COUNTERS.fromRoom - before.fromRoom).toBe(2);

    // Back online by PUT: one more publish; then syncs and a PUT with the same state: none.
    expectOk(await call("PUT", status(kim.userId), { presence: "online", status_msg: "away" }, kim.token));
    before = count();
    await sync(kim);
    await sync(kim);
    expectOk(await call("PUT", status(kim.userId), { presence: "online", status_msg: "away" }, kim.token));
    expect(PRESENCE_COUNTERS.published - before.published).toBe(0);
    expect(PRESENCE_COUNTERS.roomNotices - before.roomNotices).toBe(0);
  });
});
