/**
 * Device keys, one-time keys and fallback keys in the DeviceKeys actor's SQLite.
 * Everything here runs inside one synchronous transaction of the calling RPC; signature
 * checks (async) happen before, in the actor.
 * https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3keysupload
 * https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3keysclaim
 */
import type { DeviceKeys } from "../../lib/e2ee/device-keys.ts";
import type { UploadedKey } from "../../lib/e2ee/one-time-keys.ts";
import { MatrixError } from "../../lib/errors.ts";
import type { JsonObject } from "../../lib/json.ts";
import { recordOwnChange } from "./device-lists.ts";
import type { Store } from "./store.ts";

/** Unclaimed one-time keys one device may hold (all algorithms); clients keep ~50. */
export const MAX_STORED_ONE_TIME_KEYS = 10_000;

export interface StoredDeviceKeys {
  deviceId: string;
  json: JsonObject;
  ed25519: string;
}

export function deviceKeys(store: Store, deviceId: string): StoredDeviceKeys | null {
  const r = store.one<{ keys_json: string; ed25519: string }>("SELECT keys_json, ed25519 FROM device_keys WHERE device_id = ?", deviceId);
  return r ? { deviceId, json: JSON.parse(r.keys_json) as JsonObject, ed25519: r.ed25519 } : null;
}

export function allDeviceKeys(store: Store): StoredDeviceKeys[] {
  return store
    .all<{ device_id: string; keys_json: string; ed25519: string }>("SELECT device_id, keys_json, ed25519 FROM device_keys ORDER BY device_id")
    .map((r) => ({ deviceId: r.device_id, json: JSON.parse(r.keys_json) as JsonObject, ed25519: r.ed25519 }));
}

/**
 * Stores device keys; an identical re-upload changes nothing. A new or changed key set is a
 * device-list change. Refuses a device ID that is one of the user's cross-signing public keys
 * (signature uploads address both by the same IDs).
 */
export function storeDeviceKeys(store: Store, keys: DeviceKeys): void {
  if (store.one("SELECT 1 AS x FROM cross_signing_keys WHERE public_key = ?", keys.deviceId)) {
    throw new MatrixError("M_INVALID_PARAM", 400, "The device ID is one of the user's cross-signing keys");
  }
  const text = JSON.stringify(keys.json);
  const old = store.one<{ keys_json: string }>("SELECT keys_json FROM device_keys WHERE device_id = ?", keys.deviceId);
  if (old?.keys_json === text) return;
  store.run(
    "INSERT INTO device_keys (device_id, keys_json, ed25519, updated_ts) VALUES (?, ?, ?, ?) " +
      "ON CONFLICT (device_id) DO UPDATE SET keys_json = excluded.keys_json, ed25519 = excluded.ed25519, updated_ts = excluded.updated_ts",
    keys.deviceId,
    text,
    keys.ed25519,
    Date.now(),
  );
  recordOwnChange(store);
}

/**
 * Adds one-time keys. Keys of one upload share an upload sequence number (the spec orders
 * claims by upload, not within one). Re-uploading a stored key unchanged is a no-op; the same
 * key ID with another key is 400, as Synapse answers.
 */
export function storeOneTimeKeys(store: Store, deviceId: string, keys: readonly UploadedKey[]): void {
  if (keys.length === 0) return;
  const seq = store.bump("one_time_key_upload");
  for (const k of keys) {
    const old = store.one<{ key_json: string }>(
      "SELECT key_json FROM one_time_keys WHERE device_id = ? AND algorithm = ? AND key_id = ?",
      deviceId,
      k.algorithm,
      k.keyId,
    );
    if (old) {
      if (old.key_json !== k.json) throw new MatrixError("M_INVALID_PARAM", 400, `One-time key ${k.keyId} already exists with another value`);
      continue;
    }
    store.run(
      "INSERT INTO one_time_keys (device_id, algorithm, key_id, key_json, upload_seq) VALUES (?, ?, ?, ?, ?)",
      deviceId,
      k.algorithm,
      k.keyId,
      k.json,
      seq,
    );
  }
  const total = Object.values(oneTimeKeyCounts(store, deviceId)).reduce((a, b) => a + b, 0);
  if (total > MAX_STORED_ONE_TIME_KEYS) {
    // Thrown inside the transaction: nothing of this upload is kept.
    throw new MatrixError("M_TOO_LARGE", 413, `A device may hold at most ${MAX_STORED_ONE_TIME_KEYS} unclaimed one-time keys`);
  }
}

