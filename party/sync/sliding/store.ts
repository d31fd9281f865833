/**
 * Sliding sync connections in the User actor's SQLite (schema/user.sql migration 6): one
 * row per (device, conn_id), and the versions of its state that a `pos` may name. A
 * request from `pos` = (connection, n) computes version n + 1 from version n; versions
 * before n are deleted then (the client has acknowledged n, MSC4186 "Connections"), so a
 * connection holds at most two. A retried request from n replaces version n + 1.
 */
import { MatrixError } from "../../../lib/errors.ts";
import { decodeConnectionState, decodePos, encodeConnectionState, encodePos, type ConnectionState } from "../../../lib/sync/sliding/connection.ts";

export interface LoadedConnection {
  connection: number;
  seq: number;
  state: ConnectionState;
  /** The stored text of `state` (to tell whether a response changed it). */
  text: string;
}

const unknownPos = () => new MatrixError("M_UNKNOWN_POS", 400, "Unknown or expired pos: start a new connection");

export class SlidingStore {
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
    return { connection: p.connection, seq: p.seq, state: decodeConnectionState(row.state), text: row.state };
  }

  /**
   * Stores the state after a response and returns its pos. A first request (no `from`)
   * replaces any connection of the same device and conn_id (one connection per conn_id)
   * and drops the device's least recently used connections beyond the bound.
   */
  commit(deviceId: string, connId: string, from: LoadedConnection | undefined, state: ConnectionState): string {
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
