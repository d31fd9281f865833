/**
 * Ephemeral room data the Room actor owns: typing notifications and read receipts.
 * https://spec.matrix.org/v1.19/client-server-api/#typing-notifications
 * https://spec.matrix.org/v1.19/client-server-api/#receipts
 *
 * Typing lives in memory only: a map user → expiry, read with lazy expiry, plus one
 * timer per typing user that fires the change (so a live /sync hears "stopped typing"
 * when a timeout lapses). An actor evicted from memory forgets who was typing, which is
 * the right answer after that long. No alarm is used: the actor's one alarm belongs to
 * the outbox, and a lapsed timer in an evicted actor has nobody left to tell.
 *
 * Receipts are durable (schema/room.sql migration 2): the latest receipt per (user,
 * type, thread), each write taking the next receipt stream position. The sync engine
 * asks `receiptsSince(pos, user)`; private receipts go only to their owner.
 */
import { badJson, invalidParam, notFound } from "../../lib/errors.ts";
import type { JsonObject } from "../../lib/json.ts";
import { relationOf, threadOf } from "../../lib/relations.ts";
import type { StoredEvent } from "./store.ts";
import type { ReadRoom, Viewer } from "./visibility.ts";

/** Longest typing timeout honoured; longer requests are cut to it (a client that dies stops "typing" within this). */
export const MAX_TYPING_TIMEOUT_MS = 120_000;

type Listener = () => void;

export class Typing {
  readonly #until = new Map<string, number>();
  readonly #timers = new Map<string, ReturnType<typeof setTimeout>>();
  #serial = 0;
  readonly #onChange: Listener;

  constructor(onChange: Listener) {
    this.#onChange = onChange;
  }

  /** Bumped whenever the set of typing users changes (a position for /sync). */
  get serial(): number {
    return this.#serial;
  }

  set(userId: string, typing: boolean, timeoutMs: number, now = Date.now()): void {
    const wasTyping = this.#active(userId, now);
    const timer = this.#timers.get(userId);
    if (timer !== undefined) clearTimeout(timer);
    this.#timers.delete(userId);
    if (typing) {
      const ms = Math.max(0, Math.min(timeoutMs, MAX_TYPING_TIMEOUT_MS));
      this.#until.set(userId, now + ms);
      this.#timers.set(userId, setTimeout(() => this.#expire(userId), ms));
      if (!wasTyping) this.#changed();
    } else {
      this.#until.delete(userId);
      if (wasTyping) this.#changed();
    }
  }

  /** The users typing now, sorted. Lapsed entries are dropped as they are found. */
  users(now = Date.now()): string[] {
    const out: string[] = [];
    for (const [u, until] of this.#until) {
      if (until > now) out.push(u);
      else this.#until.delete(u);
    }
    return out.sort();
  }

  /** A member who left stops typing. */
  forget(userId: string): void {
    if (this.#until.has(userId)) this.set(userId, false, 0);
  }

  #active(userId: string, now: number): boolean {
    const until = this.#until.get(userId);
    return until !== undefined && until > now;
  }

  #expire(userId: string): void {
    this.#timers.delete(userId);
    const until = this.#until.get(userId);
    if (until === undefined) return;
    this.#until.delete(userId);
    this.#changed();
  }

  #changed(): void {
    this.#serial++;
    this.#onChange();
  }
}

export type ReceiptType = "m.read" | "m.read.private";
export const RECEIPT_TYPES: ReadonlySet<string> = new Set(["m.read", "m.read.private"]);

/** `content` of an m.receipt event: event ID → receipt type → user → { ts, thread_id? }. */
export type ReceiptContent = Record<string, Record<string, Record<string, { ts: number; thread_id?: string }>>>;

/**
 * Checks a receipt's target: the event exists and the user may see it (404 otherwise,
 * not telling the two apart), and a `thread_id` names the thread the event is in:
 * "main" for events outside threads (thread roots included), the root's ID for the root
 * itself and its replies (and edits or reactions of replies). 400 M_INVALID_PARAM if not.
 */
export function receiptTarget(room: ReadRoom, viewer: Viewer, eventId: string, threadId: string | undefined): StoredEvent {
  const ev = room.store.event(eventId);
  if (!ev || !viewer.canSee(ev)) throw notFound("Event not found");
  if (threadId === undefined) return ev;
  if (threadId === "") throw invalidParam("thread_id must be a non-empty string");
  const parentRelation = (id: string) => {
    const p = room.store.event(id);
    return p ? relationOf(p.pdu.content) : undefined;
  };
  const thread = threadOf(ev.pdu.content, parentRelation);
  const ok = threadId === thread || (threadId === eventId && thread === "main");
  if (!ok) throw invalidParam(`event ${eventId} is not in thread ${threadId}`);
  return ev;
}

