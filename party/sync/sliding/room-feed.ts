/**
 * One room's part of a sliding sync response (MSC4186), computed inside the Room actor:
 * timeline since the connection's position with `limited`/`prev_batch`/`num_live`, the
 * required state (whole, or what changed since, with lazy members), name, avatar,
 * heroes, member counts, stripped state for an invite or knock, and the receipts and
 * typing set of the extensions. The User actor decides what to ask (party/sync/sliding/).
 * https://github.com/matrix-org/matrix-spec-proposals/pull/4186
 *
 * Reads go through the read paths' history visibility and event serving, as /sync v2's
 * feed (party/sync/room-feed.ts) does, so sliding sync shows what /messages would.
 */
import type { ClientEvent, ClientEventWithoutRoomId } from "../../../lib/event-format.ts";
import type { JsonObject } from "../../../lib/json.ts";
import { streamToken } from "../../../lib/pagination-token.ts";
import { splitStateKey, stateKey } from "../../../lib/pdu.ts";
import type { PublishedPosition, SyncMembership } from "../../../lib/sync/position.ts";
import { lazyMembersFor, selectState } from "../../../lib/sync/sliding/required-state.ts";
import type { Hero, SlidingRoomAnswer, SlidingRoomRequest } from "../../../lib/sync/sliding/room-result.ts";
import type { StrippedStateEvent } from "../../../lib/sync/response.ts";
import { MAX_HEROES } from "../../../lib/sync/summary.ts";
import { Receipts, type ReceiptContent } from "../../room/ephemeral.ts";
import { RoomReads } from "../../room/read-api.ts";
import { serveEvents } from "../../room/relations.ts";
import { scanPage } from "../../room/scan.ts";
import type { StoredEvent } from "../../room/store.ts";
import { Viewer, type EventRow, type ReadRoom } from "../../room/visibility.ts";
import { deviceListChangesSince, memberChangesBetween } from "../device-lists.ts";
import { rowsBetween, stateAtVersion, STRIPPED_STATE_TYPES, versionAfter } from "../room-feed.ts";

export function slidingRoom(room: ReadRoom, position: PublishedPosition, req: SlidingRoomRequest): SlidingRoomAnswer {
  const viewer = new Viewer(room, req.userId);
  const membership: SyncMembership = viewer.currentMembership ?? "leave";
  const createType = current(room, "m.room.create", "")?.pdu.content.type;
  const own = current(room, "m.room.member", req.userId);
  const out: SlidingRoomAnswer = {
    membership,
    memberStream: viewer.lastMembershipStream,
    position,
    encrypted: room.head.state.has(stateKey("m.room.encryption", "")),
    roomType: typeof createType === "string" ? createType : null,
    membershipTs: own?.pdu.origin_server_ts ?? 0,
  };
  // Never a member: nothing to tell (the User actor only asks rooms the user is in).
  if (viewer.currentMembership === undefined) return out;
  const joined = membership === "join";
  let timelineEvents: StoredEvent[] = [];
  if (req.room) {
    if (membership === "invite" || membership === "knock") {
      out.room = { stripped: stripped(room, req.userId), timeline: [], limited: false, numLive: 0, requiredState: [], lazy: [], stream: position.s };
    } else {
      const r = roomData(room, viewer, req, req.room, joined);
      out.room = r.data;
      timelineEvents = r.events;
    }
  }
  if (joined && req.receiptsSince !== undefined) out.receipts = receipts(room, req.userId, req.receiptsSince, timelineEvents);
  if (joined && req.typing) out.typing = new RoomReads(room).typingUsers().user_ids;
  if (joined && req.deviceLists) Object.assign(out, deviceListFacts(room, req.deviceLists.since, viewer.lastMembershipStream));
  return out;
}

