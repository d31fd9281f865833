/**
 * Shared pieces of the end-to-end encryption key objects: key IDs (`<algorithm>:<id>`),
 * unpadded-base64 public keys, the signed part of a key object, and the signatures a
 * user put on it. https://spec.matrix.org/v1.19/client-server-api/#end-to-end-encryption
 * https://spec.matrix.org/v1.19/appendices/#signing-json
 */
import { decodeBase64 } from "../base64.ts";
import { canonicalJson } from "../canonical-json.ts";
import { MatrixError } from "../errors.ts";
import { isJsonObject, type JsonObject, type JsonValue } from "../json.ts";
import { signingInput, verifyEd25519 } from "../signing.ts";

/** Key IDs and device IDs are short identifiers; anything longer is abuse, not a key. */
export const MAX_KEY_ID_LENGTH = 255;

/** A Curve25519 or Ed25519 public key: 32 bytes, written as 43 characters of unpadded base64. */
export function isPublicKey(s: unknown): s is string {
  if (typeof s !== "string" || s.length !== 43 || s.includes("=")) return false;
  try {
    return decodeBase64(s).length === 32;
  } catch {
    return false;
  }
}

/** An Ed25519 signature: 64 bytes of unpadded base64 (86 characters). */
export function isSignature(s: unknown): s is string {
  if (typeof s !== "string" || s.length !== 86 || s.includes("=")) return false;
  try {
    return decodeBase64(s).length === 64;
  } catch {
    return false;
  }
}

export interface KeyId {
  algorithm: string;
  id: string;
}

/** `<algorithm>:<id>`, split at the first colon; null when either side is empty or it is too long. */
export function parseKeyId(keyId: string): KeyId | null {
  const colon = keyId.indexOf(":");
  if (colon <= 0 || colon === keyId.length - 1 || keyId.length > MAX_KEY_ID_LENGTH) return null;
  return { algorithm: keyId.slice(0, colon), id: keyId.slice(colon + 1) };
}

/** The part of a signed object its signatures cover, as canonical JSON: equal strings mean the same signed content. */
export function signedContent(obj: JsonObject): string {
  const copy: JsonObject = {};
  for (const k of Object.keys(obj)) {
    if (k === "signatures" || k === "unsigned") continue;
    Object.defineProperty(copy, k, { value: obj[k], writable: true, enumerable: true, configurable: true });
  }
  return canonicalJson(copy);
}

/** The signatures `userId` put on `obj`, keyed by signing key ID; only string entries count. */
export function signaturesBy(obj: JsonObject, userId: string): Record<string, string> {
  const all = obj.signatures;
  if (!isJsonObject(all)) return {};
  const mine = Object.hasOwn(all, userId) ? all[userId] : undefined;
  if (!isJsonObject(mine)) return {};
  const out: Record<string, string> = {};
  for (const [keyId, sig] of Object.entries(mine)) if (typeof sig === "string") out[keyId] = sig;
  return out;
}

/** `obj` with `extra` merged into its signatures (extra wins on the same key ID). */
export function withSignatures(obj: JsonObject, extra: Record<string, Record<string, string>>): JsonObject {
  if (Object.keys(extra).length === 0) return obj;
  const signatures: JsonObject = isJsonObject(obj.signatures) ? { ...obj.signatures } : {};
  for (const [user, sigs] of Object.entries(extra)) {
    const existing = signatures[user];
    signatures[user] = { ...(isJsonObject(existing) ? existing : {}), ...sigs };
  }
  return { ...obj, signatures };
}

/**
 * Whether `obj` carries a valid signature by `userId`'s key `keyId` (`ed25519:<…>`),
 * checked with WebCrypto over the object's signing input.
 */
export async function hasValidSignature(obj: JsonObject, userId: string, keyId: string, publicKey: string): Promise<boolean> {
  const sig = signaturesBy(obj, userId)[keyId];
  if (sig === undefined) return false;
  let input: Uint8Array;
  try {
    input = signingInput(obj);
  } catch {
    return false; // not canonical-JSON-serialisable: it cannot carry a valid signature
  }
  return verifyEd25519(publicKey, input, sig);
}

/** A JSON object field or 400 M_BAD_JSON naming `where`. */
export function objectAt(v: JsonValue | undefined, where: string): JsonObject {
  if (!isJsonObject(v)) throw new MatrixError("M_BAD_JSON", 400, `'${where}' must be an object`);
  return v;
}

/** A string field or 400 M_BAD_JSON naming `where`. */
export function stringAt(v: JsonValue | undefined, where: string): string {
  if (typeof v !== "string") throw new MatrixError("M_BAD_JSON", 400, `'${where}' must be a string`);
  return v;
}
