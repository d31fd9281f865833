/**
 * Server-side key backup: /room_keys/version and /room_keys/keys at all three granularities.
 * https://spec.matrix.org/v1.19/client-server-api/#server-side-key-backups
 * Everything lives in the caller's DeviceKeys actor; lib/e2ee/key-backup.ts validates and
 * decides which copy of a session key to keep.
 */
import { parseBackupVersionBody, parseRoomKeysUpload, type RoomKeysScope } from "../../lib/e2ee/key-backup.ts";
import { MatrixError } from "../../lib/errors.ts";
import { deviceKeysActor } from "../stubs.ts";
import { body, jsonText } from "./account.ts";
import { authenticate } from "./auth.ts";
import { json } from "./http.ts";
import type { EdgeRequest } from "./router.ts";

async function actor(r: EdgeRequest) {
  const me = await authenticate(r);
  return deviceKeysActor(r.env, me.userId);
}

function scopeOf(r: EdgeRequest): RoomKeysScope {
  const { roomId, sessionId } = r.params;
  if (roomId === undefined) return { level: "all" };
  if (sessionId === undefined) return { level: "room", roomId };
  return { level: "session", roomId, sessionId };
}

function versionParam(r: EdgeRequest): string {
  const v = r.url.searchParams.get("version");
  if (v === null) throw new MatrixError("M_MISSING_PARAM", 400, "Missing 'version'");
  return v;
}

// POST /_matrix/client/v3/room_keys/version
export async function createVersion(r: EdgeRequest): Promise<Response> {
  const a = await actor(r);
  const b = parseBackupVersionBody(await body(r));
  return json({ version: await a.createBackupVersion({ algorithm: b.algorithm, auth_data: b.auth_data }) });
}

// GET /_matrix/client/v3/room_keys/version
// GET /_matrix/client/v3/room_keys/version/{version}
export async function getVersion(r: EdgeRequest): Promise<Response> {
  const a = await actor(r);
  return jsonText(await a.getBackupVersion(r.params.version ?? null));
}

// PUT /_matrix/client/v3/room_keys/version/{version}
export async function updateVersion(r: EdgeRequest): Promise<Response> {
  const a = await actor(r);
  await a.updateBackupVersion(r.params.version!, parseBackupVersionBody(await body(r)));
  return json({});
}

// DELETE /_matrix/client/v3/room_keys/version/{version}
export async function deleteVersion(r: EdgeRequest): Promise<Response> {
  const a = await actor(r);
  await a.deleteBackupVersion(r.params.version!);
  return json({});
}

// PUT /_matrix/client/v3/room_keys/keys[/{roomId}[/{sessionId}]]
export async function putKeys(r: EdgeRequest): Promise<Response> {
  const a = await actor(r);
  const version = versionParam(r);
  const keys = parseRoomKeysUpload(await body(r), scopeOf(r));
  return json({ ...(await a.putRoomKeys(version, keys)) });
}

// GET /_matrix/client/v3/room_keys/keys[/{roomId}[/{sessionId}]]
export async function getKeys(r: EdgeRequest): Promise<Response> {
  const a = await actor(r);
  return jsonText(await a.getRoomKeys(versionParam(r), scopeOf(r)));
}

// DELETE /_matrix/client/v3/room_keys/keys[/{roomId}[/{sessionId}]]
export async function deleteKeys(r: EdgeRequest): Promise<Response> {
  const a = await actor(r);
  return json({ ...(await a.deleteRoomKeys(versionParam(r), scopeOf(r))) });
}
