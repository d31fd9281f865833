/**
 * GET /_matrix/client/v1/mutual_rooms: the rooms both the caller and another user are joined
 * to, in room-ID order, MUTUAL_ROOMS_PAGE_SIZE at a time (`next_batch` is the last room ID of the page).
 * https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv1mutual_rooms
 *
 * A local user's joined rooms come from their User actor; for a remote user (no federation)
 * each of the caller's joined rooms is asked for that user's membership, a few at a time.
 */
import { invalidParam, missingParam } from "../../lib/errors.ts";
import { isValidRoomId, parseUserId } from "../../lib/identifiers.ts";
import { roomActor, userActor } from "../stubs.ts";
import { authenticate } from "./auth.ts";
import { json } from "./http.ts";
import type { EdgeRequest } from "./router.ts";

/** Rooms asked at once about a remote user's membership. */
const ROOM_CONCURRENCY = 16;

/** The rooms of `mine` where `userId` is joined, asking each room (bounded concurrency). */
async function joinedThere(r: EdgeRequest, mine: string[], userId: string): Promise<string[]> {
  const out: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < mine.length) {
      const roomId = mine[next++]!;
      if ((await roomActor(r.env, roomId).membership(userId)) === "join") out.push(roomId);
    }
  };
  await Promise.all(Array.from({ length: Math.min(ROOM_CONCURRENCY, mine.length) }, worker));
  return out;
}

// GET /_matrix/client/v1/mutual_rooms
export async function mutualRooms(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const q = r.url.searchParams;
  const other = q.get("user_id");
  if (other === null) throw missingParam("'user_id' is required");
  const parsed = parseUserId(other);
  if (!parsed) throw invalidParam("The user ID provided was invalid");
  if (other === me.userId) throw invalidParam("'user_id' must not be your own user ID");
  const from = q.get("from");
  if (from !== null && !isValidRoomId(from)) throw invalidParam("Unknown 'from' token");

  const mine = await userActor(r.env, me.userId).joinedRooms();
  let shared: string[];
  if (parsed.serverName === r.config.serverName) {
    // An unknown local user has no rooms: an empty list, as the spec requires.
    const theirs = new Set(await userActor(r.env, other).joinedRooms());
    shared = mine.filter((id) => theirs.has(id));
  } else {
    shared = await joinedThere(r, mine, other);
  }
  shared.sort();
  const start = from === null ? 0 : shared.findIndex((id) => id > from);
  const rest = start < 0 ? [] : shared.slice(start);
  const joined = rest.slice(0, r.config.mutualRoomsPageSize);
  const body: { joined: string[]; count: number; next_batch?: string } = { joined, count: shared.length };
  if (rest.length > joined.length) body.next_batch = joined[joined.length - 1]!;
  return json(body);
}
