/**
 * Device-list changes: the stream a user's /sync reads (`device_lists.changed/left`,
 * /keys/changes), and how it learns about other users' changes.
 *
 * Each user's actor keeps the latest change per user it cares about — itself and the users
 * it shares a room with — at a position from its own counter. Only the latest entry
 * matters: a user changed after position P whenever its latest entry is after P. So the
 * stream is bounded by the number of users ever shared with and needs no pruning.
 *
 * Tracking is by rooms, not by pairs of users (docs/design/e2ee.md, "Device lists"):
 * - this user's own change goes, through the outbox, to each room the user is joined to
 *   (`Room.deviceListChanged`), which puts it in the room's device-list stream;
 * - this user's syncs read the rooms' answers (whole member lists, who joined or left,
 *   whose keys changed) and hand them here (`observe`): the per-room member lists decide
 *   who is newly shared (changed) or no longer shared (left).
 */
import { applyObservations, type MemberLists, type RoomObservation } from "../../lib/e2ee/device-list-tracking.ts";
import type { Store } from "./store.ts";

export type ChangeKind = "changed" | "left";
/**
 * What an outbox row asks: `rooms` (target "*"): look up this user's joined rooms and
 * queue a `room` row for each; `room` (target: a room ID): tell that room this user's
 * device list changed.
 */
export type OutboxKind = "rooms" | "room";

export interface DeviceListChanges {
  changed: string[];
  left: string[];
  /** The stream position now: pass it as `since` next time. */
  pos: number;
}

const COUNTER = "device_list";
/** Retry schedule for failed deliveries: 1 s, 2 s, 4 s … capped at 5 minutes. */
const RETRY_BASE_MS = 1000;
const RETRY_MAX_MS = 5 * 60 * 1000;

export function position(store: Store): number {
  return store.counter(COUNTER);
}

/**
 * Records that `userId`'s devices changed (or that this user no longer shares a room with
 * it), at a new position or at `pos` (one position for a batch: "changed after P" only
 * compares positions, so a batch needs one counter write, not one per user).
 */
export function recordChange(store: Store, userId: string, kind: ChangeKind, pos = store.bump(COUNTER)): number {
  store.run(
    "INSERT INTO device_list_changes (user_id, pos, kind) VALUES (?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET pos = excluded.pos, kind = excluded.kind",
    userId,
    pos,
    kind,
  );
  return pos;
}

/** This user's own devices or cross-signing keys changed: note it, and tell every room of the user. */
export function recordOwnChange(store: Store): void {
  recordChange(store, store.userId, "changed");
  enqueue(store, "*", "rooms");
}

/** Users whose latest change is after `since`. `since` beyond the current position is treated as current. */
export function changesSince(store: Store, since: number): DeviceListChanges {
  const rows = store.all<{ user_id: string; kind: string }>(
    "SELECT user_id, kind FROM device_list_changes WHERE pos > ? ORDER BY pos",
    since,
  );
  return {
    changed: rows.filter((r) => r.kind === "changed").map((r) => r.user_id),
    left: rows.filter((r) => r.kind === "left").map((r) => r.user_id),
    pos: position(store),
  };
}

/** The per-room member lists as lib/e2ee/device-list-tracking.ts reads and writes them. */
function memberLists(store: Store): MemberLists {
  return {
    streamOf: (roomId) => store.one<{ stream: number }>("SELECT stream FROM shared_rooms WHERE room_id = ?", roomId)?.stream,
    deviceListPosOf: (roomId) => store.one<{ dl_pos: number }>("SELECT dl_pos FROM shared_rooms WHERE room_id = ?", roomId)?.dl_pos ?? 0,
    members: (roomId) => store.all<{ user_id: string }>("SELECT user_id FROM shared_members WHERE room_id = ?", roomId).map((r) => r.user_id),
    add: (roomId, userId) => store.run("INSERT INTO shared_members (room_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING", roomId, userId),
    remove: (roomId, userId) => store.run("DELETE FROM shared_members WHERE room_id = ? AND user_id = ?", roomId, userId),
    dropRoom: (roomId) => {
      store.run("DELETE FROM shared_members WHERE room_id = ?", roomId);
      store.run("DELETE FROM shared_rooms WHERE room_id = ?", roomId);
    },
    setRoom: (roomId, stream) =>
      store.run("INSERT INTO shared_rooms (room_id, stream) VALUES (?, ?) ON CONFLICT (room_id) DO UPDATE SET stream = excluded.stream", roomId, stream),
    setDeviceListPos: (roomId, d) => store.run("UPDATE shared_rooms SET dl_pos = ? WHERE room_id = ?", d, roomId),
    shared: (userId) => store.one("SELECT 1 AS x FROM shared_members WHERE user_id = ? LIMIT 1", userId) !== null,
  };
}

