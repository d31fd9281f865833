/**
 * The hub fast path of simplified sliding sync (MSC4186): a room already sent to a
 * connection whose only news is new messages that the user's hub shard returned with
 * its poll gets its room result computed here, from the shared events, without asking
 * the room (the busy room's single thread serves sends, not one `slidingRoom` per
 * listener per push). Anything the shared events cannot show exactly as the room would
 * (state, membership, relations, redactions, lazy members not yet sent, missing events
 * or receipts) sends the room back to the room path. Design: docs/design/sync.md
 * ("Simplified sliding sync", the fast path).
 */
import type { ClientEventWithoutRoomId } from "../../event-format.ts";
import { fingerprint } from "../../fingerprint.ts";
import type { JsonObject } from "../../json.ts";
import type { PushContext } from "../../push/conditions.ts";
import type { CountPoint } from "../../push/counts.ts";
import { readerOutcome, type NeutralRules } from "../../push/shared-outcome.ts";
import type { Ruleset } from "../../push/types.ts";
import { streamToken } from "../../pagination-token.ts";
import type { PublishedPosition, RoomPosition } from "../position.ts";
import { entriesAfter, eventsAfter, parsedSharedEvent, personalise, receiptContent, type HubRoomDelta, type SharedEvent, type SharedReceipt } from "../shared-event.ts";
import type { SentRoom } from "./connection.ts";
import type { SlidingRoomAnswer } from "./room-result.ts";

/**
 * What the User actor learnt from its hub polls about one room: the events in
 * (`from`, `s`], the receipts in (`receipts.from`, `receipts.to`], the typing set at
 * serial `typing.t`. Contiguous: a poll whose delta does not continue it starts over.
 */
export interface RoomNews {
  from: number;
  s: number;
  events: SharedEvent[];
  /**
   * No state event lies in (`quietFrom`, `from`]: a gap whose events are unknown but plain
   * (the hub's `limited` delta promises it; events dropped past the bound are checked).
   * A listener behind by that much gets the newest events as a limited timeline, as the
   * room would answer, instead of asking the room.
   */
  quietFrom?: number;
  receipts?: { from: number; to: number; entries: SharedReceipt[] };
  typing?: { t: number; users: string[] };
}

/**
 * The news after a poll that found `d` for a room the user knew at `known`; `max` and
 * `maxReceipts` bound what is kept (the oldest go first, which only narrows the path).
 */
export function mergeNews(old: RoomNews | undefined, known: RoomPosition, d: HubRoomDelta, max: number, maxReceipts: number): RoomNews {
  const pos = d.pos;
  const continues = old !== undefined && old.s === known.s;
  let from: number;
  let events: SharedEvent[];
  let quietFrom: number | undefined;
  if (pos.s <= known.s) {
    // No new event: what was known goes on if it reached this far.
    from = continues ? old.from : pos.s;
    events = continues ? old.events : [];
    quietFrom = continues ? old.quietFrom : undefined;
  } else if (d.events !== undefined && !d.limited) {
    from = continues ? old.from : known.s;
    events = continues ? old.events.concat(d.events) : [...d.events];
    quietFrom = continues ? old.quietFrom : undefined;
  } else if (d.events !== undefined && d.events.length > 0) {
    // The newest events after a gap without state (the hub's limited delta).
    from = d.events[0]!.stream - 1;
    events = [...d.events];
    quietFrom = from > known.s ? known.s : undefined;
  } else {
    from = pos.s;
    events = [];
  }
  if (events.length > max) {
    const dropped = events.length - max;
    const plain = events.slice(0, dropped).every((e) => e.stateKey === undefined && e.type !== "m.room.redaction");
    // Dropping plain events widens the quiet gap; dropping a state event or a redaction (it may change state) ends it.
    quietFrom = plain ? (quietFrom ?? from) : undefined;
    from = events[dropped - 1]!.stream;
    events = events.slice(dropped);
  }
  const news: RoomNews = { from, s: Math.max(pos.s, known.s), events };
  if (quietFrom !== undefined) news.quietFrom = quietFrom;

  const r = old?.receipts;
  if (pos.r <= known.r) {
    if (r && r.to === known.r) news.receipts = r;
  } else if (d.receipts !== undefined) {
    const continues = r !== undefined && r.to === known.r;
    let entries = continues ? [...r.entries, ...d.receipts] : [...d.receipts];
    let rFrom = continues ? r.from : known.r;
    if (entries.length > maxReceipts) {
      const dropped = entries.length - maxReceipts;
      rFrom = entries[dropped - 1]!.pos;
      entries = entries.slice(dropped);
    }
    news.receipts = { from: rFrom, to: pos.r, entries };
  }

  if (d.typing !== undefined) news.typing = { t: pos.t, users: d.typing };
  else if (pos.t <= known.t && old?.typing && old.typing.t === known.t) news.typing = old.typing;
  return news;
}

