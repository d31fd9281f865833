/**
 * Device-list changes: the stream a user's /sync reads (`device_lists.changed/left`,
 * /keys/changes), and how it learns about other users' changes.
 *
 * Each user's actor keeps the latest change per user it cares about — itself and the users
 * it tracks — at a position from its own counter. Only the latest entry matters: a user
 * changed after position P whenever its latest entry is after P. So the stream is bounded
 * by the number of tracked users and needs no pruning.
 *
 * Push, not poll: when Y's keys change, Y's actor notifies the actors of the local users
 * watching Y (those who called trackUsers([Y])). Notifications go through an outbox written
 * in the same transaction as the change, delivered after commit and retried by alarm; one
 * pending row per (target, kind) coalesces bursts. See docs/design/e2ee.md for the costs.
 */
import type { Store } from "./store.ts";

export type ChangeKind = "changed" | "left";
/** What an outbox row asks the target actor to do. */
export type OutboxKind = "changed" | "watch" | "unwatch";

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

/** Records that `userId`'s devices changed (or that this user no longer shares a room with it). */
export function recordChange(store: Store, userId: string, kind: ChangeKind): number {
  const pos = store.bump(COUNTER);
  store.run(
    "INSERT INTO device_list_changes (user_id, pos, kind) VALUES (?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET pos = excluded.pos, kind = excluded.kind",
    userId,
    pos,
    kind,
  );
  return pos;
}

/** This user's own devices or cross-signing keys changed: note it, and tell every watcher. */
export function recordOwnChange(store: Store): void {
  recordChange(store, store.userId, "changed");
  for (const w of store.all<{ watcher: string }>("SELECT watcher FROM device_list_watchers")) enqueue(store, w.watcher, "changed");
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

/** Starts tracking users (they now share a room with this user); each appears as changed. */
export function track(store: Store, userIds: readonly string[], isLocal: (u: string) => boolean): void {
  for (const u of userIds) {
    if (u === store.userId || store.one("SELECT 1 AS x FROM device_list_tracked WHERE user_id = ?", u)) continue;
    store.run("INSERT INTO device_list_tracked (user_id) VALUES (?)", u);
    recordChange(store, u, "changed");
    if (isLocal(u)) enqueue(store, u, "watch");
  }
}

/** Stops tracking users (no shared room left); each appears as left. */
export function untrack(store: Store, userIds: readonly string[], isLocal: (u: string) => boolean): void {
  for (const u of userIds) {
    if (!store.one("SELECT 1 AS x FROM device_list_tracked WHERE user_id = ?", u)) continue;
    store.run("DELETE FROM device_list_tracked WHERE user_id = ?", u);
    recordChange(store, u, "left");
    if (isLocal(u)) enqueue(store, u, "unwatch");
  }
}

export function trackedUsers(store: Store): string[] {
  return store.all<{ user_id: string }>("SELECT user_id FROM device_list_tracked ORDER BY user_id").map((r) => r.user_id);
}

export function setWatcher(store: Store, watcher: string, watching: boolean): void {
  if (watching) store.run("INSERT INTO device_list_watchers (watcher) VALUES (?) ON CONFLICT DO NOTHING", watcher);
  else store.run("DELETE FROM device_list_watchers WHERE watcher = ?", watcher);
}

// ---- outbox ---------------------------------------------------------------------------

export function enqueue(store: Store, target: string, kind: OutboxKind): void {
  // watch/unwatch cancel each other: only the latest intent is delivered.
  if (kind === "watch") store.run("DELETE FROM outbox WHERE target = ? AND kind = 'unwatch'", target);
  if (kind === "unwatch") store.run("DELETE FROM outbox WHERE target = ? AND kind = 'watch'", target);
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
