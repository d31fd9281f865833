/**
 * Cross-signing keys (master, self-signing, user-signing) as uploaded with
 * /keys/device_signing/upload. https://spec.matrix.org/v1.19/client-server-api/#cross-signing
 *
 * Each key object names its user, lists its usage and holds exactly one Ed25519 key whose
 * key ID is `ed25519:<public key>`. The self-signing and user-signing keys must be signed by
 * the master key; the master key's own signatures are optional.
 */
import { MatrixError } from "../errors.ts";
import type { JsonObject, JsonValue } from "../json.ts";
import { hasValidSignature, isPublicKey, objectAt, signedContent, stringAt } from "./key-json.ts";

export type CrossSigningUsage = "master" | "self_signing" | "user_signing";
export const CROSS_SIGNING_USAGES: readonly CrossSigningUsage[] = ["master", "self_signing", "user_signing"];

/** The request field that carries each key. */
export const UPLOAD_FIELD: Readonly<Record<CrossSigningUsage, string>> = {
  master: "master_key",
  self_signing: "self_signing_key",
  user_signing: "user_signing_key",
};

export interface CrossSigningKey {
  usage: CrossSigningUsage;
  /** The key object as stored and served (without `unsigned`). */
  json: JsonObject;
  publicKey: string;
  /** `ed25519:<publicKey>`: the key ID its signatures are made under. */
  keyId: string;
}

/** Validates one cross-signing key object of `usage` for `userId`; 400 M_BAD_JSON / M_INVALID_PARAM. */
export function parseCrossSigningKey(v: JsonValue | undefined, usage: CrossSigningUsage, userId: string): CrossSigningKey {
  const field = UPLOAD_FIELD[usage];
  const o = objectAt(v, field);
  if (stringAt(o.user_id, `${field}.user_id`) !== userId) {
    throw new MatrixError("M_INVALID_PARAM", 400, `${field}.user_id must be the authenticated user`);
  }
  const u = o.usage;
  if (!Array.isArray(u) || !u.every((x) => typeof x === "string")) {
    throw new MatrixError("M_BAD_JSON", 400, `'${field}.usage' must be an array of strings`);
  }
  if (!u.includes(usage)) throw new MatrixError("M_INVALID_PARAM", 400, `${field}.usage must include ${usage}`);
  if (!u.every((x) => (CROSS_SIGNING_USAGES as readonly string[]).includes(x as string))) {
    throw new MatrixError("M_INVALID_PARAM", 400, `${field}.usage has an unknown usage`);
  }
  const keys = Object.entries(objectAt(o.keys, `${field}.keys`));
  if (keys.length !== 1) throw new MatrixError("M_INVALID_PARAM", 400, `${field}.keys must hold exactly one key`);
  const [keyId, publicKey] = keys[0]!;
  if (!keyId.startsWith("ed25519:") || keyId.slice("ed25519:".length) !== publicKey || !isPublicKey(publicKey)) {
    throw new MatrixError("M_INVALID_PARAM", 400, `${field}.keys must be {"ed25519:<key>": "<key>"} with a 32-byte ed25519 key`);
  }
  if (o.signatures !== undefined) objectAt(o.signatures, `${field}.signatures`);
  const json: JsonObject = { ...o };
  delete json.unsigned;
  return { usage, json, publicKey, keyId };
}

/** Throws 400 M_INVALID_SIGNATURE unless `key` is signed by `master` (both `userId`'s). */
export async function verifySignedByMaster(key: CrossSigningKey, master: { keyId: string; publicKey: string }, userId: string): Promise<void> {
  if (!(await hasValidSignature(key.json, userId, master.keyId, master.publicKey))) {
    throw new MatrixError("M_INVALID_SIGNATURE", 400, `The ${key.usage} key is not signed by the master key`);
  }
}

/** Same key material and metadata, whatever signatures each copy carries. */
export function sameSignedContent(a: JsonObject, b: JsonObject): boolean {
  return signedContent(a) === signedContent(b);
}