export interface FastSlidingInput {
  userId: string;
  deviceId: string;
  news: RoomNews | undefined;
  /** The room's position this response is computed at (the hub's). */
  pos: PublishedPosition;
  /** What the connection was sent of the room (joined, same member event as now). */
  sent: SentRoom;
  /** The room part, as the room would be asked for it (incremental from `since`). */
  room?: { since: number; timelineLimit: number; lazyMembers: boolean; liveAfterTs: number };
  /** Receipts after this position (the receipts extension; -1, a room new to it, needs the room). */
  receiptsSince?: number;
  typing?: boolean;
  now: number;
}

/**
 * The room's answer from the hub's news, or undefined when only the room can give it.
 * Fields the room sets only when state changed (name, avatar, heroes, counts of members)
 * are absent, as in the room's incremental answer with no state change.
 */
export function fastSlidingRoom(i: FastSlidingInput): SlidingRoomAnswer | undefined {
  const { news, pos } = i;
  if (!news) return undefined;
  const answer: SlidingRoomAnswer = {
    membership: "join",
    memberStream: i.sent.ms,
    position: pos,
    // Not read from a fast answer (the caller keeps its cached meta).
    encrypted: false,
    roomType: null,
    membershipTs: 0,
  };
  if (i.room) {
    const since = i.room.since;
    if (news.s !== pos.s) return undefined;
    // Behind the news: only across a quiet gap, and only when the news alone fill the
    // timeline (the room would show the same newest events, limited, and no state).
    const gap = news.from > since;
    if (gap && (news.quietFrom === undefined || news.quietFrom > since || news.events.length < i.room.timelineLimit)) return undefined;
    const all = eventsAfter(news.events, since);
    const shown = i.room.timelineLimit > 0 ? all.slice(Math.max(0, all.length - i.room.timelineLimit)) : [];
    const limited = i.room.timelineLimit > 0 ? gap || shown.length < all.length : pos.s > since;
    // The whole gap must be plain messages: a state event would change required_state,
    // a relation or redaction the bundled or redacted form of another event.
    for (const e of all) {
      if (e.stateKey !== undefined || e.type === "m.room.member" || e.type === "m.room.redaction") return undefined;
    }
    const timeline: ClientEventWithoutRoomId[] = [];
    for (const e of shown) {
      const ev = parsedSharedEvent(e);
      if (ev.content && typeof ev.content === "object" && "m.relates_to" in ev.content) return undefined;
      // $LAZY: a sender whose member event this connection lacks gets it in required_state (the room's part).
      if (i.room.lazyMembers && !i.sent.lz.includes(e.sender)) return undefined;
      timeline.push(personalise(ev, e, i.userId, i.deviceId, i.now));
    }
    const first = shown[0];
    answer.room = {
      timeline,
      limited,
      numLive: i.room.liveAfterTs > 0 ? shown.filter((e) => e.originServerTs > i.room!.liveAfterTs).length : 0,
      requiredState: [],
      lazy: [],
      stream: pos.s,
    };
    if (limited) answer.room.prevBatch = streamToken(first ? first.stream - 1 : pos.s);
  }
  if (i.receiptsSince !== undefined) {
    const r = news.receipts;
    if (i.receiptsSince < 0 || !r || r.to !== pos.r || r.from > i.receiptsSince) return undefined;
    answer.receipts = { position: pos.r, content: receiptContent(entriesAfter(r.entries, i.receiptsSince, (e) => e.pos), i.userId) };
  }
  if (i.typing) {
    if (!news.typing || news.typing.t !== pos.t) return undefined;
    answer.typing = news.typing.users;
  }
  return answer;
}

