/**
 * One-time and fallback keys as uploaded with /keys/upload and handed out by /keys/claim.
 * https://spec.matrix.org/v1.19/client-server-api/#one-time-and-fallback-keys
 * https://spec.matrix.org/v1.19/client-server-api/#key-algorithms
 *
 * A key is `<algorithm>:<key_id>` → either a bare key string (`curve25519`, deprecated) or a
 * KeyObject `{key, signatures, fallback?}`. `signed_curve25519` keys must be signed by the
 * device's Ed25519 key; other algorithms are stored as given (bounded in size).
 */
import { canonicalJson } from "../canonical-json.ts";
import { MatrixError } from "../errors.ts";
import { isJsonObject, type JsonObject, type JsonValue } from "../json.ts";
import { hasValidSignature, isPublicKey, objectAt, parseKeyId } from "./key-json.ts";

/** Per request: a client tops up in batches (matrix-rust-sdk uploads at most 50 at a time). */
export const MAX_KEYS_PER_UPLOAD = 1000;
/** One key object, as canonical JSON; real ones are ~200 bytes. */
export const MAX_KEY_JSON_BYTES = 4096;

export type KeyKind = "one_time_keys" | "fallback_keys";

export interface UploadedKey {
  /** `<algorithm>:<key_id>` as uploaded. */
  keyId: string;
  algorithm: string;
  /** The key string or KeyObject as uploaded. */
  value: JsonValue;
  /** Canonical JSON of `value`: what is stored, compared and served. */
  json: string;
}

/** Validates a one_time_keys or fallback_keys map; absent → []. Nothing is verified yet (see verifyUploadedKeys). */
export function parseUploadedKeys(v: JsonValue | undefined, kind: KeyKind): UploadedKey[] {
  if (v === undefined || v === null) return [];
  const map = objectAt(v, kind);
  const entries = Object.entries(map);
  if (entries.length > MAX_KEYS_PER_UPLOAD) {
    throw new MatrixError("M_TOO_LARGE", 413, `At most ${MAX_KEYS_PER_UPLOAD} ${kind} per upload`);
  }
  const out: UploadedKey[] = [];
  const algorithms = new Set<string>();
  for (const [keyId, value] of entries) {
    const id = parseKeyId(keyId);
    if (!id) throw new MatrixError("M_INVALID_PARAM", 400, `${kind}: key ID ${JSON.stringify(keyId.slice(0, 64))} is not <algorithm>:<key_id>`);
    checkKeyValue(id.algorithm, value, `${kind}.${keyId}`);
    const json = canonicalJsonOr400(value, `${kind}.${keyId}`);
    if (json.length > MAX_KEY_JSON_BYTES) throw new MatrixError("M_TOO_LARGE", 413, `${kind}.${keyId} is too large`);
    // Spec: at most one fallback key per algorithm.
    if (kind === "fallback_keys" && algorithms.has(id.algorithm)) {
      throw new MatrixError("M_INVALID_PARAM", 400, `At most one fallback key per algorithm (${id.algorithm})`);
    }
    algorithms.add(id.algorithm);
    out.push({ keyId, algorithm: id.algorithm, value, json });
  }
  return out;
}

function checkKeyValue(algorithm: string, value: JsonValue, where: string): void {
  if (typeof value === "string") {
    if (algorithm === "signed_curve25519") throw new MatrixError("M_BAD_JSON", 400, `'${where}' must be a signed key object`);
    if (algorithm === "curve25519" && !isPublicKey(value)) {
      throw new MatrixError("M_INVALID_PARAM", 400, `'${where}' is not a 32-byte unpadded base64 curve25519 key`);
    }
    return;
  }
  if (!isJsonObject(value)) throw new MatrixError("M_BAD_JSON", 400, `'${where}' must be a key string or a key object`);
  if (typeof value.key !== "string") throw new MatrixError("M_BAD_JSON", 400, `'${where}.key' must be a string`);
  if (!isJsonObject(value.signatures)) throw new MatrixError("M_BAD_JSON", 400, `'${where}.signatures' must be an object`);
  if (value.fallback !== undefined && typeof value.fallback !== "boolean") {
    throw new MatrixError("M_BAD_JSON", 400, `'${where}.fallback' must be a boolean`);
  }
  if ((algorithm === "signed_curve25519" || algorithm === "curve25519") && !isPublicKey(value.key)) {
    throw new MatrixError("M_INVALID_PARAM", 400, `'${where}.key' is not a 32-byte unpadded base64 curve25519 key`);
  }
}

function canonicalJsonOr400(v: JsonValue, where: string): string {
  try {
    return canonicalJson(v);
  } catch {
    throw new MatrixError("M_BAD_JSON", 400, `'${where}' is not canonical-JSON-serialisable`);
  }
}

/** Whether a key of this algorithm must carry the device's signature. */
export function mustBeSigned(algorithm: string): boolean {
  return algorithm.startsWith("signed_");
}

/**
 * Throws 400 M_INVALID_SIGNATURE unless every signed key (signed_curve25519) is signed by
 * the device's Ed25519 key. `ed25519` undefined (no device keys known) fails any signed key.
 */
export async function verifyUploadedKeys(
  keys: readonly UploadedKey[],
  userId: string,
  deviceId: string,
  ed25519: string | undefined,
): Promise<void> {
  const signed = keys.filter((k) => mustBeSigned(k.algorithm));
  if (signed.length === 0) return;
  if (ed25519 === undefined) {
    throw new MatrixError("M_INVALID_SIGNATURE", 400, "Signed keys need the device's keys (upload device_keys first)");
  }
  const results = await Promise.all(
    signed.map((k) => hasValidSignature(k.value as JsonObject, userId, `ed25519:${deviceId}`, ed25519)),
  );
  const bad = signed.find((_, i) => !results[i]);
  if (bad) throw new MatrixError("M_INVALID_SIGNATURE", 400, `${bad.keyId} is not signed by the device's ed25519 key`);
}
