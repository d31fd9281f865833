/**
 * The User actor's side of notification counts in /sync v2: after the rooms answered,
 * ask each joined room in the response for this user's counts (one small RPC per room
 * in the response, whichever path — room or hub fast path — produced it), with the
 * user's ruleset, which only this actor holds. The room memoises, so a room asked
 * again with nothing new does not rescan (docs/design/push.md, "Counting").
 * https://spec.matrix.org/v1.19/client-server-api/#receiving-notifications
 */
import type { RoomSyncResult } from "../../lib/sync/response.ts";
import type { Env } from "../env.ts";
import { roomActor } from "../stubs.ts";
import { loadPushRules, pushRulesContent } from "../user/push-rules.ts";

/** Rooms asked at once. */
const CONCURRENCY = 32;

export async function attachUnreadCounts(
  env: Env,
  sql: SqlStorage,
  userId: string,
  results: ReadonlyArray<readonly [string, unknown, RoomSyncResult]>,
  perThread: boolean,
): Promise<void> {
  const joined = results.filter(([, , r]) => r.membership === "join");
  if (joined.length === 0) return;
  const pushRules = JSON.stringify(pushRulesContent(userId, loadPushRules(sql)));
  let next = 0;
  const worker = async () => {
    while (next < joined.length) {
      const [roomId, , result] = joined[next++]!;
      try {
        const c = await roomActor(env, roomId).unreadCounts({ userId, pushRules, perThread });
        if (!c) continue;
        result.unreadNotifications = c.room;
        if (perThread) result.unreadThreadNotifications = c.threads ?? {};
      } catch (e) {
        // Counts are left out (not zeroed: a zero would claim the room is read).
        console.error(`push: counts for ${roomId} unavailable`, e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, joined.length) }, worker));
}
