/**
 * The Room actor's SQLite (schema/room.sql): reading events and state, and writing a
 * batch of accepted events in ONE synchronous transaction. No protocol decisions here;
 * the write path (write-path.ts) decides, this file stores.
 */
import { canonicalJson } from "../../lib/canonical-json.ts";
import { pduFromWire } from "../../lib/event-format.ts";
import type { JsonObject } from "../../lib/json.ts";
import { splitStateKey, stateKey, type Pdu, type StateMap } from "../../lib/pdu.ts";
import { redactEvent } from "../../lib/redaction.ts";
import type { RoomVersionRules } from "../../lib/room-versions.ts";
import { applyDeltas, readPlan, type StateVersionInfo } from "../../lib/state-store.ts";
import { ConfigError, type Env } from "../env.ts";

type Row = Record<string, SqlStorageValue>;

/** An event as the room holds it. `pdu` is the redacted form when the event was redacted. */
export interface StoredEvent {
  pdu: Pdu;
  /** The event as signed, never redacted (kept: redaction is applied on read). */
  original: JsonObject;
  stream: number;
  stateBefore: number;
  redactedBy: string | null;
  sender: string;
  txn: { deviceId: string; txnId: string } | null;
}

export interface RoomInfo {
  roomId: string;
  roomVersion: string;
  createEventId: string;
}

/** An accepted event ready to be written, with everything derived from it. */
export interface NewEvent {
  pdu: Pdu;
  wire: JsonObject;
  /** `wire` as canonical JSON text when the builder made it already (stored as is). */
  canonical?: string;
  stream: number;
  stateBefore: number;
  /** For a state event: the version it makes (one delta, itself) and, for a snapshot, the whole state. */
  version?: { info: StateVersionInfo; snapshot?: StateMap };
  /** The membership of a m.room.member event, for current_state's membership column. */
  membership?: string;
  txn?: { deviceId: string; txnId: string };
  /** The event this (valid) redaction redacts. */
  redacts?: string;
  relation?: { relType: string; relatesTo: string };
  outbox: Array<{ kind: string; target: string; payload: JsonObject }>;
}

/** Rows SQLite reports written by one commit (Cloudflare bills these, indexes included). */
export interface CommitStats {
  rowsWritten: number;
  events: number;
}

const CACHE_SIZE = 2048;

/** Default of ROOM_TXN_WINDOW: transaction IDs remembered per room (newest first). */
export const DEFAULT_ROOM_TXN_WINDOW = 10_000;

/** ROOM_TXN_WINDOW (docs/configuration.md): a positive integer, else the default; a bad value is a ConfigError. */
export function roomTxnWindow(env: Pick<Env, "ROOM_TXN_WINDOW">): number {
  const raw = env.ROOM_TXN_WINDOW;
  if (raw === undefined || raw.trim() === "") return DEFAULT_ROOM_TXN_WINDOW;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1 || v > 1_000_000) throw new ConfigError(`ROOM_TXN_WINDOW must be an integer from 1 to 1000000 (got ${JSON.stringify(raw)})`);
  return v;
}

const txnKey = (sender: string, deviceId: string, txnId: string) => `${sender}\u0000${deviceId}\u0000${txnId}`;

export class RoomStore {
  readonly #storage: DurableObjectStorage;
  readonly #cache = new Map<string, StoredEvent>();
  #rules: RoomVersionRules | undefined;

  constructor(
    storage: DurableObjectStorage,
    /** How many of the newest transaction IDs are remembered (ROOM_TXN_WINDOW). */
    readonly txnWindow = DEFAULT_ROOM_TXN_WINDOW,
  ) {
    this.#storage = storage;
  }

  /** The rules the stored events are parsed with (set once the room exists). */
  setRules(rules: RoomVersionRules): void {
    this.#rules = rules;
  }