/**
 * Whether the user's notification counts as last sent (at event stream `sentS`,
 * receipt position `countedR`) still hold: every new event is the user's own (never
 * counted for them) and none of the receipts since is theirs. Undefined news or
 * receipts not covered: unknown, so the room counts.
 */
export function countsUnchanged(news: RoomNews | undefined, userId: string, pos: RoomPosition, sentS: number, countedR: number): boolean {
  if (!news || news.s !== pos.s || news.from > sentS) return false;
  if (eventsAfter(news.events, sentS).some((e) => e.sender !== userId)) return false;
  if (pos.r <= countedR) return true;
  const r = news.receipts;
  if (!r || r.to !== pos.r || r.from > countedR) return false;
  return !r.entries.some((e) => e.pos > countedR && e.userId === userId);
}

/**
 * The user's counts at `pos`, counted on from counts the room gave (or this function
 * gave) at stream `from.at`, from the hub's news: each new event of another sender is
 * run through the user's rules with the room's push context — as the room would count
 * it (lib/push/counts.ts: the first `scanLimit` candidates after the receipt; new events
 * are after every receipt). Undefined when only the room can count: news not covering
 * (`from.at`, `pos.s`], a state event there (member count, names and power levels live in
 * state) or a redaction (it may remove a counted event), a receipt of the user's own
 * since, or an event without its sender's level.
 */
export function countOn(i: {
  userId: string;
  roomId: string;
  news: RoomNews | undefined;
  pos: RoomPosition;
  from: { n: [number, number]; at: number; examined: number; countedR: number };
  point: Omit<CountPoint, "at" | "examined">;
  ruleset: Ruleset;
  /** The reader's rules in their shareable form (lib/push/shared-outcome.ts), if they have one. */
  neutral?: NeutralRules | null;
  scanLimit: number;
}): { n: [number, number]; at: number; examined: number } | undefined {
  const { news, pos, from } = i;
  if (!news || news.s !== pos.s || news.from > from.at || from.at > pos.s) return undefined;
  if (pos.r > from.countedR) {
    const r = news.receipts;
    if (!r || r.to !== pos.r || r.from > from.countedR) return undefined;
    if (r.entries.some((e) => e.pos > from.countedR && e.userId === i.userId)) return undefined;
  }
  const fresh = eventsAfter(news.events, from.at);
  if (fresh.some((e) => e.stateKey !== undefined || e.type === "m.room.redaction")) return undefined;
  const candidates = fresh.filter((e) => e.sender !== i.userId).slice(0, Math.max(0, i.scanLimit - from.examined));
  let [notifications, highlights] = from.n;
  for (const e of candidates) {
    if (e.senderLevel === undefined) return undefined;
    const event = parsedEventInRoom(e, i.roomId);
    const ctx: PushContext = { userId: i.userId, displayName: i.point.displayName, roomMemberCount: i.point.roomMemberCount, senderPowerLevel: e.senderLevel };
    if (i.point.notificationPowerLevels) ctx.notificationPowerLevels = i.point.notificationPowerLevels;
    const out = readerOutcome({ roomId: i.roomId, stream: e.stream, json: e.json, event }, ctx, i.ruleset, i.neutral ?? null);
    if (out.notify) notifications++;
    if (out.highlight) highlights++;
  }
  return { n: [notifications, highlights], at: pos.s, examined: from.examined + candidates.length };
}

/**
 * The event with its `room_id`, as push rules see it: made once per event and isolate
 * (parsedSharedEvent's cache holds the parse; this the copy), shared by every listener's
 * count. Keyed by the event object of the parse cache; never mutated.
 */
const inRoom = new WeakMap<object, JsonObject>();

function parsedEventInRoom(e: SharedEvent, roomId: string): JsonObject {
  const parsed = parsedSharedEvent(e);
  let ev = inRoom.get(parsed);
  if (!ev || ev.room_id !== roomId) inRoom.set(parsed, (ev = { ...(parsed as unknown as JsonObject), room_id: roomId }));
  return ev;
}

/** A short fingerprint of the user's push rules: counts sent under other rules are recounted. */
export function rulesKey(text: string): string {
  return fingerprint(text);
}