/** Replaces the fallback key of each uploaded algorithm (unused again), unless it is the same key. */
export function storeFallbackKeys(store: Store, deviceId: string, keys: readonly UploadedKey[]): void {
  for (const k of keys) {
    const old = store.one<{ key_id: string; key_json: string }>(
      "SELECT key_id, key_json FROM fallback_keys WHERE device_id = ? AND algorithm = ?",
      deviceId,
      k.algorithm,
    );
    if (old && old.key_id === k.keyId && old.key_json === k.json) continue;
    store.run(
      "INSERT INTO fallback_keys (device_id, algorithm, key_id, key_json, used) VALUES (?, ?, ?, ?, 0) " +
        "ON CONFLICT (device_id, algorithm) DO UPDATE SET key_id = excluded.key_id, key_json = excluded.key_json, used = 0",
      deviceId,
      k.algorithm,
      k.keyId,
      k.json,
    );
  }
}

/** Unclaimed one-time keys per algorithm; signed_curve25519 is always listed (0 when none), as Synapse does. */
export function oneTimeKeyCounts(store: Store, deviceId: string): Record<string, number> {
  const out: Record<string, number> = { signed_curve25519: 0 };
  for (const r of store.all<{ algorithm: string; n: number }>(
    "SELECT algorithm, COUNT(*) AS n FROM one_time_keys WHERE device_id = ? GROUP BY algorithm",
    deviceId,
  )) {
    out[r.algorithm] = r.n;
  }
  return out;
}

/** Algorithms whose fallback key has not been handed out since it was uploaded. */
export function unusedFallbackKeyTypes(store: Store, deviceId: string): string[] {
  return store
    .all<{ algorithm: string }>("SELECT algorithm FROM fallback_keys WHERE device_id = ? AND used = 0 ORDER BY algorithm", deviceId)
    .map((r) => r.algorithm);
}

/**
 * Claims one key per (device, algorithm): the oldest one-time key, deleted as it is read,
 * else the fallback key, marked used and kept. Must run inside one transaction: with no
 * await between the SELECT and the DELETE, no two claims can ever get the same key.
 */
export function claim(store: Store, wanted: Readonly<Record<string, string>>): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [deviceId, algorithm] of Object.entries(wanted)) {
    const otk = store.one<{ key_id: string; key_json: string }>(
      "SELECT key_id, key_json FROM one_time_keys WHERE device_id = ? AND algorithm = ? ORDER BY upload_seq LIMIT 1",
      deviceId,
      algorithm,
    );
    if (otk) {
      store.run("DELETE FROM one_time_keys WHERE device_id = ? AND algorithm = ? AND key_id = ?", deviceId, algorithm, otk.key_id);
      out[deviceId] = { [otk.key_id]: JSON.parse(otk.key_json) };
      continue;
    }
    const fb = store.one<{ key_id: string; key_json: string }>(
      "SELECT key_id, key_json FROM fallback_keys WHERE device_id = ? AND algorithm = ?",
      deviceId,
      algorithm,
    );
    if (fb) {
      store.run("UPDATE fallback_keys SET used = 1 WHERE device_id = ? AND algorithm = ?", deviceId, algorithm);
      out[deviceId] = { [fb.key_id]: JSON.parse(fb.key_json) };
    }
  }
  return out;
}

/**
 * Removes everything held for these devices (null: all devices): keys, one-time and
 * fallback keys, signatures on them, their to-device inboxes. Returns whether any of them
 * had device keys (then it is a device-list change, recorded here).
 */
export function removeDevices(store: Store, deviceIds: readonly string[] | null): boolean {
  const ids = deviceIds ?? store.all<{ device_id: string }>("SELECT device_id FROM device_keys").map((r) => r.device_id);
  let hadKeys = false;
  for (const id of ids) {
    if (store.one("SELECT 1 AS x FROM device_keys WHERE device_id = ?", id)) hadKeys = true;
    store.run("DELETE FROM device_keys WHERE device_id = ?", id);
    store.run("DELETE FROM key_signatures WHERE target = ?", `device:${id}`);
  }
  if (deviceIds === null) {
    for (const t of ["one_time_keys", "fallback_keys", "to_device_inbox", "to_device_counts", "dehydrated_device"]) store.run(`DELETE FROM ${t}`);
  } else {
    for (const id of deviceIds) {
      for (const t of ["one_time_keys", "fallback_keys", "to_device_inbox", "to_device_counts"]) store.run(`DELETE FROM ${t} WHERE device_id = ?`, id);
      store.run("DELETE FROM dehydrated_device WHERE device_id = ?", id);
    }
  }
  if (hadKeys) recordOwnChange(store);
  return hadKeys;
}
