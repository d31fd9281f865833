/**
 * One room's part of a sliding sync response (MSC4186 "Room results"): what the User
 * actor asks a Room actor for, what the room answers, and the room result JSON built
 * from it (field names as matrix-rust-sdk / ruma v5 and matrix-js-sdk read them).
 * https://github.com/matrix-org/matrix-spec-proposals/pull/4186
 */
import type { ClientEventWithoutRoomId } from "../../event-format.ts";
import type { JsonObject } from "../../json.ts";
import type { CountPoint, UnreadCounts } from "../../push/counts.ts";
import type { PublishedPosition, SyncMembership } from "../position.ts";
import type { StrippedStateEvent } from "../response.ts";
import type { RequiredState } from "./request.ts";

export interface SlidingRoomRequest {
  userId: string;
  deviceId: string;
  /** The room data to compute; absent: only the meta, position and extension parts. */
  room?: {
    /** Event stream the client has the room up to; null: send it whole. */
    since: number | null;
    timelineLimit: number;
    requiredState: RequiredState;
    /** Members this connection was already sent by lazy loading. */
    lazySent: string[];
    /** Timeline events newer than this (origin_server_ts, ms) count in `num_live`; 0: none. */
    liveAfterTs: number;
  };
  /** Receipts after this position (the receipts extension); -1: those of the timeline's events and the user's own. */
  receiptsSince?: number;
  /** The typing set (the typing extension). */
  typing?: boolean;
  /**
   * Facts for the user's DeviceKeys actor (the e2ee extension, docs/design/e2ee.md): who
   * joined or left and whose keys changed since this position; null: the whole member list.
   */
  deviceLists?: { since: { s: number; d: number } | null };
  /** The user's push rules as `{ global: ruleset }` JSON: the notification counts come in the same call. */
  pushRules?: string;
}

export interface Hero {
  user_id: string;
  displayname?: string;
  avatar_url?: string;
}

export interface SlidingRoomAnswer {
  membership: SyncMembership;
  memberStream: number;
  position: PublishedPosition;
  encrypted: boolean;
  roomType: string | null;
  /** When the membership happened (ms), the bump stamp of a room the user is not joined to. */
  membershipTs: number;
  room?: {
    name?: string | null;
    avatar?: string | null;
    heroes?: Hero[];
    joinedCount?: number;
    invitedCount?: number;
    timeline: ClientEventWithoutRoomId[];
    limited: boolean;
    prevBatch?: string;
    numLive: number;
    requiredState: ClientEventWithoutRoomId[];
    /** Users whose member events lazy loading added. */
    lazy: string[];
    /** Event stream this answer is complete up to. */
    stream: number;
    stripped?: StrippedStateEvent[];
  };
  receipts?: { position: number; content: JsonObject };
  typing?: string[];
  members?: string[];
  memberChanges?: { joined: string[]; left: string[] };
  deviceListChanged?: string[];
  /** Notification counts (asked with `pushRules`); null when the user is not joined. */
  counts?: UnreadCounts | null;
  /** Where those counts stand (the reader counts on from here while no state changes). */
  countPoint?: CountPoint;
}

/** A room entry of the response. */
export interface RoomResultJson {
  name?: string | null;
  avatar?: string | null;
  heroes?: Hero[];
  initial?: boolean;
  is_dm?: boolean;
  membership?: SyncMembership;
  lists?: string[];
  invite_state?: StrippedStateEvent[];
  knock_state?: StrippedStateEvent[];
  required_state?: ClientEventWithoutRoomId[];
  timeline?: ClientEventWithoutRoomId[];
  prev_batch?: string;
  limited?: boolean;
  num_live?: number;
  joined_count?: number;
  invited_count?: number;
  notification_count?: number;
  highlight_count?: number;
  bump_stamp?: number;
}

/** The room entry for an answer; `initial` marks a whole room (the client replaces what it had). */
export function roomResultJson(p: {
  answer: SlidingRoomAnswer;
  initial: boolean;
  isDm: boolean;
  dmChanged: boolean;
  lists: string[];
  counts?: UnreadCounts;
}): RoomResultJson {
  const a = p.answer;
  const out: RoomResultJson = {};
  if (p.initial) out.initial = true;
  out.membership = a.membership;
  if (p.lists.length > 0) out.lists = p.lists;
  if (p.initial ? p.isDm : p.dmChanged) out.is_dm = p.isDm;
  const bump = a.membership === "join" ? a.position.b : a.membershipTs;
  if (bump > 0) out.bump_stamp = bump;
  const r = a.room;
  if (r?.stripped) {
    if (a.membership === "knock") out.knock_state = r.stripped;
    else out.invite_state = r.stripped;
  } else if (r) {
    if (r.name !== undefined && (r.name !== null || !p.initial)) out.name = r.name;
    if (r.avatar !== undefined && (r.avatar !== null || !p.initial)) out.avatar = r.avatar;
    if (r.heroes) out.heroes = r.heroes;
    if (r.requiredState.length > 0) out.required_state = r.requiredState;
    if (r.timeline.length > 0 || p.initial) out.timeline = r.timeline;
    if (r.prevBatch !== undefined) out.prev_batch = r.prevBatch;
    if (r.limited) out.limited = true;
    out.num_live = r.numLive;
    if (r.joinedCount !== undefined) out.joined_count = r.joinedCount;
    if (r.invitedCount !== undefined) out.invited_count = r.invitedCount;
  }
  if (p.counts) {
    out.notification_count = p.counts.notification_count;
    out.highlight_count = p.counts.highlight_count;
  }
  return out;
}
