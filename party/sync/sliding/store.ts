/**
 * Sliding sync connections in the User actor's SQLite (schema/user.sql migration 6): one
 * row per (device, conn_id), and the versions of its state that a `pos` may name. A
 * request from `pos` = (connection, n) computes version n + 1 from version n; versions
 * before n are deleted then (the client has acknowledged n, MSC4186 "Connections"), so a
 * connection holds at most two. A retried request from n replaces version n + 1.
 * A response that only moved what new messages move (lib/sync/sliding/connection.ts
 * `inlineDelta`) stores nothing: its pos is version n plus the delta, inline.
 */
import { MatrixError } from "../../../lib/errors.ts";
import { applyInline, decodeConnectionState, decodePos, encodeConnectionState, encodePos, inlineDelta, type ConnectionState } from "../../../lib/sync/sliding/connection.ts";

export interface LoadedConnection {
  connection: number;
  seq: number;
  state: ConnectionState;
  /** `state` encoded (to tell whether a response changed it). */
  text: string;
  /** The stored version the pos names (`state` is it plus the pos's inline delta, if any). */
  base: ConnectionState;
}

const unknownPos = () => new MatrixError("M_UNKNOWN_POS", 400, "Unknown or expired pos: start a new connection");

/** Stored versions kept decoded in memory (a busy connection loads the same one for every push). */
const CACHED_VERSIONS = 256;

export class SlidingStore {
  /** Responses whose pos carried the change inline (no row written; tests and cost figures). */
  inlined = 0;
  /**
   * `connection:seq` → the stored version, decoded, with its owner. Never mutated by the
   * callers (they clone); entries go when their rows are deleted or replaced.
   */
  readonly #cache = new Map<string, { deviceId: string; connId: string; text: string; state: ConnectionState }>();

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly maxConnections: number,
  ) {}

  /** The state a `pos` names, for this device and conn_id; 400 M_UNKNOWN_POS otherwise. */
  load(deviceId: string, connId: string, pos: string): LoadedConnection {
    const p = decodePos(pos);
    if (!p) throw unknownPos();
    const hit = this.#cache.get(`${p.connection}:${p.seq}`);
    if (hit) {
      if (hit.deviceId !== deviceId || hit.connId !== connId) throw unknownPos();
      return this.#loaded(p, hit.state, hit.text);
    }
    const sql = this.storage.sql;
    const conn = sql
      .exec<{ device_id: string; conn_id: string }>("SELECT device_id, conn_id FROM sliding_connections WHERE id = ?", p.connection)
      .toArray()[0];
    if (!conn || conn.device_id !== deviceId || conn.conn_id !== connId) throw unknownPos();
    const row = sql
      .exec<{ state: string }>("SELECT state FROM sliding_states WHERE connection = ? AND seq = ?", p.connection, p.seq)
      .toArray()[0];
    if (!row) throw unknownPos();
    const base = decodeConnectionState(row.state);
    this.#remember(p.connection, p.seq, deviceId, connId, row.state, base);
    return this.#loaded(p, base, row.state);
  }

  #loaded(p: { connection: number; seq: number; inline?: string }, base: ConnectionState, text: string): LoadedConnection {
    if (p.inline === undefined) return { connection: p.connection, seq: p.seq, state: base, text, base };
    const state = applyInline(base, p.inline);
    if (!state) throw unknownPos();
    return { connection: p.connection, seq: p.seq, state, text: encodeConnectionState(state), base };
  }

  #remember(connection: number, seq: number, deviceId: string, connId: string, text: string, state: ConnectionState): void {
    const key = `${connection}:${seq}`;
    this.#cache.delete(key);
    this.#cache.set(key, { deviceId, connId, text, state });
    if (this.#cache.size > CACHED_VERSIONS) this.#cache.delete(this.#cache.keys().next().value!);
  }

  /** Cached versions of `connection` below `seq` (all: undefined) are gone from storage. */
  #evict(connection: number, below?: number): void {
    for (const key of [...this.#cache.keys()]) {
      const [c, s] = key.split(":").map(Number);
      if (c === connection && (below === undefined || s! < below)) this.#cache.delete(key);
    }
  }

  /**
   * Stores the state after a response and returns its pos. A first request (no `from`)
   * replaces any connection of the same device and conn_id (one connection per conn_id)
   * and drops the device's least recently used connections beyond the bound.
   */
  commit(deviceId: string, connId: string, from: LoadedConnection | undefined, state: ConnectionState): string {
    // New messages only: the pos carries the change, no row is written (docs/design/sync.md).
    if (from) {
      const inline = inlineDelta(from.base, state);
      if (inline !== undefined) {
        this.inlined++;
        return encodePos(from.connection, from.seq, inline);
      }
    }
    const sql = this.storage.sql;
    const text = encodeConnectionState(state);
    // The cache follows storage only once the transaction committed.
    const after: Array<() => void> = [];
    const pos = this.storage.transactionSync(() => {
      const now = Date.now();
      if (from) {
        sql.exec("DELETE FROM sliding_states WHERE connection = ? AND seq < ?", from.connection, from.seq);
        sql.exec("INSERT OR REPLACE INTO sliding_states (connection, seq, state) VALUES (?, ?, ?)", from.connection, from.seq + 1, text);
        sql.exec("UPDATE sliding_connections SET used_ts = ? WHERE id = ?", now, from.connection);
        after.push(() => {
          this.#evict(from.connection, from.seq);
          this.#remember(from.connection, from.seq + 1, deviceId, connId, text, decodeConnectionState(text));
        });
        return encodePos(from.connection, from.seq + 1);
      }
      this.#drop(sql.exec<{ id: number }>("SELECT id FROM sliding_connections WHERE device_id = ? AND conn_id = ?", deviceId, connId).toArray());
      const id = sql
        .exec<{ id: number }>("INSERT INTO sliding_connections (device_id, conn_id, used_ts) VALUES (?, ?, ?) RETURNING id", deviceId, connId, now)
        .one().id;
      sql.exec("INSERT INTO sliding_states (connection, seq, state) VALUES (?, 1, ?)", id, text);
      after.push(() => this.#remember(id, 1, deviceId, connId, text, decodeConnectionState(text)));
      this.#drop(
        sql
          .exec<{ id: number }>("SELECT id FROM sliding_connections WHERE device_id = ? ORDER BY used_ts DESC, id DESC LIMIT -1 OFFSET ?", deviceId, this.maxConnections)
          .toArray(),
      );
      return encodePos(id, 1);
    });
    for (const f of after) f();
    return pos;
  }

  /** A deleted device's connections go with it (null: every device). */
  deleteDevices(deviceIds: readonly string[] | null): void {
    const sql = this.storage.sql;
    const rows =
      deviceIds === null
        ? sql.exec<{ id: number }>("SELECT id FROM sliding_connections").toArray()
        : deviceIds.flatMap((d) => sql.exec<{ id: number }>("SELECT id FROM sliding_connections WHERE device_id = ?", d).toArray());
    this.#drop(rows);
  }

  #drop(rows: ReadonlyArray<{ id: number }>): void {
    for (const { id } of rows) {
      this.#evict(id);
      this.storage.sql.exec("DELETE FROM sliding_states WHERE connection = ?", id);
      this.storage.sql.exec("DELETE FROM sliding_connections WHERE id = ?", id);
    }
  }
}