  room(): RoomInfo | null {
    const r = this.#one<{ room_id: string; room_version: string; create_event_id: string }>(
      "SELECT room_id, room_version, create_event_id FROM room WHERE id = 1",
    );
    return r ? { roomId: r.room_id, roomVersion: r.room_version, createEventId: r.create_event_id } : null;
  }

  // ---- events -----------------------------------------------------------------------

  event(eventId: string): StoredEvent | undefined {
    const hit = this.#cache.get(eventId);
    if (hit) {
      this.#cache.delete(eventId);
      this.#cache.set(eventId, hit);
      return hit;
    }
    const row = this.#one<Row>(
      "SELECT event_id, json, stream, state_before, redacted_by, sender, txn_device, txn_id FROM events WHERE event_id = ? AND rejection IS NULL",
      eventId,
    );
    if (!row) return undefined;
    const ev = this.#fromRow(row);
    this.#remember(ev);
    return ev;
  }

  /**
   * The event a device's transaction ID produced, among the room's newest `txnWindow`
   * events sent with one (docs/design/room-actor.md, "Transaction IDs"). Answered from
   * memory: the window is read once per actor instance (a range scan of the newest
   * events), then kept current by commits — no index row per message and no query per
   * send. Older transaction IDs are forgotten (ROOM_TXN_WINDOW).
   */
  eventForTxn(sender: string, deviceId: string, txnId: string): string | undefined {
    return this.#txnIndex().get(txnKey(sender, deviceId, txnId));
  }

  #txns: Map<string, string> | undefined;
  #txnIndex(): Map<string, string> {
    if (this.#txns) return this.#txns;
    const rows = this.#all<{ event_id: string; sender: string; txn_device: string; txn_id: string }>(
      "SELECT event_id, sender, txn_device, txn_id FROM events WHERE txn_id IS NOT NULL ORDER BY stream DESC LIMIT ?",
      this.txnWindow,
    );
    const m = new Map<string, string>();
    for (let i = rows.length - 1; i >= 0; i--) {
      const r = rows[i]!;
      m.set(txnKey(r.sender, r.txn_device, r.txn_id), r.event_id);
    }
    return (this.#txns = m);
  }

  /** After a commit: the new transaction IDs join the window, the oldest leave it. */
  #rememberTxns(events: NewEvent[]): void {
    if (!this.#txns) return; // read from SQLite on first use, new rows included
    for (const e of events) {
      if (!e.txn) continue;
      this.#txns.set(txnKey(e.pdu.sender, e.txn.deviceId, e.txn.txnId), e.pdu.event_id);
      if (this.#txns.size > this.txnWindow) this.#txns.delete(this.#txns.keys().next().value!);
    }
  }

  /** The newest event: stream position, depth and ID. */
  newest(): { stream: number; depth: number; eventId: string } | null {
    const r = this.#one<{ stream: number; depth: number; event_id: string }>(
      "SELECT stream, depth, event_id FROM events ORDER BY stream DESC LIMIT 1",
    );
    return r ? { stream: r.stream, depth: r.depth, eventId: r.event_id } : null;
  }

  maxDepth(): number {
    return this.#one<{ d: number | null }>("SELECT MAX(depth) AS d FROM events")?.d ?? 0;
  }

  /** Stored forward extremities; empty while the graph is linear (see schema). */
  storedExtremities(): string[] {
    const ids = this.#all<{ event_id: string }>("SELECT event_id FROM forward_extremities").map((r) => r.event_id);
    this.#extremitiesStored = ids.length > 0;
    return ids;
  }

  /** Whether forward_extremities may hold rows (unknown until read): a local commit clears it only then. */
  #extremitiesStored: boolean | undefined;

  /** A user's member events, newest first (the events_state index answers this). */
  memberEvents(userId: string): Array<{ eventId: string; stream: number }> {
    return this.#all<{ event_id: string; stream: number }>(
      "SELECT event_id, stream FROM events WHERE type = 'm.room.member' AND state_key = ? AND rejection IS NULL ORDER BY stream DESC",
      userId,
    ).map((r) => ({ eventId: r.event_id, stream: r.stream }));
  }

  /** Joined members from current_state (its membership index answers this). */
  joinedMembers(): string[] {
    return this.#all<{ state_key: string }>(
      "SELECT state_key FROM current_state WHERE type = 'm.room.member' AND membership = 'join'",
    ).map((r) => r.state_key);
  }

  // ---- state ------------------------------------------------------------------------

  currentState(): StateMap {
    const state: StateMap = new Map();
    for (const r of this.#all<{ type: string; state_key: string; event_id: string }>("SELECT type, state_key, event_id FROM current_state")) {
      state.set(stateKey(r.type, r.state_key), r.event_id);
    }
    return state;
  }

  versionInfo(version: number): StateVersionInfo | undefined {
    const r = this.#one<{ version: number; parent: number | null; snapshot: number; since_snapshot: number; size: number }>(
      "SELECT version, parent, snapshot, since_snapshot, size FROM state_versions WHERE version = ?",
      version,
    );
    return r && { version: r.version, parent: r.parent, snapshot: r.snapshot === 1, sinceSnapshot: r.since_snapshot, size: r.size };
  }

  latestVersion(): StateVersionInfo | undefined {
    const v = this.#one<{ v: number | null }>("SELECT MAX(version) AS v FROM state_versions")?.v;
    return v == null ? undefined : this.versionInfo(v);
  }

  /** The state at a version: its snapshot ancestor plus the deltas on the way. */
  stateAt(version: number): StateMap {
    const plan = readPlan(version, (v) => this.versionInfo(v));
    const state: StateMap = new Map();
    if (plan.snapshot !== null) {
      for (const r of this.#all<{ type: string; state_key: string; event_id: string }>(
        "SELECT type, state_key, event_id FROM state_snapshots WHERE version = ?",
        plan.snapshot,
      )) {
        state.set(stateKey(r.type, r.state_key), r.event_id);
      }
    }
    if (plan.deltas.length > 0) {
      // One range query (bound parameters are limited), filtered to the versions on the path.
      const onPath = new Set(plan.deltas);
      const rows = this.#all<{ version: number; type: string; state_key: string; event_id: string }>(
        "SELECT version, type, state_key, event_id FROM state_deltas WHERE version > ? AND version <= ? ORDER BY version",
        plan.snapshot ?? 0,
        version,
      ).filter((r) => onPath.has(r.version));
      applyDeltas(state, rows.map((r) => ({ type: r.type, stateKey: r.state_key, eventId: r.event_id })));
    }
    return state;
  }

  // ---- writing ----------------------------------------------------------------------

  /**
   * Writes accepted events (and, for a new room, the room row) in one transaction.
   * Throws, having written nothing, if any statement fails.
   */
  commit(events: NewEvent[], room?: RoomInfo & { createdTs: number }): CommitStats {
    let rows = 0;
    const exec = (q: string, ...args: SqlStorageValue[]) => {
      const c = this.#storage.sql.exec(q, ...args);
      c.toArray();
      rows += c.rowsWritten;
    };
    this.#storage.transactionSync(() => {
      if (room) {
        exec(
          "INSERT INTO room (id, room_id, room_version, create_event_id, created_ts) VALUES (1, ?, ?, ?, ?)",
          room.roomId,
          room.roomVersion,
          room.createEventId,
          room.createdTs,
        );
      }
      for (const e of events) this.#insert(e, exec);
      // A local event takes every extremity as its prev_events: the graph is linear again.
      // (Skipped when the table is known to be empty: one statement less per send.)
      if (events.length > 0 && this.#extremitiesStored !== false) exec("DELETE FROM forward_extremities");
    });
    if (events.length > 0) this.#extremitiesStored = false;
    for (const e of events) {
      if (e.redacts) this.#cache.delete(e.redacts);
    }
    this.#rememberTxns(events);
    return { rowsWritten: rows, events: events.length };
  }

  #insert(e: NewEvent, exec: (q: string, ...args: SqlStorageValue[]) => void): void {
    const p = e.pdu;
    exec(
      "INSERT INTO events (stream, event_id, type, state_key, sender, depth, origin_server_ts, json, state_before, rel_type, relates_to, txn_device, txn_id) " +
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      e.stream,
      p.event_id,
      p.type,
      p.state_key ?? null,
      p.sender,
      p.depth ?? 0,
      p.origin_server_ts,
      e.canonical ?? canonicalJson(e.wire),
      e.stateBefore,
      e.relation?.relType ?? null,
      e.relation?.relatesTo ?? null,
      e.txn?.deviceId ?? null,
      e.txn?.txnId ?? null,
    );
    if (e.version && p.state_key !== undefined) {
      const v = e.version.info;
      exec(
        "INSERT INTO state_versions (version, parent, snapshot, since_snapshot, size) VALUES (?, ?, ?, ?, ?)",
        v.version,
        v.parent,
        v.snapshot ? 1 : 0,
        v.sinceSnapshot,
        v.size,
      );
      exec("INSERT INTO state_deltas (version, type, state_key, event_id) VALUES (?, ?, ?, ?)", v.version, p.type, p.state_key, p.event_id);
      if (e.version.snapshot) {
        for (const [k, id] of e.version.snapshot) {
          const [type, key] = splitStateKey(k);
          exec("INSERT INTO state_snapshots (version, type, state_key, event_id) VALUES (?, ?, ?, ?)", v.version, type, key, id);
        }
      }
      exec(
        "INSERT INTO current_state (type, state_key, event_id, membership) VALUES (?, ?, ?, ?) " +
          "ON CONFLICT (type, state_key) DO UPDATE SET event_id = excluded.event_id, membership = excluded.membership",
        p.type,
        p.state_key,
        p.event_id,
        e.membership ?? null,
      );
      for (const a of p.auth_events) exec("INSERT INTO auth_edges (event_id, auth_id) VALUES (?, ?)", p.event_id, a);
    }
    if (e.redacts) exec("UPDATE events SET redacted_by = ? WHERE event_id = ? AND redacted_by IS NULL", p.event_id, e.redacts);
    for (const o of e.outbox) {
      exec("INSERT INTO outbox (kind, target, payload, next_ts) VALUES (?, ?, ?, ?)", o.kind, o.target, JSON.stringify(o.payload), 0);
    }
  }

  /** After commit: the new events go into the cache (they are the likeliest to be read next). */
  remember(events: NewEvent[]): void {
    for (const e of events) {
      this.#remember({
        pdu: e.pdu,
        original: e.wire,
        stream: e.stream,
        stateBefore: e.stateBefore,
        redactedBy: null,
        sender: e.pdu.sender,
        txn: e.txn ?? null,
      });
    }
  }

  // ---- outbox -----------------------------------------------------------------------

  dueOutbox(now: number, limit = 50): Array<{ id: number; kind: string; target: string; payload: JsonObject; attempts: number }> {
    return this.#all<{ id: number; kind: string; target: string; payload: string; attempts: number }>(
      "SELECT id, kind, target, payload, attempts FROM outbox WHERE next_ts <= ? ORDER BY id LIMIT ?",
      now,
      limit,
    ).map((r) => ({ ...r, payload: JSON.parse(r.payload) as JsonObject }));
  }

  outboxDone(id: number): void {
    this.#storage.sql.exec("DELETE FROM outbox WHERE id = ?", id);
  }

  outboxRetry(id: number, nextTs: number): void {
    this.#storage.sql.exec("UPDATE outbox SET attempts = attempts + 1, next_ts = ? WHERE id = ?", nextTs, id);
  }

  /** The oldest outbox row of (kind, target), due or not (appservice delivery keeps order per target). */
  outboxHead(kind: string, target: string): { id: number; nextTs: number } | null {
    const r = this.#one<{ id: number; next_ts: number }>(
      "SELECT id, next_ts FROM outbox WHERE kind = ? AND target = ? ORDER BY id LIMIT 1",
      kind,
      target,
    );
    return r ? { id: r.id, nextTs: r.next_ts } : null;
  }

  nextOutboxTs(): number | null {
    return this.#one<{ t: number | null }>("SELECT MIN(next_ts) AS t FROM outbox")?.t ?? null;
  }

  // ---- internals --------------------------------------------------------------------

  #fromRow(row: Row): StoredEvent {
    const rules = this.#rules;
    if (!rules) throw new Error("room store used before the room exists");
    const original = JSON.parse(row.json as string) as JsonObject;
    const redactedBy = (row.redacted_by as string | null) ?? null;
    const wire = redactedBy ? redactEvent(original, rules) : original;
    const pdu = pduFromWire(wire, rules, row.event_id as string);
    return {
      pdu,
      original,
      stream: row.stream as number,
      stateBefore: row.state_before as number,
      redactedBy,
      sender: row.sender as string,
      txn: row.txn_id === null ? null : { deviceId: row.txn_device as string, txnId: row.txn_id as string },
    };
  }

  #remember(ev: StoredEvent): void {
    this.#cache.set(ev.pdu.event_id, ev);
    if (this.#cache.size > CACHE_SIZE) this.#cache.delete(this.#cache.keys().next().value!);
  }

  #one<T extends Row>(q: string, ...args: SqlStorageValue[]): T | undefined {
    return this.#storage.sql.exec<T>(q, ...args).toArray()[0];
  }

  #all<T extends Row>(q: string, ...args: SqlStorageValue[]): T[] {
    return this.#storage.sql.exec<T>(q, ...args).toArray();
  }
}
