/**
 * Server-side key backup: backup versions and the room keys stored in them.
 * https://spec.matrix.org/v1.19/client-server-api/#server-side-key-backups
 *
 * The server never reads `session_data` or `auth_data` (they are encrypted or signed by the
 * client); it validates the envelope and decides which of two copies of a session's key to
 * keep, by the spec's rules:
 *   1. different `is_verified`: keep the verified one;
 *   2. else the lower `first_message_index` (it decrypts more of the session);
 *   3. else the lower `forwarded_count`;
 *   4. all equal: keep the stored one.
 */
import { MatrixError } from "../errors.ts";
import type { JsonObject, JsonValue } from "../json.ts";
import { MAX_KEY_ID_LENGTH, objectAt, stringAt } from "./key-json.ts";

/** KeyBackupData. */
export interface KeyBackupData {
  first_message_index: number;
  forwarded_count: number;
  is_verified: boolean;
  session_data: JsonObject;
}

/** One session's key addressed by room and session. */
export interface RoomKey {
  roomId: string;
  sessionId: string;
  data: KeyBackupData;
}

/** The granularity of a /room_keys/keys request. */
export type RoomKeysScope = { level: "all" } | { level: "room"; roomId: string } | { level: "session"; roomId: string; sessionId: string };

/** Whether `incoming` replaces `stored` for the same session (rules 1–4 above). */
export function shouldReplaceBackupKey(stored: KeyBackupData | null, incoming: KeyBackupData): boolean {
  if (stored === null) return true;
  if (stored.is_verified !== incoming.is_verified) return incoming.is_verified;
  if (stored.first_message_index !== incoming.first_message_index) {
    return incoming.first_message_index < stored.first_message_index;
  }
  return incoming.forwarded_count < stored.forwarded_count;
}

function count(v: JsonValue | undefined, where: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new MatrixError("M_BAD_JSON", 400, `'${where}' must be a non-negative integer`);
  }
  return v;
}

/** Validates one KeyBackupData object; 400 M_BAD_JSON. Extra fields are dropped. */
export function parseKeyBackupData(v: JsonValue | undefined, where = "body"): KeyBackupData {
  const o = objectAt(v, where);
  if (typeof o.is_verified !== "boolean") throw new MatrixError("M_BAD_JSON", 400, `'${where}.is_verified' must be a boolean`);
  return {
    first_message_index: count(o.first_message_index, `${where}.first_message_index`),
    forwarded_count: count(o.forwarded_count, `${where}.forwarded_count`),
    is_verified: o.is_verified,
    session_data: objectAt(o.session_data, `${where}.session_data`),
  };
}

function checkId(id: string, what: string): string {
  if (id === "" || id.length > MAX_KEY_ID_LENGTH) throw new MatrixError("M_INVALID_PARAM", 400, `Invalid ${what}`);
  return id;
}

function sessionsOf(v: JsonValue | undefined, roomId: string, where: string): RoomKey[] {
  const sessions = objectAt(objectAt(v, where).sessions, `${where}.sessions`);
  return Object.entries(sessions).map(([sessionId, data]) => ({
    roomId,
    sessionId: checkId(sessionId, "session ID"),
    data: parseKeyBackupData(data, `${where}.sessions.${sessionId}`),
  }));
}

/** The keys of a PUT at any granularity, flattened. */
export function parseRoomKeysUpload(body: JsonObject, scope: RoomKeysScope): RoomKey[] {
  switch (scope.level) {
    case "session":
      return [{ roomId: checkId(scope.roomId, "room ID"), sessionId: checkId(scope.sessionId, "session ID"), data: parseKeyBackupData(body) }];
    case "room":
      return sessionsOf(body, checkId(scope.roomId, "room ID"), "body");
    case "all": {
      const rooms = objectAt(body.rooms, "rooms");
      return Object.entries(rooms).flatMap(([roomId, room]) => sessionsOf(room, checkId(roomId, "room ID"), `rooms.${roomId}`));
    }
  }
}

/** The response body of a GET at `scope` from the stored keys (already filtered to the scope). */
export function roomKeysResponse(keys: readonly RoomKey[], scope: RoomKeysScope): JsonObject {
  if (scope.level === "session") {
    const k = keys[0];
    if (!k) throw new MatrixError("M_NOT_FOUND", 404, "No key found for this session");
    return { ...k.data };
  }
  const rooms: Record<string, { sessions: JsonObject }> = {};
  for (const k of keys) (rooms[k.roomId] ??= { sessions: {} }).sessions[k.sessionId] = { ...k.data };
  if (scope.level === "room") return { sessions: rooms[scope.roomId]?.sessions ?? {} };
  return { rooms };
}

/** The body of POST /room_keys/version or PUT /room_keys/version/{version}. */
export interface BackupVersionBody {
  algorithm: string;
  auth_data: JsonObject;
  /** PUT only: must equal the path's version when present. */
  version?: string;
}

export function parseBackupVersionBody(body: JsonObject): BackupVersionBody {
  if (body.algorithm === undefined) throw new MatrixError("M_MISSING_PARAM", 400, "Missing 'algorithm'");
  if (body.auth_data === undefined) throw new MatrixError("M_MISSING_PARAM", 400, "Missing 'auth_data'");
  const algorithm = stringAt(body.algorithm, "algorithm");
  if (algorithm === "" || algorithm.length > MAX_KEY_ID_LENGTH) throw new MatrixError("M_INVALID_PARAM", 400, "Invalid 'algorithm'");
  const out: BackupVersionBody = { algorithm, auth_data: objectAt(body.auth_data, "auth_data") };
  if (body.version !== undefined) out.version = stringAt(body.version, "version");
  return out;
}
