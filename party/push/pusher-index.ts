/**
 * The cross-user pusher index in D1 (schema/d1/0003_pusher_owners.sql): which users hold
 * a pusher with a given (app_id, pushkey). Pushers live in each User actor; this index
 * exists for one rule of POST /pushers/set: with `append: false` "the homeserver should
 * remove any other pushers with the same App ID and pushkey for different users".
 * https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3pushersset
 *
 * Both steps run from the User actor's outbox (party/user/outbox.ts), so they survive a
 * restart and are retried; both are idempotent:
 * - `pusher_index` (one row per user, queued by a trigger on every change to `pushers`):
 *   rewrites the user's index rows from their current pushers in one D1 batch.
 * - `pusher_evict` (one row per (app_id, pushkey) set with `append: false`): asks every
 *   other user the index names to drop that pusher (a no-op for one who no longer has it),
 *   then deletes those index rows.
 */
import type { Env } from "../env.ts";
import { userActor } from "../stubs.ts";

export const PUSHER_INDEX = "pusher_index";
export const PUSHER_EVICT = "pusher_evict";

/** The outbox target of an eviction: [app_id, pushkey] as JSON (either may hold any character). */
export function evictTarget(appId: string, pushkey: string): string {
  return JSON.stringify([appId, pushkey]);
}

/** Rewrites `userId`'s index rows from their current pushers (D1 runs a batch as one transaction). */
export async function writePusherIndex(env: Env, sql: SqlStorage, userId: string): Promise<void> {
  const current = sql.exec<{ app_id: string; pushkey: string }>("SELECT app_id, pushkey FROM pushers").toArray();
  await env.DB.batch([
    env.DB.prepare("DELETE FROM pusher_owners WHERE user_id = ?").bind(userId),
    ...current.map((p) => env.DB.prepare("INSERT INTO pusher_owners (app_id, pushkey, user_id) VALUES (?, ?, ?)").bind(p.app_id, p.pushkey, userId)),
  ]);
}

/** Removes the pusher (app_id, pushkey) from every user but `keeper`; throws if one could not be told. */
export async function evictOtherOwners(env: Env, keeper: string, target: string): Promise<void> {
  const [appId, pushkey] = JSON.parse(target) as [string, string];
  const { results } = await env.DB.prepare("SELECT user_id FROM pusher_owners WHERE app_id = ? AND pushkey = ? AND user_id != ?")
    .bind(appId, pushkey, keeper)
    .all<{ user_id: string }>();
  const outcomes = await Promise.allSettled(results.map((r) => userActor(env, r.user_id).evictPusher({ appId, pushkey })));
  const told = results.filter((_, i) => outcomes[i]!.status === "fulfilled").map((r) => r.user_id);
  if (told.length > 0) {
    await env.DB.batch(
      told.map((u) => env.DB.prepare("DELETE FROM pusher_owners WHERE app_id = ? AND pushkey = ? AND user_id = ?").bind(appId, pushkey, u)),
    );
  }
  const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === "rejected");
  if (failed) throw failed.reason;
}
