/**
 * Server-side key backup in the DeviceKeys actor's SQLite: versions and room keys.
 * https://spec.matrix.org/v1.19/client-server-api/#server-side-key-backups
 *
 * Versions are decimal strings of an AUTOINCREMENT id, never reused; the current version is
 * the newest not deleted. `etag` is a per-version counter bumped whenever stored keys change,
 * `count` is kept in the version row so neither needs a scan.
 */
import {
  type BackupVersionBody,
  type KeyBackupData,
  type RoomKey,
  type RoomKeysScope,
  shouldReplaceBackupKey,
} from "../../lib/e2ee/key-backup.ts";
import { MatrixError } from "../../lib/errors.ts";
import type { JsonObject } from "../../lib/json.ts";
import type { Store } from "./store.ts";

interface VersionRow extends Record<string, SqlStorageValue> {
  version: number;
  algorithm: string;
  auth_data: string;
  etag: number;
  count: number;
  deleted: number;
}

export interface BackupInfo {
  version: string;
  algorithm: string;
  auth_data: JsonObject;
  etag: string;
  count: number;
}

export interface BackupCounts {
  etag: string;
  count: number;
}

function parseVersion(v: string): number | null {
  return /^[1-9][0-9]{0,14}$/.test(v) ? Number(v) : null;
}

function row(store: Store, version: string): VersionRow | null {
  const n = parseVersion(version);
  return n === null ? null : store.one<VersionRow>("SELECT * FROM backup_versions WHERE version = ?", n);
}

function current(store: Store): VersionRow | null {
  return store.one<VersionRow>("SELECT * FROM backup_versions WHERE deleted = 0 ORDER BY version DESC LIMIT 1");
}

const info = (r: VersionRow): BackupInfo => ({
  version: String(r.version),
  algorithm: r.algorithm,
  auth_data: JSON.parse(r.auth_data) as JsonObject,
  etag: String(r.etag),
  count: r.count,
});

const noBackup = () => new MatrixError("M_NOT_FOUND", 404, "No such backup version");

/** An existing, not deleted version, or 404. */
function live(store: Store, version: string): VersionRow {
  const r = row(store, version);
  if (!r || r.deleted) throw noBackup();
  return r;
}

export function createVersion(store: Store, body: BackupVersionBody): string {
  const r = store.one<{ version: number }>(
    "INSERT INTO backup_versions (algorithm, auth_data) VALUES (?, ?) RETURNING version",
    body.algorithm,
    JSON.stringify(body.auth_data),
  )!;
  return String(r.version);
}

/** GET /room_keys/version (version null: the current one) or /room_keys/version/{version}. */
export function getVersion(store: Store, version: string | null): BackupInfo {
  const r = version === null ? current(store) : row(store, version);
  if (!r || r.deleted) throw new MatrixError("M_NOT_FOUND", 404, version === null ? "No current backup version" : "Unknown backup version");
  return info(r);
}

/** Only auth_data changes; the algorithm must stay, a body version must equal the path's. */
export function updateVersion(store: Store, version: string, body: BackupVersionBody): void {
  if (body.version !== undefined && body.version !== version) {
    throw new MatrixError("M_INVALID_PARAM", 400, "The version in the body does not match the path");
  }
  const r = live(store, version);
  if (r.algorithm !== body.algorithm) throw new MatrixError("M_INVALID_PARAM", 400, "The algorithm cannot be changed");
  store.run("UPDATE backup_versions SET auth_data = ? WHERE version = ?", JSON.stringify(body.auth_data), r.version);
}

/** Deletes a version and its keys; deleting it again succeeds, a version never created is 404. */
export function deleteVersion(store: Store, version: string): void {
  const r = row(store, version);
  if (!r) throw noBackup();
  store.run("DELETE FROM backup_keys WHERE version = ?", r.version);
  store.run("UPDATE backup_versions SET deleted = 1, count = 0 WHERE version = ?", r.version);
}

