/**
 * One room's part of one user's /sync, computed inside the Room actor (it holds the
 * events, state and ephemeral data): timeline since the client's position with
 * `limited`/`prev_batch`, the state delta (lazy-loading aware), the summary, typing and
 * receipts, or the stripped state of an invite/knock.
 * https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3sync
 *
 * Reads go through the read paths' history visibility (party/room/visibility.ts) and
 * event serving (serve.ts/relations.ts), so /sync shows exactly what /messages would.
 */
import { eventMatchesFilter, filterNeedsContent } from "../../lib/event-filter.ts";
import type { ClientEvent, ClientEventWithoutRoomId } from "../../lib/event-format.ts";
import type { RoomEventFilter } from "../../lib/filter.ts";
import type { JsonObject } from "../../lib/json.ts";
import { streamToken } from "../../lib/pagination-token.ts";
import { stateKey, type StateMap } from "../../lib/pdu.ts";
import type { PublishedPosition, SyncMembership } from "../../lib/sync/position.ts";
import type { RoomSyncRequest, RoomSyncResult, StrippedStateEvent } from "../../lib/sync/response.ts";
import { stateDelta } from "../../lib/sync/state-delta.ts";
import { isNamed, MAX_HEROES, roomSummary, type RoomSummary } from "../../lib/sync/summary.ts";
import { serveEvents } from "../room/relations.ts";
import { scanPage } from "../room/scan.ts";
import type { StoredEvent } from "../room/store.ts";
import { ROW_COLUMNS, Viewer, type EventRow, type ReadRoom } from "../room/visibility.ts";
import { deviceListChangesSince, memberChangesBetween } from "./device-lists.ts";
import { presenceSince, presenceSnapshot } from "../room/presence.ts";

/** What the feed needs from the room besides its store: ephemeral data and its position. */
export interface FeedSource {
  position(): PublishedPosition;
  typingUsers(): string[];
  receiptsSince(since: number, forUserId: string): { position: number; content: Record<string, unknown> };
}

/** The state types an invitee or knocker sees (spec: stripped state, recommended set). */
export const STRIPPED_STATE_TYPES = [
  "m.room.create",
  "m.room.join_rules",
  "m.room.name",
  "m.room.avatar",
  "m.room.canonical_alias",
  "m.room.encryption",
  "m.room.topic",
];

