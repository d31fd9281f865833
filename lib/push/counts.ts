/**
 * Notification counts for one user in one room, computed lazily when that user syncs
 * (docs/design/push.md has the cost model): the events after the user's read receipts
 * that their push rules mark `notify` (notification_count) or highlight (highlight_count),
 * per room and per thread.
 * https://spec.matrix.org/v1.19/client-server-api/#receiving-notifications
 * https://spec.matrix.org/v1.19/client-server-api/#threaded-read-receipts
 *
 * Pure: the room hands in the candidate events (newest first, already bounded by the
 * scan limit) and the receipt positions; nothing here touches storage.
 */
import type { JsonObject } from "../json.ts";
import type { PushContext } from "./conditions.ts";
import { evaluatePushRules } from "./evaluate.ts";
import type { Ruleset } from "./types.ts";

/** The spec's UnreadNotificationCounts. */
export interface UnreadCounts {
  notification_count: number;
  highlight_count: number;
}

/** One candidate event: its stream position, client form, thread ("main" or the root's ID), sender level. */
export interface CountedEvent {
  stream: number;
  event: JsonObject;
  threadId: string;
  senderPowerLevel: number;
}

/**
 * Where the user has read up to, as event stream positions (m.read and m.read.private
 * merged, the newer wins). `unthreaded` is the receipt without thread_id: it covers
 * every thread. `threads` maps "main" or a thread root to that thread's receipt.
 */
export interface ReadPositions {
  unthreaded: number;
  threads: Record<string, number>;
}

export interface CountResult {
  /** Room-wide counts; with `perThread`, the main timeline only (the spec's threaded form). */
  room: UnreadCounts;
  /** Per thread root (never "main"), only threads with a non-zero count; set with `perThread`. */
  threads?: Record<string, UnreadCounts>;
  /** Where the counts stand, when the caller asked (to count on from them itself). */
  point?: CountPoint;
}

/**
 * What a reader needs to count on from room-wide counts without the room: the event
 * stream they were counted up to, how many candidate events that took (the scan limit
 * bounds it), and the push context of current state. Valid until a state event.
 */
export interface CountPoint {
  at: number;
  examined: number;
  displayName: string | null;
  roomMemberCount: number;
  notificationPowerLevels?: JsonObject;
}

/** Whether an event at `stream` in `threadId` is after the user's receipts. */
export function isUnread(stream: number, threadId: string, read: ReadPositions): boolean {
  return stream > read.unthreaded && stream > (read.threads[threadId] ?? 0);
}

/**
 * Counts over `events`. The caller bounds `events` (the scan limit); the counts are
 * then "at least" past that bound, which the design accepts.
 */
export function countUnread(
  events: readonly CountedEvent[],
  read: ReadPositions,
  ctx: Omit<PushContext, "senderPowerLevel">,
  ruleset: Ruleset,
  perThread: boolean,
): CountResult {
  const room: UnreadCounts = { notification_count: 0, highlight_count: 0 };
  const threads: Record<string, UnreadCounts> = {};
  for (const e of events) {
    if (!isUnread(e.stream, e.threadId, read)) continue;
    const out = evaluatePushRules(e.event, { ...ctx, senderPowerLevel: e.senderPowerLevel }, ruleset);
    if (!out.notify && !out.highlight) continue;
    let bucket = room;
    if (perThread && e.threadId !== "main") bucket = threads[e.threadId] ??= { notification_count: 0, highlight_count: 0 };
    // Highlight without notify still counts as a highlight (Synapse and the spec's examples agree).
    if (out.notify) bucket.notification_count++;
    if (out.highlight) bucket.highlight_count++;
  }
  return perThread ? { room, threads } : { room };
}

/** Latest read positions from receipt rows (receipt type, thread_id "" for unthreaded, event stream). */
export function readPositions(rows: Iterable<{ receiptType: string; threadId: string; eventStream: number }>): ReadPositions {
  const read: ReadPositions = { unthreaded: 0, threads: {} };
  for (const r of rows) {
    if (r.receiptType !== "m.read" && r.receiptType !== "m.read.private") continue;
    if (r.threadId === "") read.unthreaded = Math.max(read.unthreaded, r.eventStream);
    else read.threads[r.threadId] = Math.max(read.threads[r.threadId] ?? 0, r.eventStream);
  }
  return read;
}

/** `a` plus `b`: counts over two disjoint runs of events (a memo counted on). */
export function addCounts(a: CountResult, b: CountResult): CountResult {
  const sum = (x: UnreadCounts | undefined, y: UnreadCounts | undefined): UnreadCounts => ({
    notification_count: (x?.notification_count ?? 0) + (y?.notification_count ?? 0),
    highlight_count: (x?.highlight_count ?? 0) + (y?.highlight_count ?? 0),
  });
  const room = sum(a.room, b.room);
  if (!a.threads && !b.threads) return { room };
  const threads: Record<string, UnreadCounts> = { ...a.threads };
  for (const [id, c] of Object.entries(b.threads ?? {})) threads[id] = sum(threads[id], c);
  return { room, threads };
}
