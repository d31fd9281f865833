/**
 * End-to-end encryption key endpoints: upload, query, claim, changes, cross-signing.
 * https://spec.matrix.org/v1.19/client-server-api/#end-to-end-encryption
 *
 * Uploads go to the caller's DeviceKeys actor. Query and claim name many users: the edge
 * fans out to each local user's actor (one call each, in bounded batches) and merges;
 * users on other servers are reported under `failures` until federation exists.
 */
import { MatrixError } from "../../lib/errors.ts";
import { isValidUserId, serverNameOf } from "../../lib/identifiers.ts";
import { isJsonObject, type JsonObject } from "../../lib/json.ts";
import { decodeSyncToken } from "../../lib/sync/token.ts";
import { deviceKeysActor } from "../stubs.ts";
import { body, jsonText, uiaResponse } from "./account.ts";
import { authenticate } from "./auth.ts";
import { json } from "./http.ts";
import type { EdgeRequest } from "./router.ts";

/** Users one query or claim may name. */
export const MAX_USERS_PER_REQUEST = 1000;
/** Actor calls in flight at once for one request. */
const FAN_OUT = 50;

const remoteFailure = { errcode: "M_UNKNOWN", error: "This server cannot reach other servers yet (no federation)" };

/** Calls `f` for every item, at most FAN_OUT at a time. */
async function inBatches<T, R>(items: readonly T[], f: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += FAN_OUT) out.push(...(await Promise.all(items.slice(i, i + FAN_OUT).map(f))));
  return out;
}

/** A user → X map from a request body, split into local users and remote servers. */
function byUser(r: EdgeRequest, map: JsonObject, field: string): { local: [string, unknown][]; remoteServers: Set<string> } {
  const entries = Object.entries(map);
  if (entries.length > MAX_USERS_PER_REQUEST) throw new MatrixError("M_TOO_LARGE", 413, `At most ${MAX_USERS_PER_REQUEST} users per request`);
  const local: [string, unknown][] = [];
  const remoteServers = new Set<string>();
  for (const [userId, v] of entries) {
    if (!isValidUserId(userId)) throw new MatrixError("M_INVALID_PARAM", 400, `${field}: ${JSON.stringify(userId.slice(0, 64))} is not a user ID`);
    const server = serverNameOf(userId)!;
    if (server === r.config.serverName) local.push([userId, v]);
    else remoteServers.add(server);
  }
  return { local, remoteServers };
}

function timeoutField(b: JsonObject): void {
  if (b.timeout !== undefined && (typeof b.timeout !== "number" || !Number.isSafeInteger(b.timeout))) {
    throw new MatrixError("M_BAD_JSON", 400, "'timeout' must be an integer");
  }
}

// POST /_matrix/client/v3/keys/upload
export async function uploadKeys(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const counts = await deviceKeysActor(r.env, me.userId).uploadKeys(me.deviceId, await body(r));
  return json({ one_time_key_counts: counts });
}

// POST /_matrix/client/v3/keys/query
export async function queryKeys(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const b = await body(r);
  if (b.device_keys === undefined) throw new MatrixError("M_MISSING_PARAM", 400, "Missing 'device_keys'");
  if (!isJsonObject(b.device_keys)) throw new MatrixError("M_BAD_JSON", 400, "'device_keys' must be an object");
  timeoutField(b);
  const { local, remoteServers } = byUser(r, b.device_keys, "device_keys");
  for (const [userId, devices] of local) {
    if (!Array.isArray(devices) || !devices.every((d) => typeof d === "string")) {
      throw new MatrixError("M_BAD_JSON", 400, `device_keys.${userId} must be an array of device IDs`);
    }
  }
  const answers = await inBatches(local, async ([userId, devices]) => {
    const text = await deviceKeysActor(r.env, userId).queryKeys(devices as string[], me.userId);
    return [userId, JSON.parse(text) as Record<string, JsonObject>] as const;
  });
  const out = { device_keys: {} as JsonObject, master_keys: {} as JsonObject, self_signing_keys: {} as JsonObject, user_signing_keys: {} as JsonObject, failures: {} as JsonObject };
  for (const [userId, a] of answers) {
    out.device_keys[userId] = a.device_keys ?? {};
    if (a.master_key) out.master_keys[userId] = a.master_key;
    if (a.self_signing_key) out.self_signing_keys[userId] = a.self_signing_key;
    if (a.user_signing_key) out.user_signing_keys[userId] = a.user_signing_key;
  }
  for (const server of remoteServers) out.failures[server] = remoteFailure;
  return json(out);
}

