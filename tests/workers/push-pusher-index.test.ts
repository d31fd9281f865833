// POST /pushers/set with `append: false` removes the same pusher (app_id, pushkey) from
// other users, through the D1 pusher index (party/push/pusher-index.ts) kept current by
// each User actor's outbox (party/user/outbox.ts).
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3pushersset
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { evictOtherOwners, evictTarget } from "../../party/push/pusher-index.ts";
import { userActor } from "../../party/stubs.ts";
import type { User } from "../../party/user.ts";
import { newUser, V3, type TestUser } from "./room-helpers.ts";

const APP = "org.parley.index";

function pusherBody(pushkey: string, extra: JsonObject = {}): JsonObject {
  return {
    kind: "http",
    app_id: APP,
    pushkey,
    app_display_name: "Test",
    device_display_name: "Phone",
    lang: "en",
    data: { url: "https://gw.index.test/_matrix/push/v1/notify" },
    ...extra,
  };
}

async function pushkeys(u: TestUser): Promise<string[]> {
  return ((await u.ok("GET", `${V3}/pushers`)).pushers as JsonObject[]).map((p) => p.pushkey as string);
}

async function owners(pushkey: string): Promise<string[]> {
  const { results } = await env.DB.prepare("SELECT user_id FROM pusher_owners WHERE app_id = ? AND pushkey = ? ORDER BY user_id")
    .bind(APP, pushkey)
    .all<{ user_id: string }>();
  return results.map((r) => r.user_id);
}

function outboxRows(u: TestUser): Promise<Array<{ kind: string; target: string; attempts: number }>> {
  return runInDurableObject(userActor(env, u.userId), (_: User, state) =>
    state.storage.sql.exec<{ kind: string; target: string; attempts: number }>("SELECT kind, target, attempts FROM user_outbox ORDER BY id").toArray(),
  );
}

describe("[push: pushers/set append] the same pusher for other users", () => {
  it("[push: pushers/set append=false] another user's pusher with the same app_id and pushkey is removed; the index names only the new owner", async () => {
    const key = `shared${Date.now()}`;
    const [alice, bob] = await Promise.all([newUser("pia"), newUser("pib")]);
    await alice.ok("POST", `${V3}/pushers/set`, pusherBody(key));
    expect(await owners(key)).toEqual([alice.userId]);
    await bob.ok("POST", `${V3}/pushers/set`, pusherBody(key));
    expect(await pushkeys(alice)).toEqual([]);
    expect(await pushkeys(bob)).toEqual([key]);
    expect(await owners(key)).toEqual([bob.userId]);
    // Nothing left to deliver on either side.
    expect(await outboxRows(alice)).toEqual([]);
    expect(await outboxRows(bob)).toEqual([]);
  });

  it("[push: pushers/set append=true] with append both users keep the pusher", async () => {
    const key = `appended${Date.now()}`;
    const [alice, bob] = await Promise.all([newUser("pic"), newUser("pid")]);
    await alice.ok("POST", `${V3}/pushers/set`, pusherBody(key));
    await bob.ok("POST", `${V3}/pushers/set`, pusherBody(key, { append: true }));
    expect(await pushkeys(alice)).toEqual([key]);
    expect(await pushkeys(bob)).toEqual([key]);
    expect(await owners(key)).toEqual([alice.userId, bob.userId].sort());
  });

  it("[push: pushers/set append=false] removal follows deletion: a deleted pusher leaves the index, the same user's other pushers stay", async () => {
    const [alice] = await Promise.all([newUser("pie")]);
    const k1 = `del1${Date.now()}`;
    const k2 = `del2${Date.now()}`;
    await alice.ok("POST", `${V3}/pushers/set`, pusherBody(k1));
    await alice.ok("POST", `${V3}/pushers/set`, pusherBody(k2));
    await alice.ok("POST", `${V3}/pushers/set`, { kind: null, app_id: APP, pushkey: k1 });
    expect(await owners(k1)).toEqual([]);
    expect(await owners(k2)).toEqual([alice.userId]);
  });

  it("[push: pushers index] while D1 fails the change stays queued with a retry; the alarm's retry completes the removal (idempotent)", async () => {
    const key = `retry${Date.now()}`;
    const [alice, bob] = await Promise.all([newUser("pif"), newUser("pig")]);
    await alice.ok("POST", `${V3}/pushers/set`, pusherBody(key));
    // Bob's actor cannot reach D1 for this request.
    await runInDurableObject(userActor(env, bob.userId), (u: User) => {
      const e = (u as unknown as { env: { DB: D1Database } }).env;
      const real = e.DB;
      e.DB = new Proxy(real, { get: (t, p) => (p === "batch" || p === "prepare" ? () => { throw new Error("D1 is down (test)"); } : Reflect.get(t, p)) });
      (u as unknown as { restoreDb: () => void }).restoreDb = () => (e.DB = real);
    });
    await bob.ok("POST", `${V3}/pushers/set`, pusherBody(key)); // acknowledged: the effects are queued
    const queued = await outboxRows(bob);
    expect(queued.map((r) => r.kind).sort()).toEqual(["pusher_evict", "pusher_index"]);
    expect(queued.every((r) => r.attempts === 1)).toBe(true);
    expect(await pushkeys(alice)).toEqual([key]);
    await runInDurableObject(userActor(env, bob.userId), async (u: User, state) => {
      (u as unknown as { restoreDb: () => void }).restoreDb();
      // The retry time has not come; make it due, as the alarm would be later.
      state.storage.sql.exec("UPDATE user_outbox SET next_ts = 0");
      await u.onAlarm();
    });
    expect(await outboxRows(bob)).toEqual([]);
    expect(await pushkeys(alice)).toEqual([]);
    expect(await owners(key)).toEqual([bob.userId]);
    // Running the eviction again changes nothing.
    await evictOtherOwners(env, bob.userId, evictTarget(APP, key));
    expect(await pushkeys(bob)).toEqual([key]);
    expect(await owners(key)).toEqual([bob.userId]);
  });
});
