/**
 * The fast path of live sync: new events travel with the room's publish to its hub
 * shard, which keeps the newest of them, so a listener that is only a few events behind
 * gets them from the hub without asking the room (the room's single thread is the
 * scarcest resource in a busy room). A listener further behind gets the newest events as
 * a limited timeline when no state changed in the gap (nothing else would go in `state`).
 * Design and limits: docs/design/sync.md.
 *
 * A shared event is the ClientEvent every joined member receives, serialised once; the
 * per-reader parts of `unsigned` are added by the reader's User actor: `age`,
 * `membership` (join: the fast path serves only members joined throughout) and
 * `transaction_id` (only the sending device).
 */
import type { ClientEventWithoutRoomId } from "../event-format.ts";
import type { JsonObject } from "../json.ts";
import { eventMatchesFilter } from "../event-filter.ts";
import type { RoomEventFilter } from "../filter.ts";
import { streamToken } from "../pagination-token.ts";
import type { PublishedPosition, RoomView } from "./position.ts";
import type { RoomSyncResult } from "./response.ts";

export interface SharedEvent {
  stream: number;
  /** ClientEventWithoutRoomId as JSON, `unsigned` without the per-reader fields. */
  json: string;
  type: string;
  sender: string;
  stateKey?: string;
  originServerTs: number;
  /** The sending device and its transaction ID (only that device sees it). */
  txn?: { deviceId: string; txnId: string };
  /**
   * The sender's power level when the room published the event (MAX_SAFE_INTEGER for a
   * v12 creator): what a reader's push rules need (`sender_notification_permission`),
   * so that a User actor can count on without asking the room.
   */
  senderLevel?: number;
}

/** One receipt as the room published it; private ones go only to their owner. */
export interface SharedReceipt {
  pos: number;
  userId: string;
  type: string;
  /** "" for an unthreaded receipt. */
  threadId: string;
  eventId: string;
  ts: number;
}

/** Events a hub shard returns for a room: the ones after `from`, contiguous, and the typing set if it changed. */
export interface HubRoomDelta {
  roomId: string;
  pos: PublishedPosition;
  /** Present when the shard holds every event after the client's position. */
  events?: SharedEvent[];
  /** The typing set at `pos.t`, when the shard has it. */
  typing?: string[];
  /** The events are only the newest: a gap precedes them, with no state change in it. */
  limited?: boolean;
  /** Every receipt after the client's receipt position, when the shard has them all. */
  receipts?: SharedReceipt[];
}

export interface FastPathInput {
  userId: string;
  deviceId: string;
  view: RoomView;
  delta: HubRoomDelta;
  timeline: RoomEventFilter & { limit: number };
  /** Lazy-loading: whether this device has been sent the member event of `userId` in the room. */
  lazy: ((userId: string) => boolean) | undefined;
  ephemeralWanted: boolean;
  now: number;
  /** `use_state_after`: a timeline state event must also go in state_after (the room does that). */
  stateAfter?: boolean;
}

/**
 * The room's answer computed from hub data alone, or undefined when only the room can
 * answer: events missing, more new events than the timeline shows (a gap needs a state
 * delta), membership changes (summary, the reader's own membership), receipts (held by
 * the room), or, under lazy loading, a sender whose member event this device lacks.
 */