// POST /_matrix/client/v3/keys/claim
export async function claimKeys(r: EdgeRequest): Promise<Response> {
  await authenticate(r);
  const b = await body(r);
  if (b.one_time_keys === undefined) throw new MatrixError("M_MISSING_PARAM", 400, "Missing 'one_time_keys'");
  if (!isJsonObject(b.one_time_keys)) throw new MatrixError("M_BAD_JSON", 400, "'one_time_keys' must be an object");
  timeoutField(b);
  const { local, remoteServers } = byUser(r, b.one_time_keys, "one_time_keys");
  const wanted = local.map(([userId, devices]) => {
    if (!isJsonObject(devices) || !Object.values(devices).every((a) => typeof a === "string")) {
      throw new MatrixError("M_BAD_JSON", 400, `one_time_keys.${userId} must map device IDs to algorithms`);
    }
    return [userId, devices as Record<string, string>] as const;
  });
  const answers = await inBatches(wanted, async ([userId, devices]) => [userId, JSON.parse(await deviceKeysActor(r.env, userId).claimKeys(devices)) as JsonObject] as const);
  const oneTimeKeys: JsonObject = {};
  for (const [userId, keys] of answers) if (Object.keys(keys).length > 0) oneTimeKeys[userId] = keys;
  const failures: JsonObject = {};
  for (const server of remoteServers) failures[server] = remoteFailure;
  return json({ one_time_keys: oneTimeKeys, failures });
}

/**
 * A /keys/changes position: the device-list position of a /sync `next_batch` token, or a
 * bare decimal device-list position (the caller's DeviceKeys stream, docs/design/e2ee.md).
 */
export function deviceListPosition(token: string): number | undefined {
  if (/^[0-9]{1,15}$/.test(token)) return Number(token);
  return decodeSyncToken(token)?.deviceLists;
}

// GET /_matrix/client/v3/keys/changes
export async function keyChanges(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const from = r.url.searchParams.get("from");
  const to = r.url.searchParams.get("to");
  if (from === null) throw new MatrixError("M_MISSING_PARAM", 400, "Missing 'from'");
  if (to === null) throw new MatrixError("M_MISSING_PARAM", 400, "Missing 'to'");
  const since = deviceListPosition(from);
  if (since === undefined || deviceListPosition(to) === undefined) throw new MatrixError("M_INVALID_PARAM", 400, "Invalid 'from' or 'to' token");
  // `to` is only a hint (spec): changes up to now are a superset of changes up to `to`.
  const changes = await deviceKeysActor(r.env, me.userId).deviceListChangesSince(since);
  return json({ changed: changes.changed, left: changes.left });
}

// POST /_matrix/client/v3/keys/device_signing/upload
export async function uploadCrossSigningKeys(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const b = await body(r);
  const { auth, ...keys } = b;
  if (auth !== undefined && auth !== null && !isJsonObject(auth)) throw new MatrixError("M_BAD_JSON", 400, "'auth' must be an object");
  return uiaResponse(await deviceKeysActor(r.env, me.userId).uploadCrossSigningKeys(keys, auth ?? null));
}

// POST /_matrix/client/v3/keys/signatures/upload
export async function uploadSignatures(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  return jsonText(await deviceKeysActor(r.env, me.userId).uploadSignatures(await body(r)));
}
