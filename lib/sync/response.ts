/**
 * The /sync response: one room's part as the Room actor computes it, and the assembly of
 * the whole response in the User actor.
 * https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3sync
 *
 * Sections with nothing in them are left out (every field but next_batch is optional),
 * except the one-time-key counts and fallback key types, which E2EE clients read on
 * every response. `unread_notifications` (and `unread_thread_notifications` when the
 * timeline filter asks) is set on every joined room in the response: the User actor asks
 * each such room for the counts after the rooms answered (party/push/sync-counts.ts,
 * docs/design/push.md).
 */
import type { ClientEventWithoutRoomId } from "../event-format.ts";
import type { JsonObject } from "../json.ts";
import type { PublishedPosition, RoomPosition, SyncMembership } from "./position.ts";
import type { RoomEventFilter, StateFilter } from "../filter.ts";
import type { RoomSummary } from "./summary.ts";
import type { UnreadCounts } from "../push/counts.ts";
import type { PresenceFact } from "../presence.ts";

/** What the User actor asks one room for. */
export interface RoomSyncRequest {
  userId: string;
  deviceId: string;
  /** Where the client is in this room; null when it has nothing of it (send full state). */
  since: RoomPosition | null;
  fullState: boolean;
  timeline: RoomEventFilter & { limit: number };
  state: StateFilter;
  /** Whether to compute typing and receipts (the ephemeral filter lets the room through). */
  ephemeral: boolean;
  /**
   * `use_state_after`: `state` is then the delta up to the END of the timeline (timeline
   * state events included), sent as `state_after`. Absent = false.
   */
  stateAfter?: boolean;
  /**
   * Presence facts wanted (docs/design/presence.md): members whose presence changed after
   * `since.p`, or, for a room new to the client, the current presence of up to `limit`
   * members who are not offline. Absent: none (presence disabled).
   */
  presence?: { limit: number };
}

/** A stripped state event (invite_state / knock_state). */
export interface StrippedStateEvent {
  type: string;
  state_key: string;
  content: JsonObject;
  sender: string;
}

/** One room's answer. Which fields are set depends on `membership`. */
export interface RoomSyncResult {
  membership: SyncMembership;
  /** Stream ordering of the user's member event. */
  memberStream: number;
  /** The room's position this answer is complete up to. */
  position: PublishedPosition;
  timeline?: { events: ClientEventWithoutRoomId[]; limited: boolean; prev_batch?: string };
  state?: ClientEventWithoutRoomId[];
  /** Lazy-loaded member events the client may already have (the User actor filters them). */
  lazyMembers?: ClientEventWithoutRoomId[];
  summary?: RoomSummary;
  ephemeral?: JsonObject[];
  /** invite_state or knock_state. */
  stripped?: StrippedStateEvent[];
  /**
   * Device-list tracking (docs/design/e2ee.md), not part of the response. `members`: all
   * joined members, when the room is new to the client or the user's own membership
   * changed since its position; otherwise `memberChanges`: the members whose membership
   * changed since (joined now or not), whatever the filters show. `deviceListChanged`:
   * joined members whose device list changed after the client's `since.d`.
   */
  members?: string[];
  memberChanges?: { joined: string[]; left: string[] };
  deviceListChanged?: string[];
  /** Presence of joined members (not part of the room's entry: merged into the top-level `presence`). */
  presence?: PresenceFact[];
  /** The syncing user's notification counts (joined rooms; set by the User actor). */
  unreadNotifications?: UnreadCounts;
  /** Per thread root, when the filter asks for threaded counts. */
  unreadThreadNotifications?: Record<string, UnreadCounts>;
}

export interface JoinedRoomEntry {
  summary?: RoomSummary;
  state?: { events: ClientEventWithoutRoomId[] };
  state_after?: { events: ClientEventWithoutRoomId[] };
  timeline?: { events: ClientEventWithoutRoomId[]; limited: boolean; prev_batch?: string };
  ephemeral?: { events: JsonObject[] };
  account_data?: { events: JsonObject[] };
  unread_notifications?: UnreadCounts;
  unread_thread_notifications?: Record<string, UnreadCounts>;
}

export interface LeftRoomEntry {
  state?: { events: ClientEventWithoutRoomId[] };
  state_after?: { events: ClientEventWithoutRoomId[] };
  timeline?: { events: ClientEventWithoutRoomId[]; limited: boolean; prev_batch?: string };
  account_data?: { events: JsonObject[] };
}

export interface SyncResponse {
  next_batch: string;
  rooms?: {
    join?: Record<string, JoinedRoomEntry>;
    invite?: Record<string, { invite_state: { events: StrippedStateEvent[] } }>;
    knock?: Record<string, { knock_state: { events: StrippedStateEvent[] } }>;
    leave?: Record<string, LeftRoomEntry>;
  };
  account_data?: { events: JsonObject[] };
  presence?: { events: JsonObject[] };
  to_device?: { events: JsonObject[] };
  device_lists?: { changed?: string[]; left?: string[] };
  device_one_time_keys_count?: Record<string, number>;
  device_unused_fallback_key_types?: string[];
}

