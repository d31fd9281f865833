/**
 * /keys/signatures/upload inside the DeviceKeys actor: which stored key an uploaded object
 * addresses, which keys may sign it, and storing what verified. Checks are async (WebCrypto),
 * so each accepted batch carries a re-check that runs inside the storing transaction: a key
 * replaced meanwhile gets none of the signatures made over its old content.
 */
import { withSignatures } from "../../lib/e2ee/key-json.ts";
import { type AcceptedSignature, checkUploadedSignatures, type SignatureFailure } from "../../lib/e2ee/signatures-upload.ts";
import type { JsonObject } from "../../lib/json.ts";
import { addSignatures, crossSigningKeys, deviceTarget, masterKeyFor, masterTarget, signaturesOn } from "./cross-signing.ts";
import { allDeviceKeys, deviceKeys } from "./keys.ts";
import type { Store } from "./store.ts";

export interface Checked {
  /** Signatures that verified, by target ('device:<id>' / 'master:<key>'). */
  pending: Array<{ target: string; accepted: AcceptedSignature[]; stillValid: () => boolean }>;
  /** Key ID → why its signatures were refused. */
  failures: Record<string, SignatureFailure>;
}

/**
 * The user's own keys: a device (signed by the self-signing key) or the master key (signed by
 * one of the user's devices). Key IDs are device IDs, or the master key's public key.
 */
export async function checkOwn(store: Store, objects: ReadonlyMap<string, JsonObject>): Promise<Checked> {
  const out: Checked = { pending: [], failures: {} };
  const cs = crossSigningKeys(store);
  for (const [keyId, uploaded] of objects) {
    const device = deviceKeys(store, keyId);
    let target: string;
    let stored: JsonObject;
    let signingKeys: Record<string, string>;
    let stillValid: () => boolean;
    if (device) {
      if (!cs.self_signing) {
        out.failures[keyId] = { errcode: "M_NOT_FOUND", error: "No self-signing key to sign devices with" };
        continue;
      }
      target = deviceTarget(keyId);
      stored = withSignatures(device.json, signaturesOn(store, target, [store.userId]));
      signingKeys = { [cs.self_signing.keyId]: cs.self_signing.publicKey };
      const before = JSON.stringify(device.json);
      const ssk = cs.self_signing.publicKey;
      stillValid = () => JSON.stringify(deviceKeys(store, keyId)?.json) === before && crossSigningKeys(store).self_signing?.publicKey === ssk;
    } else if (cs.master && keyId === cs.master.publicKey) {
      target = masterTarget(keyId);
      stored = masterKeyFor(store, cs.master, store.userId);
      signingKeys = Object.fromEntries(allDeviceKeys(store).map((d) => [`ed25519:${d.deviceId}`, d.ed25519]));
      stillValid = () => crossSigningKeys(store).master?.publicKey === keyId;
    } else {
      out.failures[keyId] = { errcode: "M_NOT_FOUND", error: "Unknown key" };
      continue;
    }
    const r = await checkUploadedSignatures({ uploaded, stored, signer: store.userId, signingKeys });
    if (r.ok) out.pending.push({ target, accepted: r.accepted, stillValid });
    else out.failures[keyId] = r.failure;
  }
  return out;
}

/** Another local user's signatures, made with their user-signing key `usk`, on this user's master key. */
export async function checkBy(
  store: Store,
  signer: string,
  usk: { keyId: string; publicKey: string },
  objects: Readonly<Record<string, JsonObject>>,
): Promise<Checked> {
  const out: Checked = { pending: [], failures: {} };
  const master = crossSigningKeys(store).master;
  for (const [keyId, uploaded] of Object.entries(objects)) {
    if (!master || keyId !== master.publicKey) {
      out.failures[keyId] = { errcode: "M_NOT_FOUND", error: "Only a user's current master key can be signed by other users" };
      continue;
    }
    const r = await checkUploadedSignatures({ uploaded, stored: masterKeyFor(store, master, signer), signer, signingKeys: { [usk.keyId]: usk.publicKey } });
    if (r.ok) out.pending.push({ target: masterTarget(keyId), accepted: r.accepted, stillValid: () => crossSigningKeys(store).master?.publicKey === keyId });
    else out.failures[keyId] = r.failure;
  }
  return out;
}

/** Stores what is still valid (call inside a transaction); returns whether anything new was stored. */
export function commit(store: Store, signer: string, checked: Checked): boolean {
  let any = false;
  for (const p of checked.pending) {
    if (!p.stillValid() || p.accepted.length === 0) continue;
    addSignatures(store, p.target, signer, p.accepted);
    any = true;
  }
  return any;
}
