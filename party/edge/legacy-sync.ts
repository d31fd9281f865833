/**
 * The deprecated pre-/sync reads, still in v1.19, built on today's read paths:
 * - `GET /initialSync` and `GET /events` are /sync v2 (the User actor's sync machinery)
 *   reshaped: an initial sync with `use_state_after` gives each room's current state and
 *   newest messages; `/events?from=` is an incremental sync from that token, its rooms'
 *   timelines flattened into one chunk (each event with its `room_id`).
 * - `GET /rooms/{roomId}/initialSync` is the room's `/state` and `/messages` reads (so it
 *   also serves peeking into world-readable rooms, under the same visibility rules).
 * - `GET /events/{eventId}` asks each of the user's joined rooms for the event, as
 *   `/rooms/{roomId}/event/{eventId}` does (history visibility applies).
 * https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3initialsync
 * https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3events
 *
 * Limits and choices (docs/design/client-extras.md, "Deprecated reads"): `/events` carries
 * room timeline events and presence only (to-device messages, typing and receipts have no
 * place in the old stream, and a device that uses /events loses the to-device messages a
 * sync would have delivered); a room with more than `LEGACY_EVENTS_ROOM_LIMIT` new events
 * since `from` gives its newest ones. `/events/{eventId}` looks in joined rooms only. `/events`
 * with `room_id` (peeking) works for the user's joined rooms only; other rooms are 403.
 */
import { MatrixError } from "../../lib/errors.ts";
import { parseRoomEventFilterParam } from "../../lib/event-filter.ts";
import { isValidEventId, isValidRoomId } from "../../lib/identifiers.ts";
import type { JsonObject, JsonValue } from "../../lib/json.ts";
import { MAX_SYNC_TIMEOUT_MS, parseFilterParam, parseSyncParams, type SyncParams } from "../../lib/sync/request.ts";
import { roomActor, userActor } from "../stubs.ts";
import { authenticate, type Requester } from "./auth.ts";
import { json } from "./http.ts";
import type { EdgeRequest } from "./router.ts";

/** Default and largest `limit` of the initialSync endpoints (messages per room). */
const DEFAULT_INITIAL_LIMIT = 10;
const MAX_INITIAL_LIMIT = 100;
/** Newest events per room one `/events` response carries. */
export const LEGACY_EVENTS_ROOM_LIMIT = 100;
/** Rooms asked at once by `/events/{eventId}`. */
const EVENT_LOOKUP_CONCURRENCY = 8;

type Events = { events?: JsonObject[] };
type RoomEntry = {
  timeline?: Events & { limited?: boolean; prev_batch?: string };
  state?: Events;
  state_after?: Events;
  account_data?: Events;
};
type SyncBody = {
  next_batch: string;
  account_data?: Events;
  presence?: Events;
  rooms?: { join?: Record<string, RoomEntry>; leave?: Record<string, RoomEntry>; invite?: Record<string, unknown> };
};

const invalid = (msg: string) => new MatrixError("M_INVALID_PARAM", 400, msg);

function intParam(r: EdgeRequest, name: string, dflt: number, max: number): number {
  const raw = r.url.searchParams.get(name);
  if (raw === null || raw === "") return dflt;
  if (!/^\d{1,9}$/.test(raw)) throw invalid(`'${name}' must be a non-negative integer`);
  return Math.min(Number(raw), max);
}

function boolParam(r: EdgeRequest, name: string): boolean {
  const raw = r.url.searchParams.get(name);
  if (raw === null || raw === "false") return false;
  if (raw === "true") return true;
  throw invalid(`'${name}' must be true or false`);
}

async function runSync(r: EdgeRequest, me: Requester, p: { since?: string; timeoutMs: number; filter: JsonObject }): Promise<SyncBody> {
  const params: SyncParams = {
    ...parseSyncParams(new URLSearchParams()),
    since: p.since,
    timeoutMs: p.timeoutMs,
    filter: parseFilterParam(JSON.stringify(p.filter)),
    useStateAfter: true,
  };
  return JSON.parse(await userActor(r.env, me.userId).sync(me.deviceId, params)) as SyncBody;
}

const withRoom = (roomId: string, events: JsonObject[] | undefined): JsonObject[] => (events ?? []).map((e) => ({ ...e, room_id: roomId }));

// GET /_matrix/client/v3/initialSync
export async function initialSync(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const limit = intParam(r, "limit", DEFAULT_INITIAL_LIMIT, MAX_INITIAL_LIMIT);
  const archived = boolParam(r, "archived");
  const s = await runSync(r, me, { timeoutMs: 0, filter: { room: { timeline: { limit }, include_leave: archived } } });
  const rooms: JsonObject[] = [];
  const entry = (roomId: string, membership: string, e: RoomEntry): JsonObject => ({
    room_id: roomId,
    membership,
    messages: {
      chunk: withRoom(roomId, e.timeline?.events),
      // The chunk's older edge: a /messages token where there is history before it.
      start: e.timeline?.prev_batch ?? s.next_batch,
      end: s.next_batch,
    },
    state: withRoom(roomId, e.state_after?.events ?? e.state?.events),
    account_data: e.account_data?.events ?? [],
  });
  for (const [roomId, e] of Object.entries(s.rooms?.join ?? {})) rooms.push(entry(roomId, "join", e));
  for (const roomId of Object.keys(s.rooms?.invite ?? {})) rooms.push({ room_id: roomId, membership: "invite" });
  if (archived) for (const [roomId, e] of Object.entries(s.rooms?.leave ?? {})) rooms.push(entry(roomId, "leave", e));
  return json({
    end: s.next_batch,
    rooms,
    presence: s.presence?.events ?? [],
    account_data: s.account_data?.events ?? [],
  });
}