/** The parts a response is assembled from. */
export interface SyncParts {
  nextBatch: string;
  rooms: Array<{ roomId: string; result: RoomSyncResult; accountData: JsonObject[] }>;
  /** Rooms with only new room account data (no room answer needed). */
  roomAccountDataOnly: Array<{ roomId: string; membership: SyncMembership; accountData: JsonObject[] }>;
  accountData: JsonObject[];
  /** m.presence events, one per user (absent or empty: no `presence` section). */
  presence?: JsonObject[];
  toDevice: JsonObject[];
  deviceLists: { changed: string[]; left: string[] };
  oneTimeKeyCounts?: Record<string, number>;
  fallbackKeyTypes?: string[];
  /** `use_state_after` was asked: room state goes in `state_after`, present even when empty. */
  stateAfter?: boolean;
  /** An initial or full_state sync: every joined room answered is listed, even with counts alone. */
  everyRoom?: boolean;
}

/** The room-level JSON of a joined room's answer; undefined when it says nothing. */
export function joinedEntry(r: RoomSyncResult, accountData: JsonObject[], stateAfter = false, everyRoom = false): JoinedRoomEntry | undefined {
  const e: JoinedRoomEntry = {};
  const state = [...(r.state ?? []), ...(r.lazyMembers ?? [])];
  if (r.summary) e.summary = r.summary;
  if (state.length > 0 && !stateAfter) e.state = { events: state };
  if (r.timeline && (r.timeline.events.length > 0 || r.timeline.limited)) e.timeline = r.timeline;
  if (r.ephemeral && r.ephemeral.length > 0) e.ephemeral = { events: r.ephemeral };
  if (accountData.length > 0) e.account_data = { events: accountData };
  // Counts alone are not news (as Synapse): a room whose only new events the filter hid
  // must neither end a long-poll nor appear; its counts go with its next real change.
  if (Object.keys(e).length === 0 && state.length === 0 && !everyRoom) return undefined;
  if (r.unreadNotifications) e.unread_notifications = r.unreadNotifications;
  if (r.unreadThreadNotifications) e.unread_thread_notifications = r.unreadThreadNotifications;
  // Spec: with use_state_after, `state_after` is required in every room entry, even empty.
  if (stateAfter) e.state_after = { events: state };
  return e;
}

export function leftEntry(r: RoomSyncResult, accountData: JsonObject[], stateAfter = false): LeftRoomEntry {
  const e: LeftRoomEntry = { timeline: r.timeline ?? { events: [], limited: false } };
  const state = [...(r.state ?? []), ...(r.lazyMembers ?? [])];
  if (stateAfter) e.state_after = { events: state };
  else if (state.length > 0) e.state = { events: state };
  if (accountData.length > 0) e.account_data = { events: accountData };
  return e;
}

export function assembleResponse(p: SyncParts): SyncResponse {
  const res: SyncResponse = { next_batch: p.nextBatch };
  const join: NonNullable<SyncResponse["rooms"]>["join"] = {};
  const invite: NonNullable<SyncResponse["rooms"]>["invite"] = {};
  const knock: NonNullable<SyncResponse["rooms"]>["knock"] = {};
  const leave: NonNullable<SyncResponse["rooms"]>["leave"] = {};
  for (const { roomId, result, accountData } of p.rooms) {
    switch (result.membership) {
      case "join": {
        const e = joinedEntry(result, accountData, p.stateAfter, p.everyRoom);
        if (e) join[roomId] = e;
        break;
      }
      case "invite":
        invite[roomId] = { invite_state: { events: result.stripped ?? [] } };
        break;
      case "knock":
        knock[roomId] = { knock_state: { events: result.stripped ?? [] } };
        break;
      default:
        leave[roomId] = leftEntry(result, accountData, p.stateAfter);
    }
  }
  for (const { roomId, membership, accountData } of p.roomAccountDataOnly) {
    const empty = p.stateAfter ? { state_after: { events: [] } } : {};
    if (membership === "join") join[roomId] = { ...empty, ...join[roomId], account_data: { events: accountData } };
    else if (membership === "leave" || membership === "ban") {
      leave[roomId] = { ...empty, ...leave[roomId], account_data: { events: accountData } };
    }
  }
  const rooms: NonNullable<SyncResponse["rooms"]> = {};
  if (Object.keys(join).length > 0) rooms.join = join;
  if (Object.keys(invite).length > 0) rooms.invite = invite;
  if (Object.keys(knock).length > 0) rooms.knock = knock;
  if (Object.keys(leave).length > 0) rooms.leave = leave;
  if (Object.keys(rooms).length > 0) res.rooms = rooms;
  if (p.accountData.length > 0) res.account_data = { events: p.accountData };
  if (p.presence && p.presence.length > 0) res.presence = { events: p.presence };
  if (p.toDevice.length > 0) res.to_device = { events: p.toDevice };
  if (p.deviceLists.changed.length > 0 || p.deviceLists.left.length > 0) {
    res.device_lists = {};
    if (p.deviceLists.changed.length > 0) res.device_lists.changed = p.deviceLists.changed;
    if (p.deviceLists.left.length > 0) res.device_lists.left = p.deviceLists.left;
  }
  if (p.oneTimeKeyCounts) res.device_one_time_keys_count = p.oneTimeKeyCounts;
  if (p.fallbackKeyTypes) res.device_unused_fallback_key_types = p.fallbackKeyTypes;
  return res;
}

/** Whether a response carries anything a long-poll should return for (key counts do not). */
export function hasNews(r: SyncResponse): boolean {
  return r.rooms !== undefined || r.account_data !== undefined || r.presence !== undefined || r.to_device !== undefined || r.device_lists !== undefined;
}