/** Who joined or left since `since` and whose keys changed (the whole member list for a room new to the user's DeviceKeys actor). */
function deviceListFacts(room: ReadRoom, since: { s: number; d: number } | null, memberStream: number): Partial<SlidingRoomAnswer> {
  if (!since || memberStream > since.s) {
    const members = room.sql
      .exec<{ state_key: string }>("SELECT state_key FROM current_state WHERE type = 'm.room.member' AND membership = 'join'")
      .toArray()
      .map((r) => r.state_key);
    return { members };
  }
  const out: Partial<SlidingRoomAnswer> = {};
  const changes = memberChangesBetween(room.sql, since.s, room.head.stream);
  if (changes.joined.length > 0 || changes.left.length > 0) out.memberChanges = changes;
  const changed = deviceListChangesSince(room.sql, since.d);
  if (changed.length > 0) out.deviceListChanged = changed;
  return out;
}

function roomData(
  room: ReadRoom,
  viewer: Viewer,
  req: SlidingRoomRequest,
  p: NonNullable<SlidingRoomRequest["room"]>,
  joined: boolean,
): { data: NonNullable<SlidingRoomAnswer["room"]>; events: StoredEvent[] } {
  // A departed member's room ends at their leave (or ban).
  const upTo = joined ? room.head.stream : viewer.lastMembershipStream;
  const after = p.since === null ? 0 : Math.min(p.since, upTo);
  let events: StoredEvent[] = [];
  let limited = false;
  if (p.timelineLimit > 0) {
    const page = scanPage("b", { after, upTo }, p.timelineLimit, (lo, hi, n) => rowsBetween(room, lo, hi, n), (r) => visible(room, viewer, r));
    events = page.events.reverse();
    limited = !page.exhausted;
  } else {
    limited = upTo > after;
  }
  const device = { deviceId: req.deviceId };
  const first = events[0];
  const numLive = p.liveAfterTs > 0 ? events.filter((e) => e.pdu.origin_server_ts > p.liveAfterTs).length : 0;

  // State at the end of the timeline; on an incremental send only what changed since.
  const now = joined ? room.head.state : stateAtVersion(room, versionAfter(room, upTo));
  const currentKeys = [...now.keys()].map(splitStateKey);
  let changed: Array<[string, string]> | undefined;
  if (p.since !== null) {
    const before = stateAtVersion(room, versionAfter(room, after));
    changed = [];
    for (const [k, id] of now) if (before.get(k) !== id) changed.push(splitStateKey(k));
  }
  const sel = selectState({
    rs: p.requiredState,
    userId: req.userId,
    current: currentKeys,
    changed,
    timelineUsers: lazyMembersFor(events.map((e) => ({ type: e.pdu.type, sender: e.sender, state_key: e.pdu.state_key }))),
    lazySent: new Set(p.lazySent),
    limited,
  });
  const stateEvents = sel.keys.flatMap(([t, k]) => {
    const id = now.get(stateKey(t, k));
    const ev = id === undefined ? undefined : room.store.event(id);
    return ev ? [ev] : [];
  });

  const data: NonNullable<SlidingRoomAnswer["room"]> = {
    timeline: withoutRoomId(serveEvents(room, viewer, device, events)),
    limited,
    numLive,
    requiredState: withoutRoomId(serveEvents(room, viewer, device, stateEvents)),
    lazy: sel.lazy,
    stream: upTo,
  };
  if (limited || p.since === null) data.prevBatch = streamToken(first ? first.stream - 1 : upTo);
  const touched = (type: string) => changed === undefined || changed.some(([t]) => t === type);
  const contentOf = (type: string) => {
    const id = now.get(stateKey(type, ""));
    return id === undefined ? undefined : room.store.event(id)?.pdu.content;
  };
  const nameText = contentOf("m.room.name")?.name;
  const name = typeof nameText === "string" && nameText !== "" ? nameText : null;
  if (touched("m.room.name")) data.name = name;
  if (touched("m.room.avatar")) {
    const url = contentOf("m.room.avatar")?.url;
    data.avatar = typeof url === "string" && url !== "" ? url : null;
  }
  if (touched("m.room.member") || touched("m.room.name")) {
    const counts = memberCounts(room);
    data.joinedCount = counts.join;
    data.invitedCount = counts.invite;
    // Heroes only while the room has no name (MSC4186 "heroes").
    if (name === null) data.heroes = heroes(room, req.userId);
  }
  return { data, events };
}