/**
 * What this user's sync learnt from its room answers: users newly shared are recorded as
 * changed (the client fetches their keys), users no longer shared as left, key changes of
 * shared users as changed. Returns whether anything was recorded.
 */
export function observe(store: Store, observations: readonly RoomObservation[]): boolean {
  const outcome = applyObservations(memberLists(store), store.userId, observations);
  const any = outcome.sharing.size > 0 || outcome.keysChanged.length > 0;
  if (!any) return false;
  const pos = store.bump(COUNTER);
  for (const [u, shared] of outcome.sharing) recordChange(store, u, shared ? "changed" : "left", pos);
  for (const u of outcome.keysChanged) if (!outcome.sharing.has(u)) recordChange(store, u, "changed", pos);
  return true;
}

/** Users this user shares a room with, as its syncs recorded them. */
export function sharedUsers(store: Store): string[] {
  return store.all<{ user_id: string }>("SELECT DISTINCT user_id FROM shared_members ORDER BY user_id").map((r) => r.user_id);
}

/** Queues a `room` row for each of these rooms (expanding a `rooms` row). */
export function enqueueRooms(store: Store, roomIds: readonly string[]): void {
  for (const roomId of roomIds) enqueue(store, roomId, "room");
}

// ---- outbox ---------------------------------------------------------------------------

export function enqueue(store: Store, target: string, kind: OutboxKind): void {
  store.run(
    "INSERT INTO outbox (target, kind, gen, attempts, next_ts) VALUES (?, ?, ?, 0, ?) " +
      "ON CONFLICT (target, kind) DO UPDATE SET gen = excluded.gen, attempts = 0, next_ts = excluded.next_ts",
    target,
    kind,
    store.bump("outbox_gen"),
    Date.now(),
  );
}

export interface OutboxItem {
  target: string;
  kind: OutboxKind;
}

/** Delivers what is due, one call per row, concurrently; returns how many were delivered. */
export async function flushOutbox(store: Store, deliver: (item: OutboxItem) => Promise<void>): Promise<number> {
  const due = store.all<{ target: string; kind: OutboxKind; gen: number; attempts: number }>(
    "SELECT target, kind, gen, attempts FROM outbox WHERE next_ts <= ? ORDER BY next_ts LIMIT 500",
    Date.now(),
  );
  const results = await Promise.allSettled(due.map((d) => deliver(d)));
  let delivered = 0;
  store.tx(() => {
    results.forEach((r, i) => {
      const d = due[i]!;
      if (r.status === "fulfilled") {
        // Only the row as sent: one enqueued meanwhile (new gen) stays for the next flush.
        store.run("DELETE FROM outbox WHERE target = ? AND kind = ? AND gen = ?", d.target, d.kind, d.gen);
        delivered++;
      } else {
        const wait = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** d.attempts);
        store.run(
          "UPDATE outbox SET attempts = attempts + 1, next_ts = ? WHERE target = ? AND kind = ? AND gen = ?",
          Date.now() + wait,
          d.target,
          d.kind,
          d.gen,
        );
      }
    });
  });
  return delivered;
}

/** When the next delivery is due, or null with nothing pending. */
export function nextDue(store: Store): number | null {
  return store.one<{ t: number | null }>("SELECT MIN(next_ts) AS t FROM outbox")?.t ?? null;
}
