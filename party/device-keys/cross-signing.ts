/**
 * Cross-signing keys and uploaded signatures in the DeviceKeys actor's SQLite, and the
 * /keys/query view of one user that merges them.
 * https://spec.matrix.org/v1.19/client-server-api/#cross-signing
 *
 * Who sees which signature (as Synapse does): signatures by the key owner (self-signing key
 * on devices, devices on the master key) are visible to everyone; a signature another user
 * made on this user's master key with their user-signing key is visible only to that user.
 */
import type { CrossSigningKey, CrossSigningUsage } from "../../lib/e2ee/cross-signing.ts";
import { withSignatures } from "../../lib/e2ee/key-json.ts";
import type { AcceptedSignature } from "../../lib/e2ee/signatures-upload.ts";
import type { JsonObject } from "../../lib/json.ts";
import { recordOwnChange } from "./device-lists.ts";
import { allDeviceKeys } from "./keys.ts";
import type { Store } from "./store.ts";

export interface StoredCrossSigningKey {
  json: JsonObject;
  publicKey: string;
  keyId: string;
}

export type CrossSigningSet = Partial<Record<CrossSigningUsage, StoredCrossSigningKey>>;

export function crossSigningKeys(store: Store): CrossSigningSet {
  const out: CrossSigningSet = {};
  for (const r of store.all<{ usage: CrossSigningUsage; public_key: string; key_json: string }>(
    "SELECT usage, public_key, key_json FROM cross_signing_keys",
  )) {
    out[r.usage] = { json: JSON.parse(r.key_json) as JsonObject, publicKey: r.public_key, keyId: `ed25519:${r.public_key}` };
  }
  return out;
}

/** Stores uploaded keys; a new master key drops the signatures made on the old one. */
export function storeCrossSigningKeys(store: Store, keys: readonly CrossSigningKey[]): void {
  const before = crossSigningKeys(store);
  let changed = false;
  for (const k of keys) {
    const text = JSON.stringify(k.json);
    const old = before[k.usage];
    if (old && JSON.stringify(old.json) === text) continue;
    if (k.usage === "master" && old && old.publicKey !== k.publicKey) {
      store.run("DELETE FROM key_signatures WHERE target = ?", masterTarget(old.publicKey));
    }
    store.run(
      "INSERT INTO cross_signing_keys (usage, public_key, key_json, updated_ts) VALUES (?, ?, ?, ?) " +
        "ON CONFLICT (usage) DO UPDATE SET public_key = excluded.public_key, key_json = excluded.key_json, updated_ts = excluded.updated_ts",
      k.usage,
      k.publicKey,
      text,
      Date.now(),
    );
    changed = true;
  }
  if (changed) recordOwnChange(store);
}

export const deviceTarget = (deviceId: string) => `device:${deviceId}`;
export const masterTarget = (publicKey: string) => `master:${publicKey}`;

/** Signatures stored for `target` by any of `signers`: signer → key ID → signature. */
export function signaturesOn(store: Store, target: string, signers: readonly string[]): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const signer of new Set(signers)) {
    for (const r of store.all<{ signer_key_id: string; signature: string }>(
      "SELECT signer_key_id, signature FROM key_signatures WHERE target = ? AND signer = ?",
      target,
      signer,
    )) {
      (out[signer] ??= {})[r.signer_key_id] = r.signature;
    }
  }
  return out;
}

export function addSignatures(store: Store, target: string, signer: string, accepted: readonly AcceptedSignature[]): void {
  for (const a of accepted) {
    store.run(
      "INSERT INTO key_signatures (target, signer, signer_key_id, signature) VALUES (?, ?, ?, ?) " +
        "ON CONFLICT (target, signer, signer_key_id) DO UPDATE SET signature = excluded.signature",
      target,
      signer,
      a.keyId,
      a.signature,
    );
  }
}

/** The master key with the signatures `viewer` may see merged in (owner's, and the viewer's own). */
export function masterKeyFor(store: Store, master: StoredCrossSigningKey, viewer: string): JsonObject {
  return withSignatures(master.json, signaturesOn(store, masterTarget(master.publicKey), [store.userId, viewer]));
}

/** One user's part of a /keys/query answer, as `viewer` sees it. */
export interface UserKeys {
  device_keys: Record<string, JsonObject>;
  master_key?: JsonObject;
  self_signing_key?: JsonObject;
  user_signing_key?: JsonObject;
}

/**
 * The user's device keys (of `deviceIds`, or all) and cross-signing keys. Only devices in
 * `devices` (the User actor's list: device ID → display name) are included, so keys of a
 * device deleted a moment ago are never served.
 */
export function userKeys(store: Store, deviceIds: readonly string[], viewer: string, devices: ReadonlyMap<string, string | undefined>): UserKeys {
  const want = deviceIds.length > 0 ? new Set(deviceIds) : null;
  const out: UserKeys = { device_keys: {} };
  for (const d of allDeviceKeys(store)) {
    if ((want && !want.has(d.deviceId)) || !devices.has(d.deviceId)) continue;
    const json = withSignatures(d.json, signaturesOn(store, deviceTarget(d.deviceId), [store.userId]));
    const name = devices.get(d.deviceId);
    out.device_keys[d.deviceId] = name === undefined ? json : { ...json, unsigned: { device_display_name: name } };
  }
  const cs = crossSigningKeys(store);
  if (cs.master) out.master_key = masterKeyFor(store, cs.master, viewer);
  if (cs.self_signing) out.self_signing_key = cs.self_signing.json;
  // The user-signing key is private to its owner (spec: /keys/query user_signing_keys).
  if (cs.user_signing && viewer === store.userId) out.user_signing_key = cs.user_signing.json;
  return out;
}