export function fastRoomResult(i: FastPathInput): RoomSyncResult | undefined {
  const { delta, view } = i;
  const events = delta.events;
  if (view.m !== "join" || !events) return undefined;
  if (events.length > i.timeline.limit) return undefined;
  if (delta.limited && events.length < i.timeline.limit) return undefined;
  if (delta.pos.r > view.r && i.ephemeralWanted && delta.receipts === undefined) return undefined;
  if (delta.pos.t > view.t && i.ephemeralWanted && delta.typing === undefined) return undefined;
  // A member's device list changed: the room lists who (docs/design/e2ee.md).
  if ((delta.pos.d ?? 0) > (view.d ?? 0)) return undefined;
  // A member's presence changed: the room holds who and what (docs/design/presence.md).
  if ((delta.pos.p ?? 0) > (view.p ?? 0)) return undefined;
  const kept: ClientEventWithoutRoomId[] = [];
  for (const e of events) {
    if (e.type === "m.room.member") return undefined;
    if (i.stateAfter && e.stateKey !== undefined) return undefined;
    if (i.lazy && !i.lazy(e.sender)) return undefined;
    const ev = parsedSharedEvent(e);
    if (!eventMatchesFilter({ ...i.timeline, rooms: undefined, not_rooms: undefined }, { type: ev.type, sender: ev.sender, content: ev.content })) {
      // A state event the timeline filter hides must reach the client in `state`: only the room computes that.
      if (e.stateKey !== undefined) return undefined;
      continue;
    }
    kept.push(personalise(ev, e, i.userId, i.deviceId, i.now));
  }
  const result: RoomSyncResult = {
    membership: "join",
    memberStream: view.ms,
    position: delta.pos,
    timeline: { events: kept, limited: delta.limited === true, prev_batch: streamToken(events.length > 0 ? events[0]!.stream - 1 : view.s) },
  };
  const ephemeral: JsonObject[] = [];
  if (i.ephemeralWanted && delta.pos.t > view.t && delta.typing) ephemeral.push({ type: "m.typing", content: { user_ids: delta.typing } });
  if (i.ephemeralWanted && delta.receipts) {
    const content = receiptContent(delta.receipts, i.userId);
    if (Object.keys(content).length > 0) ephemeral.push({ type: "m.receipt", content });
  }
  if (ephemeral.length > 0) result.ephemeral = ephemeral;
  return result;
}

/** m.receipt content of receipts in position order (a later one of the same user, type and thread wins); others' private receipts left out. */
export function receiptContent(receipts: readonly SharedReceipt[], forUserId: string): JsonObject {
  const latest = new Map<string, SharedReceipt>();
  for (const r of receipts) {
    if (r.type === "m.read.private" && r.userId !== forUserId) continue;
    latest.set(`${r.userId}\u0000${r.type}\u0000${r.threadId}`, r);
  }
  const content: Record<string, Record<string, Record<string, JsonObject>>> = {};
  for (const r of latest.values()) {
    const byType = (content[r.eventId] ??= {});
    const byUser = (byType[r.type] ??= {});
    byUser[r.userId] = r.threadId === "" ? { ts: r.ts } : { ts: r.ts, thread_id: r.threadId };
  }
  return content as JsonObject;
}

/**
 * Shared events parsed once per isolate, not once per reader: every listener of a busy
 * room reads the same events (Durable Objects of one class share their isolate's module
 * state). Keyed by the JSON text itself, so the same text always gives the same object;
 * the objects are never mutated (`personalise` copies). Bounded, oldest dropped first.
 */
const PARSED_MAX = 4096;
const parsedByJson = new Map<string, ClientEventWithoutRoomId>();

export function parsedSharedEvent(e: SharedEvent): ClientEventWithoutRoomId {
  let ev = parsedByJson.get(e.json);
  if (ev === undefined) {
    ev = JSON.parse(e.json) as ClientEventWithoutRoomId;
    if (parsedByJson.size >= PARSED_MAX) parsedByJson.delete(parsedByJson.keys().next().value!);
    parsedByJson.set(e.json, ev);
  }
  return ev;
}

/**
 * The entries after stream position `s` of a list in ascending stream order (a hub buffer,
 * a User actor's news): found by bisection, since those lists hold up to a thousand
 * events and a push wants the few newest.
 */
export function entriesAfter<T>(entries: readonly T[], s: number, at: (e: T) => number): T[] {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (at(entries[mid]!) > s) hi = mid;
    else lo = mid + 1;
  }
  return entries.slice(lo);
}

export const eventsAfter = (events: readonly SharedEvent[], s: number): SharedEvent[] => entriesAfter(events, s, (e) => e.stream);

/** The reader's copy of a shared event: `age`, `membership` (MSC4115) and, for the sending device, `transaction_id`. */
export function personalise(ev: ClientEventWithoutRoomId, e: SharedEvent, userId: string, deviceId: string, now: number): ClientEventWithoutRoomId {
  const unsigned: JsonObject = { ...(ev.unsigned ?? {}), age: Math.max(0, now - e.originServerTs), membership: "join" };
  if (e.txn && e.sender === userId && e.txn.deviceId === deviceId) unsigned.transaction_id = e.txn.txnId;
  return { ...ev, unsigned };
}
