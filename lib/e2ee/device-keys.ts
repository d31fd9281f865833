/**
 * Device keys as uploaded with /keys/upload: the device's identity keys, signed by the
 * device's own Ed25519 key. https://spec.matrix.org/v1.19/client-server-api/#device-keys
 *
 * The server checks what it can check without trusting the client: the object names the
 * uploading user and device, every key ID names that device, Ed25519 and Curve25519 keys
 * are 32-byte keys, and the object carries a valid self-signature.
 */
import { MatrixError } from "../errors.ts";
import type { JsonObject, JsonValue } from "../json.ts";
import { hasValidSignature, isPublicKey, MAX_KEY_ID_LENGTH, objectAt, parseKeyId, stringAt } from "./key-json.ts";

/** Algorithms a device may list; a generous bound, not a list of known names. */
const MAX_ALGORITHMS = 32;
const MAX_IDENTITY_KEYS = 16;

/** Device keys that passed validation; `json` is what is stored and served (without `unsigned`). */
export interface DeviceKeys {
  json: JsonObject;
  userId: string;
  deviceId: string;
  /** The device's Ed25519 key: it signs the device keys and the signed one-time keys. */
  ed25519: string;
  curve25519: string | undefined;
}

export interface DeviceOwner {
  userId: string;
  deviceId: string;
}

/**
 * Validates a `device_keys` object for `owner`. Shape errors are 400 M_BAD_JSON; an object
 * for another user or device, or malformed keys, 400 M_INVALID_PARAM. Does not check the
 * signature (see verifyDeviceKeys).
 */
export function parseDeviceKeys(v: JsonValue | undefined, owner: DeviceOwner): DeviceKeys {
  const o = objectAt(v, "device_keys");
  const userId = stringAt(o.user_id, "device_keys.user_id");
  const deviceId = stringAt(o.device_id, "device_keys.device_id");
  if (userId !== owner.userId || deviceId !== owner.deviceId) {
    throw new MatrixError("M_INVALID_PARAM", 400, "device_keys.user_id/device_id do not match the authenticated user and device");
  }
  if (deviceId === "" || deviceId.length > MAX_KEY_ID_LENGTH) throw new MatrixError("M_INVALID_PARAM", 400, "Invalid device ID");
  const algorithms = o.algorithms;
  if (!Array.isArray(algorithms) || !algorithms.every((a) => typeof a === "string")) {
    throw new MatrixError("M_BAD_JSON", 400, "'device_keys.algorithms' must be an array of strings");
  }
  if (algorithms.length > MAX_ALGORITHMS) throw new MatrixError("M_INVALID_PARAM", 400, "Too many algorithms");
  const keys = objectAt(o.keys, "device_keys.keys");
  objectAt(o.signatures, "device_keys.signatures");
  const entries = Object.entries(keys);
  if (entries.length > MAX_IDENTITY_KEYS) throw new MatrixError("M_INVALID_PARAM", 400, "Too many identity keys");
  let ed25519: string | undefined;
  let curve25519: string | undefined;
  for (const [keyId, value] of entries) {
    const id = parseKeyId(keyId);
    if (!id || id.id !== deviceId) {
      throw new MatrixError("M_INVALID_PARAM", 400, `Key ID ${JSON.stringify(keyId)} must be <algorithm>:${deviceId}`);
    }
    if (typeof value !== "string") throw new MatrixError("M_BAD_JSON", 400, `'device_keys.keys.${keyId}' must be a string`);
    if (id.algorithm === "ed25519" || id.algorithm === "curve25519") {
      if (!isPublicKey(value)) {
        throw new MatrixError("M_INVALID_PARAM", 400, `${keyId} is not a 32-byte unpadded base64 ${id.algorithm} key`);
      }
      if (id.algorithm === "ed25519") ed25519 = value;
      else curve25519 = value;
    }
  }
  if (ed25519 === undefined) throw new MatrixError("M_INVALID_PARAM", 400, `device_keys must include ed25519:${deviceId}`);
  // `unsigned` is the server's to fill in (display name); a client's copy is dropped.
  const json: JsonObject = { ...o };
  delete json.unsigned;
  return { json, userId, deviceId, ed25519, curve25519 };
}

/** Throws 400 M_INVALID_SIGNATURE unless the device keys are signed by the device's own Ed25519 key. */
export async function verifyDeviceKeys(keys: DeviceKeys): Promise<void> {
  const ok = await hasValidSignature(keys.json, keys.userId, `ed25519:${keys.deviceId}`, keys.ed25519);
  if (!ok) throw new MatrixError("M_INVALID_SIGNATURE", 400, "device_keys are not signed by the device's ed25519 key");
}