/** A receipt just stored (what `onReceipt` listeners hear). */
export interface StoredReceipt {
  userId: string;
  type: ReceiptType;
  threadId?: string;
  eventId: string;
  ts: number;
}

/** Listeners besides /sync (appservices, party/appservice/room-hook.ts), per actor's SqlStorage. */
const receiptListeners = new WeakMap<SqlStorage, Set<(r: StoredReceipt) => void>>();

/** Hear every receipt this actor stores from now on; returns the unsubscribe function. */
export function onReceipt(sql: SqlStorage, listener: (r: StoredReceipt) => void): () => void {
  let set = receiptListeners.get(sql);
  if (!set) receiptListeners.set(sql, (set = new Set()));
  set.add(listener);
  return () => set.delete(listener);
}

export class Receipts {
  readonly #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  /** The newest receipt position (0: none yet). */
  position(): number {
    return this.#sql.exec<{ p: number | null }>("SELECT MAX(pos) AS p FROM receipts").one().p ?? 0;
  }

  /**
   * Stores a receipt unless the user already has one of this type and thread on a later
   * event (receipts do not move backwards). Returns the new position, or null if ignored.
   */
  put(userId: string, type: ReceiptType, thread: string | undefined, ev: StoredEvent, ts: number): number | null {
    const threadKey = thread ?? "";
    const existing = this.#sql
      .exec<{ event_stream: number; event_id: string }>(
        "SELECT event_stream, event_id FROM receipts WHERE user_id = ? AND receipt_type = ? AND thread_id = ?",
        userId,
        type,
        threadKey,
      )
      .toArray()[0];
    if (existing && (existing.event_stream > ev.stream || existing.event_id === ev.pdu.event_id)) return null;
    const pos = this.position() + 1;
    this.#sql.exec(
      `INSERT INTO receipts (user_id, receipt_type, thread_id, event_id, event_stream, ts, pos) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (user_id, receipt_type, thread_id) DO UPDATE SET event_id = excluded.event_id, event_stream = excluded.event_stream, ts = excluded.ts, pos = excluded.pos`,
      userId,
      type,
      threadKey,
      ev.pdu.event_id,
      ev.stream,
      ts,
      pos,
    );
    const stored: StoredReceipt = { userId, type, eventId: ev.pdu.event_id, ts, ...(thread === undefined ? {} : { threadId: thread }) };
    for (const l of receiptListeners.get(this.#sql) ?? []) l(stored);
    return pos;
  }

  /**
   * Receipts written after `since`, as one m.receipt content, for `forUserId`: other
   * users' private receipts are left out. `since` 0 gives every current receipt.
   */
  since(since: number, forUserId: string): { position: number; content: ReceiptContent } {
    const rows = this.#sql
      .exec<{ user_id: string; receipt_type: string; thread_id: string; event_id: string; ts: number; pos: number }>(
        "SELECT user_id, receipt_type, thread_id, event_id, ts, pos FROM receipts WHERE pos > ? ORDER BY pos",
        since,
      )
      .toArray();
    // Plain objects (they cross RPC); keys are event IDs ($…), receipt types and user IDs (@…), never __proto__.
    const content: ReceiptContent = {};
    let position = since;
    for (const r of rows) {
      position = Math.max(position, r.pos);
      if (r.receipt_type === "m.read.private" && r.user_id !== forUserId) continue;
      const byType = (content[r.event_id] ??= {});
      const byUser = (byType[r.receipt_type] ??= {});
      byUser[r.user_id] = r.thread_id === "" ? { ts: r.ts } : { ts: r.ts, thread_id: r.thread_id };
    }
    return { position: Math.max(position, since), content };
  }
}

/** The body of POST /receipt: `thread_id`, if any, must be a non-empty string. */
export function receiptThreadId(body: JsonObject): string | undefined {
  const t = body.thread_id;
  if (t === undefined) return undefined;
  if (typeof t !== "string" || t === "") throw invalidParam("thread_id field must be a non-empty string");
  return t;
}

/** The typing body: `typing` boolean, `timeout` (ms) required while typing. */
export function typingBody(body: JsonObject): { typing: boolean; timeout: number } {
  if (typeof body.typing !== "boolean") throw badJson("typing must be a boolean");
  if (!body.typing) return { typing: false, timeout: 0 };
  const t = body.timeout;
  if (typeof t !== "number" || !Number.isInteger(t) || t < 0) throw badJson("timeout must be a non-negative integer (milliseconds) when typing");
  return { typing: true, timeout: t };
}