export function roomSync(room: ReadRoom, source: FeedSource, req: RoomSyncRequest): RoomSyncResult {
  const viewer = new Viewer(room, req.userId);
  const membership: SyncMembership = viewer.currentMembership ?? "leave";
  const memberStream = viewer.lastMembershipStream;
  const position = source.position();
  const base = { membership, memberStream, position };
  if (membership === "invite" || membership === "knock") return { ...base, stripped: strippedState(room, req.userId) };
  if (viewer.currentMembership === undefined) return base; // never a member: nothing to tell

  const joined = membership === "join";
  // A departed member's timeline ends at their leave (or ban).
  const upTo = joined ? room.head.stream : memberStream;
  const since = req.since;
  const after = since ? Math.min(since.s, upTo) : 0;
  const device = { deviceId: req.deviceId };

  const page = scanPage(
    "b",
    { after, upTo },
    req.timeline.limit,
    (lo, hi, n) => rowsBetween(room, lo, hi, n),
    acceptor(room, viewer, req.timeline),
  );
  const events = page.events.reverse();
  const first = events[0];
  const timeline = {
    events: withoutRoomId(serveEvents(room, viewer, device, events)),
    limited: !page.exhausted,
    prev_batch: streamToken(first ? first.stream - 1 : upTo),
  };

  // State at the start of the timeline (or, with use_state_after, at its end), against
  // the state the client had at `since`.
  const stateAfter = req.stateAfter === true;
  const startVersion = stateAfter ? versionAfter(room, upTo) : first ? first.stateBefore : versionAfter(room, upTo);
  const sinceVersion = since ? versionAfter(room, after) : undefined;
  const needState = !since || req.fullState || sinceVersion !== startVersion;
  let stateIds: string[] = [];
  let lazyIds: string[] = [];
  let summary: RoomSummary | undefined;
  const heroes: string[] = [];
  const memberChange = events.some((e) => e.pdu.type === "m.room.member");
  if (joined && (!since || req.fullState || memberChange || needState)) {
    summary = summaryOf(room, req.userId);
    heroes.push(...(summary["m.heroes"] ?? []));
  }
  if (needState || req.state.lazy_load_members) {
    const atStart = stateAtVersion(room, startVersion);
    const d = stateDelta({
      before: needState ? (since ? stateAtVersion(room, sinceVersion!) : undefined) : atStart,
      atStart,
      fullState: req.fullState,
      filter: req.state,
      userId: req.userId,
      timelineSenders: events.map((e) => e.sender),
      heroes,
      // state_after must hold the timeline's own state changes too: the client updates
      // its state only from it (spec, rooms.join.state_after).
      timelineEventIds: stateAfter ? new Set() : new Set(events.map((e) => e.pdu.event_id)),
    });
    stateIds = d.state;
    lazyIds = d.lazyMembers;
  }
  const result: RoomSyncResult = { ...base, timeline };
  const state = load(room, stateIds, req.state);
  if (state.length > 0) result.state = withoutRoomId(serveEvents(room, viewer, device, state));
  const lazy = load(room, lazyIds, req.state);
  if (lazy.length > 0) result.lazyMembers = withoutRoomId(serveEvents(room, viewer, device, lazy));
  if (summary) result.summary = summary;
  if (joined && req.ephemeral) {
    const eph = ephemeral(source, req, position);
    if (eph.length > 0) result.ephemeral = eph;
  }
  if (joined) Object.assign(result, deviceListFacts(room, since, memberStream, upTo));
  if (joined && req.presence) {
    // New to the client (or just rejoined): who is around now; otherwise what changed (docs/design/presence.md).
    const facts = !since || memberStream > since.s ? presenceSnapshot(room.sql, req.presence.limit) : presenceSince(room.sql, since.p ?? 0, req.presence.limit);
    if (facts.length > 0) result.presence = facts;
  }
  if (!joined) result.position = { ...position, s: upTo };
  return result;
}

/** The room's position only (a hub shard did not know it). */
export function roomPosition(source: FeedSource): PublishedPosition {
  return source.position();
}

function ephemeral(source: FeedSource, req: RoomSyncRequest, position: PublishedPosition): JsonObject[] {
  const out: JsonObject[] = [];
  const typing = source.typingUsers();
  // m.typing is the whole set: sent when it changed since the client's position (or, for
  // a room new to the client, when anyone is typing).
  if (req.since ? req.since.t < position.t : typing.length > 0) out.push({ type: "m.typing", content: { user_ids: typing } });
  const receipts = source.receiptsSince(req.since ? req.since.r : 0, req.userId);
  if (Object.keys(receipts.content).length > 0) out.push({ type: "m.receipt", content: receipts.content as JsonObject });
  return out;
}

export function rowsBetween(room: ReadRoom, lo: number, hi: number, n: number): EventRow[] {
  return room.sql
    .exec<EventRow>(`SELECT ${ROW_COLUMNS} FROM events WHERE rejection IS NULL AND stream > ? AND stream <= ? ORDER BY stream DESC LIMIT ?`, lo, hi, n)
    .toArray();
}

function acceptor(room: ReadRoom, viewer: Viewer, filter: RoomEventFilter) {
  const needsContent = filterNeedsContent(filter);
  const cheapFilter = { ...filter, contains_url: undefined };
  return (r: EventRow): StoredEvent | undefined => {
    const cheap = { type: r.type, sender: r.sender, content: {} };
    if (!eventMatchesFilter(cheapFilter, cheap)) return undefined;
    if (!viewer.canSeeRow(r)) return undefined;
    const ev = room.store.event(r.event_id);
    if (!ev) return undefined;
    if (needsContent && !eventMatchesFilter(filter, { ...cheap, content: ev.pdu.content })) return undefined;
    return ev;
  };
}

/** The state version in force right after stream position `p`. */
export function versionAfter(room: ReadRoom, p: number): number {
  if (p >= room.head.stream) return room.head.version?.version ?? 0;
  const next = room.sql
    .exec<{ v: number }>("SELECT state_before AS v FROM events WHERE stream > ? AND rejection IS NULL ORDER BY stream LIMIT 1", p)
    .toArray()[0];
  return next ? next.v : (room.head.version?.version ?? 0);
}

