/**
 * To-device inboxes, one per device of this user, in this actor's SQLite.
 * https://spec.matrix.org/v1.19/client-server-api/#send-to-device-messaging
 *
 * Positions are the inbox's `seq` (AUTOINCREMENT: increasing, never reused, stable across
 * restarts). A reader asks for messages after position P and acknowledges P on its next
 * request; only then are messages up to P deleted, so a lost response is simply re-read.
 */
import type { ToDeviceEvent } from "../../lib/e2ee/to-device.ts";
import type { JsonObject } from "../../lib/json.ts";
import type { Store } from "./store.ts";

/** Pending messages one device may hold; over it, senders get 429 M_LIMIT_EXCEEDED. Per-user override: counter `to_device_cap`. */
export const TO_DEVICE_INBOX_CAP = 10_000;
/** How long transaction IDs are remembered for idempotency. */
export const TXN_MEMORY_MS = 24 * 60 * 60 * 1000;
/** Default and maximum batch a reader gets at once. */
export const TO_DEVICE_BATCH = 100;
export const TO_DEVICE_MAX_BATCH = 1000;

export interface Delivery {
  sender: string;
  senderDevice: string;
  txnId: string;
  type: string;
  /** Device ID (or `*`) → content. */
  messages: Record<string, JsonObject>;
}

export interface ToDeviceBatch {
  events: ToDeviceEvent[];
  /** Position of the last event returned (or `since` when none): the next `since`. */
  next: number;
  /** More events are waiting after `next`. */
  more: boolean;
}

export function inboxCap(store: Store): number {
  return store.counter("to_device_cap") || TO_DEVICE_INBOX_CAP;
}

/**
 * Stores one sender's messages for the given existing devices (`*` expands to all of them;
 * unknown device IDs are dropped). Returns the devices whose inbox is full; when none were,
 * the transaction ID is remembered so a retry stores nothing again.
 */
export function deliver(store: Store, d: Delivery, existingDevices: readonly string[]): { full: string[] } {
  const now = Date.now();
  if (store.one("SELECT 1 AS x FROM to_device_received WHERE sender = ? AND sender_device = ? AND txn_id = ?", d.sender, d.senderDevice, d.txnId)) {
    return { full: [] };
  }
  const known = new Set(existingDevices);
  const targets = new Map<string, JsonObject>();
  for (const [deviceId, content] of Object.entries(d.messages)) {
    if (deviceId === "*") {
      for (const id of existingDevices) if (!targets.has(id)) targets.set(id, content);
    } else if (known.has(deviceId)) {
      targets.set(deviceId, content);
    }
  }
  const cap = inboxCap(store);
  const full: string[] = [];
  for (const [deviceId, content] of targets) {
    const n = store.one<{ n: number }>("SELECT n FROM to_device_counts WHERE device_id = ?", deviceId)?.n ?? 0;
    if (n >= cap) {
      full.push(deviceId);
      continue;
    }
    // A retry after a partial failure finds the rows it already wrote (unique per txn).
    const inserted = store.all(
      "INSERT INTO to_device_inbox (device_id, sender, sender_device, txn_id, type, content, received_ts) VALUES (?, ?, ?, ?, ?, ?, ?) " +
        "ON CONFLICT DO NOTHING RETURNING seq",
      deviceId,
      d.sender,
      d.senderDevice,
      d.txnId,
      d.type,
      JSON.stringify(content),
      now,
    );
    if (inserted.length > 0) {
      store.run(
        "INSERT INTO to_device_counts (device_id, n) VALUES (?, 1) ON CONFLICT (device_id) DO UPDATE SET n = n + 1",
        deviceId,
      );
    }
  }
  if (full.length === 0) {
    store.run("DELETE FROM to_device_received WHERE ts < ?", now - TXN_MEMORY_MS);
    store.run("INSERT INTO to_device_received (sender, sender_device, txn_id, ts) VALUES (?, ?, ?, ?)", d.sender, d.senderDevice, d.txnId, now);
  }
  return { full };
}

/** Up to `limit` messages after `since`, in order; nothing is deleted. */
export function since(store: Store, deviceId: string, after: number, limit = TO_DEVICE_BATCH): ToDeviceBatch {
  const n = Math.max(1, Math.min(TO_DEVICE_MAX_BATCH, Math.floor(limit)));
  const rows = store.all<{ seq: number; sender: string; type: string; content: string }>(
    "SELECT seq, sender, type, content FROM to_device_inbox WHERE device_id = ? AND seq > ? ORDER BY seq LIMIT ?",
    deviceId,
    after,
    n + 1,
  );
  const page = rows.slice(0, n);
  return {
    events: page.map((r) => ({ sender: r.sender, type: r.type, content: JSON.parse(r.content) as JsonObject })),
    next: page.length > 0 ? page[page.length - 1]!.seq : after,
    more: rows.length > n,
  };
}

/** Deletes messages up to and including `upTo` (the reader has them); returns how many. */
export function ack(store: Store, deviceId: string, upTo: number): number {
  if (upTo <= 0) return 0;
  const gone = store.all("DELETE FROM to_device_inbox WHERE device_id = ? AND seq <= ? RETURNING seq", deviceId, upTo).length;
  if (gone > 0) store.run("UPDATE to_device_counts SET n = MAX(0, n - ?) WHERE device_id = ?", gone, deviceId);
  return gone;
}

/** Sender side: whether this device's transaction was already sent in full. */
export function alreadySent(store: Store, deviceId: string, txnId: string): boolean {
  return store.one("SELECT 1 AS x FROM to_device_sent WHERE device_id = ? AND txn_id = ?", deviceId, txnId) !== null;
}

export function markSent(store: Store, deviceId: string, txnId: string): void {
  const now = Date.now();
  store.run("DELETE FROM to_device_sent WHERE ts < ?", now - TXN_MEMORY_MS);
  store.run("INSERT INTO to_device_sent (device_id, txn_id, ts) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", deviceId, txnId, now);
}

