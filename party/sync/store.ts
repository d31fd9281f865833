/**
 * The User actor's sync tables (schema/user.sql migration 4): room indexes and
 * checkpoints. A checkpoint is the full set of room views one device was given; a
 * token names one and carries the rooms that moved since inline (lib/sync/token.ts).
 */
import { decodeViews, encodeViews, type RoomView } from "../../lib/sync/position.ts";

/** Checkpoints kept per device; older ones are deleted when a new one is written. */
export const SYNC_CHECKPOINTS_PER_DEVICE = 8;

export class SyncStore {
  readonly #sql: SqlStorage;
  readonly #idx = new Map<string, number>();
  readonly #ids = new Map<number, string>();

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  /** The index of a room, allocated on first sight (one row per room, ever). */
  indexOf(roomId: string): number {
    const hit = this.#idx.get(roomId);
    if (hit !== undefined) return hit;
    let row = this.#sql.exec<{ idx: number }>("SELECT idx FROM sync_room_ids WHERE room_id = ?", roomId).toArray()[0];
    row ??= this.#sql.exec<{ idx: number }>("INSERT INTO sync_room_ids (room_id) VALUES (?) RETURNING idx", roomId).one();
    this.#remember(roomId, row.idx);
    return row.idx;
  }

  /** The room an index names, or undefined for an index never allocated. */
  roomOf(idx: number): string | undefined {
    const hit = this.#ids.get(idx);
    if (hit !== undefined) return hit;
    const row = this.#sql.exec<{ room_id: string }>("SELECT room_id FROM sync_room_ids WHERE idx = ?", idx).toArray()[0];
    if (row) this.#remember(row.room_id, idx);
    return row?.room_id;
  }

  /** A checkpoint's views by room index, if it exists and belongs to `deviceId`. */
  checkpoint(id: number, deviceId: string): Map<number, RoomView> | undefined {
    const row = this.#sql
      .exec<{ device_id: string; views: string }>("SELECT device_id, views FROM sync_checkpoints WHERE id = ?", id)
      .toArray()[0];
    if (!row || row.device_id !== deviceId) return undefined;
    return decodeViews(row.views);
  }

  /** Writes a checkpoint and drops the device's older ones beyond the bound. Returns its ID. */
  writeCheckpoint(deviceId: string, views: ReadonlyMap<number, RoomView>): number {
    const id = this.#sql
      .exec<{ id: number }>(
        "INSERT INTO sync_checkpoints (device_id, created_ts, views) VALUES (?, ?, ?) RETURNING id",
        deviceId,
        Date.now(),
        encodeViews(views),
      )
      .one().id;
    this.#sql.exec(
      "DELETE FROM sync_checkpoints WHERE device_id = ? AND id <= (SELECT id FROM sync_checkpoints WHERE device_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
      deviceId,
      deviceId,
      SYNC_CHECKPOINTS_PER_DEVICE,
    );
    return id;
  }

  /** A deleted device's checkpoints go with it. */
  deleteDevices(deviceIds: readonly string[] | null): void {
    if (deviceIds === null) this.#sql.exec("DELETE FROM sync_checkpoints");
    else for (const d of deviceIds) this.#sql.exec("DELETE FROM sync_checkpoints WHERE device_id = ?", d);
  }

  #remember(roomId: string, idx: number): void {
    if (this.#idx.size > 100_000) {
      this.#idx.clear();
      this.#ids.clear();
    }
    this.#idx.set(roomId, idx);
    this.#ids.set(idx, roomId);
  }
}
