/**
 * The Room actor's history reads: /messages, /context, /timestamp_to_event, /members,
 * /joined_members and single events — every one through the reader's history
 * visibility (visibility.ts), every event served with unsigned data and bundled
 * aggregations (serve.ts, relations.ts).
 * https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3roomsroomidmessages
 *
 * Order: stream ordering, which is topological while the room's graph is linear (every
 * local event extends the tip). Tokens: lib/pagination-token.ts.
 */
import { forbidden, notFound } from "../../lib/errors.ts";
import { eventMatchesFilter, effectiveLimit, filterNeedsContent, lazyLoadMembers } from "../../lib/event-filter.ts";
import type { ClientEvent } from "../../lib/event-format.ts";
import type { RoomEventFilter } from "../../lib/filter.ts";
import type { Membership } from "../../lib/history-visibility.ts";
import type { JsonObject } from "../../lib/json.ts";
import { pageRange, parseToken, positionAfterPage, streamToken, tryParseToken, type Direction } from "../../lib/pagination-token.ts";
import { splitStateKey, stateKey, type StateMap } from "../../lib/pdu.ts";
import { serveEvents } from "./relations.ts";
import { scanPage } from "./scan.ts";
import type { ReaderDevice } from "./serve.ts";
import type { StoredEvent } from "./store.ts";
import { ROW_COLUMNS, stateEntryAt, Viewer, type EventRow, type ReadRoom } from "./visibility.ts";

export const MESSAGES_DEFAULT_LIMIT = 10;
/** Largest page /messages and /context return, whatever the client asks (documented in room-actor.md). */
export const MESSAGES_MAX_LIMIT = 1000;

/** A viewer that may read the room's history at all, or 403. */
export function historyViewer(room: ReadRoom, userId: string): Viewer {
  const viewer = new Viewer(room, userId);
  if (!viewer.mayReadHistory()) throw forbidden("You aren't a member of the room and weren't previously a member of it");
  return viewer;
}

function rowsBetween(room: ReadRoom, dir: Direction, lo: number, hi: number, n: number): EventRow[] {
  return room.sql
    .exec<EventRow>(
      `SELECT ${ROW_COLUMNS} FROM events WHERE rejection IS NULL AND stream > ? AND stream <= ? ORDER BY stream ${dir === "b" ? "DESC" : "ASC"} LIMIT ?`,
      lo,
      hi,
      n,
    )
    .toArray();
}

/** Row → event when the reader may see it and the filter passes (columns first, content only if needed). */
function acceptor(room: ReadRoom, viewer: Viewer, filter: RoomEventFilter) {
  const needsContent = filterNeedsContent(filter);
  return (r: EventRow): StoredEvent | undefined => {
    const cheap = { type: r.type, sender: r.sender, room_id: room.roomId, content: {} };
    if (!eventMatchesFilter({ ...filter, contains_url: undefined }, cheap)) return undefined;
    if (!viewer.canSeeRow(r)) return undefined;
    const ev = room.store.event(r.event_id);
    if (!ev) return undefined;
    if (needsContent && !eventMatchesFilter(filter, { ...cheap, content: ev.pdu.content })) return undefined;
    return ev;
  };
}

/**
 * Lazy-loaded members: the member event of each sender in the state at `at` (the newest
 * event of the page), unless the page itself carries one.
 */
function memberStateFor(room: ReadRoom, filter: RoomEventFilter, events: StoredEvent[], at: StoredEvent | undefined): StoredEvent[] {
  if (!at) return [];
  const senders = lazyLoadMembers(filter, events.map((e) => e.sender));
  const out: StoredEvent[] = [];
  for (const s of senders) {
    const id = at.pdu.type === "m.room.member" && at.pdu.state_key === s ? at.pdu.event_id : stateEntryAt(room, at.stateBefore, "m.room.member", s);
    const ev = id === undefined ? undefined : room.store.event(id);
    if (ev) out.push(ev);
  }
  return out;
}

export interface MessagesRequest {
  dir: Direction;
  from?: string;
  to?: string;
  limit?: number;
  filter: RoomEventFilter;
}

