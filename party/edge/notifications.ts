/**
 * GET /_matrix/client/v3/notifications: the user's notifying events across their joined
 * rooms, newest first, from the same lazy evaluation as the counts (party/room/push.ts):
 * each joined room scans at most PUSH_COUNT_SCAN_LIMIT of its newest events.
 * https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3notifications
 *
 * Tokens are an origin_server_ts bound (exclusive): events of several rooms sharing the
 * boundary millisecond may be skipped between pages (docs/design/push.md).
 */
import { invalidParam } from "../../lib/errors.ts";
import { roomActor, userActor } from "../stubs.ts";
import { authenticate } from "./auth.ts";
import { json } from "./http.ts";
import type { EdgeRequest } from "./router.ts";
import type { RoomNotification } from "../room/push.ts";

/**
 * The Room RPC this handler calls, typed by hand: workers-types cannot map the recursive
 * JsonObject inside RoomNotification through its stub types ("excessively deep").
 */
interface NotificationsRpc {
  notifications(p: { userId: string; pushRules: string; before: number; limit: number; onlyHighlight: boolean }): Promise<RoomNotification[]>;
}

const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 100;
const ROOM_CONCURRENCY = 16;

export async function getNotifications(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const q = r.url.searchParams;
  const from = q.get("from");
  const before = from === null ? Number.MAX_SAFE_INTEGER : Number(from);
  if (!Number.isSafeInteger(before) || before < 0) throw invalidParam("Unknown 'from' token");
  const limitText = q.get("limit");
  const limit = limitText === null ? DEFAULT_LIMIT : Number(limitText);
  if (!Number.isInteger(limit) || limit < 0) throw invalidParam("'limit' must be a non-negative integer");
  const n = Math.min(limit, MAX_LIMIT);
  const onlyHighlight = q.get("only") === "highlight";
  const user = userActor(r.env, me.userId);
  const [rooms, pushRules] = await Promise.all([user.joinedRooms(), user.getPushRules()]);
  const all: RoomNotification[] = [];
  let next = 0;
  const worker = async () => {
    while (next < rooms.length) {
      const roomId = rooms[next++]!;
      try {
        all.push(...(await (roomActor(r.env, roomId) as unknown as NotificationsRpc).notifications({ userId: me.userId, pushRules, before, limit: n, onlyHighlight })));
      } catch (e) {
        console.error(`notifications: room ${roomId} unavailable`, e);
      }
    }
  };
  if (n > 0) await Promise.all(Array.from({ length: Math.min(ROOM_CONCURRENCY, rooms.length) }, worker));
  all.sort((a, b) => b.ts - a.ts);
  const page = all.slice(0, n);
  const body: { notifications: RoomNotification[]; next_token?: string } = { notifications: page };
  if (all.length > n && page.length > 0) body.next_token = String(page[page.length - 1]!.ts);
  return json(body);
}