/** Stores keys in the current version by the replacement rules; another version is 403 with current_version. */
export function putKeys(store: Store, version: string, keys: readonly RoomKey[]): BackupCounts {
  const cur = current(store);
  if (!cur) throw new MatrixError("M_NOT_FOUND", 404, "No current backup version");
  if (parseVersion(version) !== cur.version) {
    throw new MatrixError("M_WRONG_ROOM_KEYS_VERSION", 403, "Wrong backup version", { current_version: String(cur.version) });
  }
  let added = 0;
  let changed = false;
  for (const k of keys) {
    const old = store.one<Record<string, SqlStorageValue>>(
      "SELECT first_message_index, forwarded_count, is_verified, session_data FROM backup_keys WHERE version = ? AND room_id = ? AND session_id = ?",
      cur.version,
      k.roomId,
      k.sessionId,
    );
    const stored = old ? toData(old) : null;
    if (!shouldReplaceBackupKey(stored, k.data)) continue;
    store.run(
      "INSERT INTO backup_keys (version, room_id, session_id, first_message_index, forwarded_count, is_verified, session_data) VALUES (?, ?, ?, ?, ?, ?, ?) " +
        "ON CONFLICT (version, room_id, session_id) DO UPDATE SET first_message_index = excluded.first_message_index, " +
        "forwarded_count = excluded.forwarded_count, is_verified = excluded.is_verified, session_data = excluded.session_data",
      cur.version,
      k.roomId,
      k.sessionId,
      k.data.first_message_index,
      k.data.forwarded_count,
      k.data.is_verified ? 1 : 0,
      JSON.stringify(k.data.session_data),
    );
    if (!old) added++;
    changed = true;
  }
  return bumpIfChanged(store, cur.version, changed, added);
}

function bumpIfChanged(store: Store, version: number, changed: boolean, countDelta: number): BackupCounts {
  const r = changed
    ? store.one<{ etag: number; count: number }>(
        "UPDATE backup_versions SET etag = etag + 1, count = count + ? WHERE version = ? RETURNING etag, count",
        countDelta,
        version,
      )!
    : store.one<{ etag: number; count: number }>("SELECT etag, count FROM backup_versions WHERE version = ?", version)!;
  return { etag: String(r.etag), count: r.count };
}

function scopeWhere(scope: RoomKeysScope): { sql: string; args: SqlStorageValue[] } {
  switch (scope.level) {
    case "all":
      return { sql: "", args: [] };
    case "room":
      return { sql: " AND room_id = ?", args: [scope.roomId] };
    case "session":
      return { sql: " AND room_id = ? AND session_id = ?", args: [scope.roomId, scope.sessionId] };
  }
}

/** Keys of any live version (not only the current one) within the scope. */
export function getKeys(store: Store, version: string, scope: RoomKeysScope): RoomKey[] {
  const r = live(store, version);
  const w = scopeWhere(scope);
  return store
    .all<Record<string, SqlStorageValue>>(`SELECT * FROM backup_keys WHERE version = ?${w.sql} ORDER BY room_id, session_id`, r.version, ...w.args)
    .map((k) => ({ roomId: k.room_id as string, sessionId: k.session_id as string, data: toData(k) }));
}

export function deleteKeys(store: Store, version: string, scope: RoomKeysScope): BackupCounts {
  const r = live(store, version);
  const w = scopeWhere(scope);
  const gone = store.all(`DELETE FROM backup_keys WHERE version = ?${w.sql} RETURNING session_id`, r.version, ...w.args).length;
  return bumpIfChanged(store, r.version, gone > 0, -gone);
}

function toData(r: Record<string, SqlStorageValue>): KeyBackupData {
  return {
    first_message_index: r.first_message_index as number,
    forwarded_count: r.forwarded_count as number,
    is_verified: r.is_verified === 1,
    session_data: JSON.parse(r.session_data as string) as JsonObject,
  };
}