/** GET /rooms/{roomId}/messages */
export function messages(room: ReadRoom, userId: string, device: ReaderDevice, p: MessagesRequest): JsonObject {
  const viewer = historyViewer(room, userId);
  const newest = room.head.stream;
  const fromPos = p.from !== undefined ? parseToken(p.from, "from") : p.dir === "b" ? newest : 0;
  const toPos = p.to !== undefined ? parseToken(p.to, "to") : undefined;
  const limit = effectiveLimit(p.limit, p.filter, MESSAGES_DEFAULT_LIMIT, MESSAGES_MAX_LIMIT);
  const range = pageRange(p.dir, fromPos, toPos, newest);
  // A non-member sees nothing after their last membership or visibility change: neither
  // direction scans past it (a departed user paging back skips what came after they left).
  range.upTo = Math.max(range.after, Math.min(range.upTo, viewer.forwardLimit()));
  const page = scanPage(p.dir, range, limit, (lo, hi, n) => rowsBetween(room, p.dir, lo, hi, n), acceptor(room, viewer, p.filter));

  const out: JsonObject = {
    start: streamToken(fromPos),
    chunk: serveEvents(room, viewer, device, page.events) as unknown as JsonObject[],
  };
  if (!page.exhausted) out.end = streamToken(page.last === undefined ? fromPos : positionAfterPage(p.dir, page.last));
  const newestOfPage = p.dir === "b" ? page.events[0] : page.events[page.events.length - 1];
  const state = memberStateFor(room, p.filter, page.events, newestOfPage);
  if (state.length > 0) out.state = serveEvents(room, viewer, device, state) as unknown as JsonObject[];
  return out;
}

export interface ContextRequest {
  eventId: string;
  limit?: number;
  filter: RoomEventFilter;
}

/** GET /rooms/{roomId}/context/{eventId}: `limit` split half before, half after (Synapse's split). */
export function context(room: ReadRoom, userId: string, device: ReaderDevice, p: ContextRequest): JsonObject {
  const viewer = historyViewer(room, userId);
  const ev = room.store.event(p.eventId);
  if (!ev || !viewer.canSee(ev)) throw notFound("Event not found");
  const limit = effectiveLimit(p.limit, p.filter, MESSAGES_DEFAULT_LIMIT, MESSAGES_MAX_LIMIT);
  const beforeLimit = Math.floor(limit / 2);
  const afterLimit = limit - beforeLimit;
  const accept = acceptor(room, viewer, p.filter);
  const before = scanPage("b", { after: 0, upTo: ev.stream - 1 }, beforeLimit, (lo, hi, n) => rowsBetween(room, "b", lo, hi, n), accept);
  const upTo = Math.max(ev.stream, Math.min(room.head.stream, viewer.forwardLimit()));
  const after = scanPage("f", { after: ev.stream, upTo }, afterLimit, (lo, hi, n) => rowsBetween(room, "f", lo, hi, n), accept);

  const lastReturned = after.events[after.events.length - 1] ?? ev;
  let state: StoredEvent[];
  if (p.filter.lazy_load_members) {
    state = memberStateFor(room, p.filter, [ev, ...before.events, ...after.events], lastReturned);
  } else {
    state = [];
    for (const [k, id] of stateAfter(room, lastReturned)) {
      const [type] = splitStateKey(k);
      const s = room.store.event(id);
      if (s && eventMatchesFilter(p.filter, { type, sender: s.sender, room_id: room.roomId, content: s.pdu.content })) state.push(s);
    }
  }
  return {
    event: serveEvents(room, viewer, device, [ev])[0] as unknown as JsonObject,
    events_before: serveEvents(room, viewer, device, before.events) as unknown as JsonObject[],
    events_after: serveEvents(room, viewer, device, after.events) as unknown as JsonObject[],
    start: streamToken(before.last === undefined ? ev.stream - 1 : positionAfterPage("b", before.last)),
    end: streamToken(after.last === undefined ? ev.stream : positionAfterPage("f", after.last)),
    state: state.map((s) => serveEvents(room, viewer, device, [s])[0]) as unknown as JsonObject[],
  };
}

/** The whole state after an event (its state before, plus itself if it is a state event). */
function stateAfter(room: ReadRoom, ev: StoredEvent): StateMap {
  const state = ev.stateBefore === room.head.version?.version ? new Map(room.head.state) : room.store.stateAt(ev.stateBefore);
  if (ev.pdu.state_key !== undefined) state.set(stateKey(ev.pdu.type, ev.pdu.state_key), ev.pdu.event_id);
  return state;
}

/** The state at a stream position: after the newest accepted event at or before it. */
function stateAtPosition(room: ReadRoom, position: number): StateMap {
  if (position >= room.head.stream) return room.head.state;
  const row = room.sql
    .exec<{ event_id: string }>("SELECT event_id FROM events WHERE rejection IS NULL AND stream <= ? ORDER BY stream DESC LIMIT 1", position)
    .toArray()[0];
  const ev = row && room.store.event(row.event_id);
  return ev ? stateAfter(room, ev) : new Map();
}

