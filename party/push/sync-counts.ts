/**
 * The User actor's side of notification counts in /sync v2: after the rooms answered,
 * ask each joined room in the response for this user's counts (one small RPC per room
 * in the response, whichever path — room or hub fast path — produced it), with the
 * user's ruleset, which only this actor holds. The room memoises, so a room asked
 * again with nothing new does not rescan (docs/design/push.md, "Counting").
 * https://spec.matrix.org/v1.19/client-server-api/#receiving-notifications
 */
import type { CountPoint, CountResult } from "../../lib/push/counts.ts";
import type { RoomSyncResult } from "../../lib/sync/response.ts";
import type { Env } from "../env.ts";
import { roomActor } from "../stubs.ts";
import { pushRulesJson } from "../user/push-rules.ts";

/** Rooms asked at once. */
const CONCURRENCY = 32;

export async function attachUnreadCounts(
  env: Env,
  sql: SqlStorage,
  userId: string,
  results: ReadonlyArray<readonly [string, unknown, RoomSyncResult]>,
  perThread: boolean,
  /** When given: each room's CountPoint goes here (sliding sync counts on from it). */
  points?: Map<string, CountPoint>,
): Promise<void> {
  const point = points !== undefined;
  const joined = results.filter(([, , r]) => r.membership === "join");
  if (joined.length === 0) return;
  const pushRules = pushRulesJson(sql, userId);
  let next = 0;
  const worker = async () => {
    while (next < joined.length) {
      const [roomId, , result] = joined[next++]!;
      try {
        const c = await (roomActor(env, roomId) as unknown as CountsRpc).unreadCounts({ userId, pushRules, perThread, point });
        if (!c) continue;
        result.unreadNotifications = c.room;
        if (c.point) points?.set(roomId, c.point);
        if (perThread) result.unreadThreadNotifications = c.threads ?? {};
      } catch (e) {
        // Counts are left out (not zeroed: a zero would claim the room is read).
        console.error(`push: counts for ${roomId} unavailable`, e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, joined.length) }, worker));
}

/** Room.unreadCounts, typed without the recursive JSON of the power levels' `notifications`. */
export interface CountsRpc {
  unreadCounts(p: { userId: string; pushRules: string; perThread: boolean; point: boolean }): Promise<CountResult | null>;
}