function visible(room: ReadRoom, viewer: Viewer, r: EventRow): StoredEvent | undefined {
  if (!viewer.canSeeRow(r)) return undefined;
  return room.store.event(r.event_id);
}

function current(room: ReadRoom, type: string, key: string): StoredEvent | undefined {
  const id = room.head.state.get(stateKey(type, key));
  return id === undefined ? undefined : room.store.event(id);
}

function withoutRoomId(events: ClientEvent[]): ClientEventWithoutRoomId[] {
  return events.map(({ room_id: _, ...rest }) => rest);
}

function memberCounts(room: ReadRoom): { join: number; invite: number } {
  const rows = room.sql
    .exec<{ membership: string; n: number }>(
      "SELECT membership, COUNT(*) AS n FROM current_state WHERE type = 'm.room.member' AND membership IN ('join', 'invite') GROUP BY membership",
    )
    .toArray();
  return { join: rows.find((r) => r.membership === "join")?.n ?? 0, invite: rows.find((r) => r.membership === "invite")?.n ?? 0 };
}

/** The spec's heroes (joined or invited others by member-event order, else the departed), with their profiles. */
function heroes(room: ReadRoom, userId: string): Hero[] {
  const pick = (memberships: string) =>
    room.sql
      .exec<{ state_key: string; event_id: string }>(
        `SELECT c.state_key, c.event_id FROM current_state c JOIN events e ON e.event_id = c.event_id
         WHERE c.type = 'm.room.member' AND c.membership IN (${memberships}) AND c.state_key != ?
         ORDER BY e.stream LIMIT ?`,
        userId,
        MAX_HEROES,
      )
      .toArray();
  let rows = pick("'join', 'invite'");
  if (rows.length === 0) rows = pick("'leave', 'ban'");
  return rows.map((r) => {
    const content = room.store.event(r.event_id)?.pdu.content ?? {};
    const h: Hero = { user_id: r.state_key };
    if (typeof content.displayname === "string") h.displayname = content.displayname;
    if (typeof content.avatar_url === "string") h.avatar_url = content.avatar_url;
    return h;
  });
}

function stripped(room: ReadRoom, userId: string): StrippedStateEvent[] {
  const out: StrippedStateEvent[] = [];
  for (const [type, key] of [...STRIPPED_STATE_TYPES.map((t) => [t, ""]), ["m.room.member", userId]] as const) {
    const ev = current(room, type, key);
    if (ev) out.push({ type, state_key: key, content: ev.pdu.content, sender: ev.sender });
  }
  return out;
}

/**
 * Receipts after `since`; with -1 (the room is new to the extension) those on the events
 * of this answer's timeline and the user's own, as Synapse sends them, rather than every
 * receipt of a large room.
 */
function receipts(room: ReadRoom, userId: string, since: number, timeline: StoredEvent[]): { position: number; content: JsonObject } {
  const store = new Receipts(room.sql);
  if (since >= 0) {
    const r = store.since(since, userId);
    return { position: r.position, content: r.content as JsonObject };
  }
  const from = timeline[0]?.stream ?? Number.MAX_SAFE_INTEGER;
  const rows = room.sql
    .exec<{ user_id: string; receipt_type: string; thread_id: string; event_id: string; ts: number }>(
      "SELECT user_id, receipt_type, thread_id, event_id, ts FROM receipts WHERE event_stream >= ? OR user_id = ? ORDER BY pos",
      from,
      userId,
    )
    .toArray();
  const content: ReceiptContent = {};
  for (const r of rows) {
    if (r.receipt_type === "m.read.private" && r.user_id !== userId) continue;
    const byType = (content[r.event_id] ??= {});
    const byUser = (byType[r.receipt_type] ??= {});
    byUser[r.user_id] = r.thread_id === "" ? { ts: r.ts } : { ts: r.ts, thread_id: r.thread_id };
  }
  return { position: store.position(), content: content as JsonObject };
}