/** GET /v1/rooms/{roomId}/timestamp_to_event: the closest visible event at or after (f) / at or before (b) `ts`. */
export function timestampToEvent(room: ReadRoom, userId: string, ts: number, dir: Direction): JsonObject {
  const viewer = historyViewer(room, userId);
  // No index on origin_server_ts (it would cost a row per message written); this rare
  // endpoint scans in timestamp order instead, in batches, until a visible event.
  const cmp = dir === "f" ? ">=" : "<=";
  const order = dir === "f" ? "ASC" : "DESC";
  let offset = 0;
  for (let scanned = 0; scanned < 5000; ) {
    const rows = room.sql
      .exec<EventRow & { origin_server_ts: number }>(
        `SELECT ${ROW_COLUMNS}, origin_server_ts FROM events WHERE rejection IS NULL AND origin_server_ts ${cmp} ?
          ORDER BY origin_server_ts ${order}, stream ${order} LIMIT 100 OFFSET ?`,
        ts,
        offset,
      )
      .toArray();
    for (const r of rows) {
      if (viewer.canSeeRow(r)) return { event_id: r.event_id, origin_server_ts: r.origin_server_ts };
    }
    if (rows.length < 100) break;
    offset += rows.length;
    scanned += rows.length;
  }
  throw notFound(`Unable to find event from ${ts} in ${dir === "f" ? "forward" : "backward"} direction`);
}

export interface MembersRequest {
  at?: string;
  membership?: Membership;
  notMembership?: Membership;
}

/**
 * GET /rooms/{roomId}/members. Joined: the state at `at` (default now). A former member:
 * the state when they left (or at `at`, if earlier). Others: only a world_readable room.
 */
export function members(room: ReadRoom, userId: string, device: ReaderDevice, p: MembersRequest): JsonObject[] {
  const viewer = historyViewer(room, userId);
  // `at` should be a room token (a /sync prev_batch); matrix-js-sdk sends its /sync
  // next_batch, a user-level token the room cannot place: that means "now".
  let position = (p.at !== undefined ? tryParseToken(p.at) : undefined) ?? room.head.stream;
  if (viewer.currentMembership !== "join" && viewer.everJoined && viewer.currentVisibility !== "world_readable") {
    position = Math.min(position, viewer.lastMembershipStream);
  }
  const state = stateAtPosition(room, position);
  const out: StoredEvent[] = [];
  for (const [k, id] of state) {
    if (!k.startsWith("m.room.member\u0000")) continue;
    const ev = room.store.event(id);
    if (!ev) continue;
    const m = ev.pdu.content.membership;
    // Both given: an OR, as the spec words it (membership is X, or is not Y).
    const pass =
      p.membership === undefined && p.notMembership === undefined
        ? true
        : (p.membership !== undefined && m === p.membership) || (p.notMembership !== undefined && m !== p.notMembership);
    if (pass) out.push(ev);
  }
  return serveEvents(room, viewer, device, out) as unknown as JsonObject[];
}

/** GET /rooms/{roomId}/joined_members: only for joined members. */
export function joinedMembers(room: ReadRoom, userId: string): JsonObject {
  const own = room.head.state.get(stateKey("m.room.member", userId));
  if (own === undefined || room.store.event(own)?.pdu.content.membership !== "join") throw forbidden("You aren't a member of the room");
  const joined: JsonObject = {};
  for (const [k, id] of room.head.state) {
    if (!k.startsWith("m.room.member\u0000")) continue;
    const c = room.store.event(id)?.pdu.content;
    if (c?.membership !== "join") continue;
    const info: JsonObject = {};
    if (typeof c.displayname === "string") info.display_name = c.displayname;
    if (typeof c.avatar_url === "string") info.avatar_url = c.avatar_url;
    joined[splitStateKey(k)[1]] = info;
  }
  return { joined };
}

/** GET /rooms/{roomId}/event/{eventId} with full history visibility and bundled aggregations. */
export function event(room: ReadRoom, userId: string, device: ReaderDevice, eventId: string): ClientEvent {
  const viewer = new Viewer(room, userId);
  const ev = room.store.event(eventId);
  // Not found and not allowed look the same, so events cannot be probed for.
  if (!ev || !viewer.canSee(ev)) throw notFound("Event not found");
  return serveEvents(room, viewer, device, [ev])[0]!;
}
