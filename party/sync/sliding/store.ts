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

export class SlidingStore {
  /** Responses whose pos carried the change inline (no row written; tests and cost figures). */
  inlined = 0;

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly maxConnections: number,
  ) {}

  /** The state a `pos` names, for this device and conn_id; 400 M_UNKNOWN_POS otherwise. */
  load(deviceId: string, connId: string, pos: string): LoadedConnection {
    const p = decodePos(pos);
    if (!p) throw unknownPos();
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
    if (p.inline === undefined) return { connection: p.connection, seq: p.seq, state: base, text: row.state, base };
    const state = applyInline(base, p.inline);
    if (!state) throw unknownPos();
    return { connection: p.connection, seq: p.seq, state, text: encodeConnectionState(state), base };
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
    return this.storage.transactionSync(() => {
      const now = Date.now();
      if (from) {
        sql.exec("DELETE FROM sliding_states WHERE connection = ? AND seq < ?", from.connection, from.seq);
        sql.exec("INSERT OR REPLACE INTO sliding_states (connection, seq, state) VALUES (?, ?, ?)", from.connection, from.seq + 1, text);
        sql.exec("UPDATE sliding_connections SET used_ts = ? WHERE id = ?", now, from.connection);
        return encodePos(from.connection, from.seq + 1);
      }
      this.#drop(sql.exec<{ id: number }>("SELECT id FROM sliding_connections WHERE device_id = ? AND conn_id = ?", deviceId, connId).toArray());
      const id = sql
        .exec<{ id: number }>("INSERT INTO sliding_connections (device_id, conn_id, used_ts) VALUES (?, ?, ?) RETURNING id", deviceId, connId, now)
        .one().id;
      sql.exec("INSERT INTO sliding_states (connection, seq, state) VALUES (?, 1, ?)", id, text);
      this.#drop(
        sql
          .exec<{ id: number }>("SELECT id FROM sliding_connections WHERE device_id = ? ORDER BY used_ts DESC, id DESC LIMIT -1 OFFSET ?", deviceId, this.maxConnections)
          .toArray(),
      );
      return encodePos(id, 1);
    });
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
      this.storage.sql.exec("DELETE FROM sliding_states WHERE connection = ?", id);
      this.storage.sql.exec("DELETE FROM sliding_connections WHERE id = ?", id);
    }
  }
}