export function stateAtVersion(room: ReadRoom, version: number): StateMap {
  if (version === (room.head.version?.version ?? 0)) return room.head.state;
  return room.store.stateAt(version);
}

/** State events by ID, with the state filter's senders applied (types were applied by key). */
function load(room: ReadRoom, ids: string[], filter: RoomEventFilter): StoredEvent[] {
  const out: StoredEvent[] = [];
  for (const id of ids) {
    const ev = room.store.event(id);
    if (!ev) continue;
    if (filter.not_senders?.includes(ev.sender) || (filter.senders && !filter.senders.includes(ev.sender))) continue;
    out.push(ev);
  }
  return out;
}

function withoutRoomId(events: ClientEvent[]): ClientEventWithoutRoomId[] {
  return events.map(({ room_id: _, ...rest }) => rest);
}

function summaryOf(room: ReadRoom, userId: string): RoomSummary {
  const counts = room.sql
    .exec<{ membership: string; n: number }>(
      "SELECT membership, COUNT(*) AS n FROM current_state WHERE type = 'm.room.member' AND membership IN ('join', 'invite') GROUP BY membership",
    )
    .toArray();
  const count = (m: string) => counts.find((c) => c.membership === m)?.n ?? 0;
  const content = (type: string) => {
    const id = room.head.state.get(stateKey(type, ""));
    return id === undefined ? undefined : room.store.event(id)?.pdu.content;
  };
  const named = isNamed(content("m.room.name"), content("m.room.canonical_alias"));
  const ordered = (memberships: string) =>
    named
      ? []
      : room.sql
          .exec<{ state_key: string }>(
            `SELECT c.state_key FROM current_state c JOIN events e ON e.event_id = c.event_id
             WHERE c.type = 'm.room.member' AND c.membership IN (${memberships}) AND c.state_key != ?
             ORDER BY e.stream LIMIT ?`,
            userId,
            MAX_HEROES,
          )
          .toArray()
          .map((r) => r.state_key);
  const joinedOrInvited = ordered("'join', 'invite'");
  return roomSummary({
    userId,
    joinedCount: count("join"),
    invitedCount: count("invite"),
    joinedOrInvited,
    leftOrBanned: named || joinedOrInvited.length > 0 ? [] : ordered("'leave', 'ban'"),
    named,
  });
}

/**
 * What the reader's DeviceKeys actor needs to keep its list of users sharing a room right
 * (docs/design/e2ee.md): the whole member list when the room is new to the client or the
 * reader's own membership changed since; otherwise who joined or left since, and whose
 * device list changed since. Filters play no part.
 */
function deviceListFacts(room: ReadRoom, since: RoomSyncRequest["since"], memberStream: number, upTo: number): Partial<RoomSyncResult> {
  if (!since || memberStream > since.s) return { members: joinedMembers(room) };
  const out: Partial<RoomSyncResult> = {};
  if (upTo > since.s) {
    const changes = memberChangesBetween(room.sql, since.s, upTo);
    if (changes.joined.length > 0 || changes.left.length > 0) out.memberChanges = changes;
  }
  const changed = deviceListChangesSince(room.sql, since.d ?? 0);
  if (changed.length > 0) out.deviceListChanged = changed;
  return out;
}

function joinedMembers(room: ReadRoom): string[] {
  return room.sql
    .exec<{ state_key: string }>("SELECT state_key FROM current_state WHERE type = 'm.room.member' AND membership = 'join'")
    .toArray()
    .map((r) => r.state_key);
}

function strippedState(room: ReadRoom, userId: string): StrippedStateEvent[] {
  const out: StrippedStateEvent[] = [];
  for (const [type, key] of [...STRIPPED_STATE_TYPES.map((t) => [t, ""]), ["m.room.member", userId]] as const) {
    const id = room.head.state.get(stateKey(type, key));
    const ev = id === undefined ? undefined : room.store.event(id);
    if (ev) out.push({ type, state_key: key, content: ev.pdu.content, sender: ev.sender });
  }
  return out;
}