// GET /_matrix/client/v3/events
export async function events(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const timeoutText = r.url.searchParams.get("timeout");
  let timeoutMs = 0;
  if (timeoutText !== null && timeoutText !== "") {
    if (!/^\d{1,12}$/.test(timeoutText)) throw invalid("'timeout' must be a non-negative integer");
    timeoutMs = Math.min(Number(timeoutText), MAX_SYNC_TIMEOUT_MS);
  }
  const roomFilter = r.url.searchParams.get("room_id");
  if (roomFilter !== null && !isValidRoomId(roomFilter)) throw invalid("'room_id' is not a valid room ID");
  // `room_id` narrows the stream to one of the user's rooms; peeking into a room they are not
  // in through /events is not built (GET /rooms/{roomId}/initialSync does serve previews).
  if (roomFilter !== null && !(await userActor(r.env, me.userId).joinedRooms()).includes(roomFilter)) {
    throw new MatrixError("M_FORBIDDEN", 403, "Peeking through /events is not supported: join the room, or use /rooms/{roomId}/initialSync");
  }
  let from = r.url.searchParams.get("from") ?? undefined;
  if (from === "") from = undefined;
  const room = { timeline: { limit: LEGACY_EVENTS_ROOM_LIMIT }, ...(roomFilter ? { rooms: [roomFilter] } : {}) };
  if (from === undefined) {
    // No `from`: the stream starts now. The smallest initial sync gives the position; it must
    // cover every room (not `rooms: []`), or the long-poll below would not wake for them.
    const now = await runSync(r, me, {
      timeoutMs: 0,
      filter: { room: { timeline: { limit: 1 }, state: { types: [] } }, presence: { types: [] }, account_data: { types: [] } },
    });
    from = now.next_batch;
  }
  const s = await runSync(r, me, { since: from, timeoutMs, filter: { room, account_data: { types: [] } } });
  const chunk: JsonValue[] = [];
  for (const section of [s.rooms?.join, s.rooms?.leave]) {
    for (const [roomId, e] of Object.entries(section ?? {})) chunk.push(...withRoom(roomId, e.timeline?.events));
  }
  if (!roomFilter) chunk.push(...(s.presence?.events ?? []));
  return json({ start: from, end: s.next_batch, chunk });
}

// GET /_matrix/client/v3/rooms/{roomId}/initialSync
export async function roomInitialSync(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const roomId = r.params.roomId!;
  if (!isValidRoomId(roomId)) throw invalid(`${JSON.stringify(roomId)} is not a valid room ID`);
  const limit = intParam(r, "limit", DEFAULT_INITIAL_LIMIT, MAX_INITIAL_LIMIT);
  const room = roomActor(r.env, roomId);
  const requester = { requester: me.userId, deviceId: me.deviceId };
  // Both reads apply the room's visibility rules: a non-member sees a world-readable room only.
  const state = (await room.state(requester)) as JsonObject[];
  const page = (await room.messages({ ...requester, dir: "b", limit, filter: parseRoomEventFilterParam(null) })) as {
    chunk: JsonObject[];
    start: string;
    end?: string;
  };
  const own = state.find((e) => e.type === "m.room.member" && e.state_key === me.userId);
  const membership = (own?.content as JsonObject | undefined)?.membership;
  const body: JsonObject = {
    room_id: roomId,
    messages: {
      // Oldest first, as the old API ordered them; `start` is the older edge.
      chunk: [...page.chunk].reverse().map((e) => ({ ...e, room_id: roomId })),
      start: page.end ?? page.start,
      end: page.start,
    },
    state: state.map((e) => ({ ...e, room_id: roomId })),
  };
  if (typeof membership === "string") body.membership = membership;
  return json(body);
}

// GET /_matrix/client/v3/events/{eventId}
export async function event(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const eventId = r.params.eventId!;
  if (!isValidEventId(eventId)) throw invalid(`${JSON.stringify(eventId)} is not a valid event ID`);
  const rooms = await userActor(r.env, me.userId).joinedRooms();
  for (let i = 0; i < rooms.length; i += EVENT_LOOKUP_CONCURRENCY) {
    const batch = rooms.slice(i, i + EVENT_LOOKUP_CONCURRENCY);
    const found = await Promise.all(
      batch.map(async (roomId): Promise<JsonObject | null> => {
        try {
          const e = (await roomActor(r.env, roomId).event({ requester: me.userId, deviceId: me.deviceId, eventId })) as unknown as JsonObject;
          return { ...e, room_id: roomId };
        } catch {
          return null; // not in this room, or not visible there: the same to the caller
        }
      }),
    );
    const hit = found.find((e) => e !== null);
    if (hit) return json(hit);
  }
  throw new MatrixError("M_NOT_FOUND", 404, "Event not found");
}
