/**
 * The dehydrated device (MSC3814) in the DeviceKeys actor's SQLite: at most one per user, a
 * real device (the User actor lists it) whose keys, one-time keys and to-device inbox live
 * here like any other device's. https://github.com/matrix-org/matrix-spec-proposals/pull/3814
 */
import { parseDeviceKeys, verifyDeviceKeys, type DeviceKeys } from "../../lib/e2ee/device-keys.ts";
import { parseUploadedKeys, verifyUploadedKeys, type UploadedKey } from "../../lib/e2ee/one-time-keys.ts";
import { MatrixError } from "../../lib/errors.ts";
import { isJsonObject, type JsonObject } from "../../lib/json.ts";
import * as inbox from "./to-device.ts";
import type { Store } from "./store.ts";

export interface DehydratedUpload {
  deviceId: string;
  deviceData: JsonObject;
  displayName: string | null;
  deviceKeys: DeviceKeys;
  oneTimeKeys: UploadedKey[];
  fallbackKeys: UploadedKey[];
}

/** Validates and verifies a PUT /dehydrated_device body: the same key rules as /keys/upload, for the new device. */
export async function parseUpload(body: JsonObject, userId: string): Promise<DehydratedUpload> {
  if (typeof body.device_id !== "string") throw new MatrixError("M_BAD_JSON", 400, "'device_id' must be a string");
  if (!isJsonObject(body.device_data)) throw new MatrixError("M_BAD_JSON", 400, "'device_data' must be an object");
  const name = body.initial_device_display_name;
  if (name !== undefined && name !== null && typeof name !== "string") throw new MatrixError("M_BAD_JSON", 400, "'initial_device_display_name' must be a string");
  const deviceId = body.device_id;
  const up: DehydratedUpload = {
    deviceId,
    deviceData: body.device_data,
    displayName: name ?? null,
    deviceKeys: parseDeviceKeys(body.device_keys, { userId, deviceId }),
    oneTimeKeys: parseUploadedKeys(body.one_time_keys, "one_time_keys"),
    fallbackKeys: parseUploadedKeys(body.fallback_keys, "fallback_keys"),
  };
  await verifyDeviceKeys(up.deviceKeys);
  await verifyUploadedKeys([...up.oneTimeKeys, ...up.fallbackKeys], userId, deviceId, up.deviceKeys.ed25519);
  return up;
}

export interface Dehydrated {
  device_id: string;
  device_data: string;
}

export function current(store: Store): Dehydrated | null {
  return store.one<{ device_id: string; device_data: string }>("SELECT device_id, device_data FROM dehydrated_device WHERE id = 1");
}

export function setCurrent(store: Store, deviceId: string, deviceData: JsonObject): void {
  store.run(
    "INSERT INTO dehydrated_device (id, device_id, device_data, created_ts) VALUES (1, ?, ?, ?) " +
      "ON CONFLICT (id) DO UPDATE SET device_id = excluded.device_id, device_data = excluded.device_data, created_ts = excluded.created_ts",
    deviceId,
    JSON.stringify(deviceData),
    Date.now(),
  );
}

/**
 * POST /dehydrated_device/{deviceId}/events: the messages after `nextBatch`, never deleted
 * (MSC3814: a rehydration may be aborted and restarted elsewhere). The end is an empty batch.
 */
export function events(store: Store, deviceId: string, nextBatch: string | null): { events: inbox.ToDeviceBatch["events"]; next_batch: string } {
  const row = current(store);
  if (!row || row.device_id !== deviceId) throw new MatrixError("M_FORBIDDEN", 403, "Not the dehydrated device");
  let since = 0;
  if (nextBatch !== null) {
    if (!/^[0-9]{1,15}$/.test(nextBatch)) throw new MatrixError("M_INVALID_PARAM", 400, "Invalid next_batch");
    since = Number(nextBatch);
  }
  const batch = inbox.since(store, deviceId, since);
  return { events: batch.events, next_batch: String(batch.next) };
}
