/**
 * /keys/signatures/upload: a user publishes signatures on keys. Which key may sign which:
 *   - own device keys      ← the user's self-signing key;
 *   - own master key       ← one of the user's own devices' Ed25519 keys;
 *   - another user's master key ← the user's user-signing key.
 * The uploaded object must be the stored key with signatures added ("must match the key
 * previously uploaded ... with the exception of the signatures property"), and every new
 * signature must verify. https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3keyssignaturesupload
 */
import { MatrixError } from "../errors.ts";
import type { JsonObject } from "../json.ts";
import { signingInput, verifyEd25519 } from "../signing.ts";
import { signaturesBy, signedContent } from "./key-json.ts";

/** One key's entry in the response's `failures`. */
export interface SignatureFailure {
  errcode: "M_INVALID_SIGNATURE" | "M_NOT_FOUND" | "M_INVALID_PARAM" | "M_BAD_JSON" | "M_UNKNOWN";
  error: string;
}

/** A signature to store: made by `signer`'s key `keyId` over the target key. */
export interface AcceptedSignature {
  keyId: string;
  signature: string;
}

export type SignatureCheck = { ok: true; accepted: AcceptedSignature[] } | { ok: false; failure: SignatureFailure };

const fail = (errcode: SignatureFailure["errcode"], error: string): SignatureCheck => ({ ok: false, failure: { errcode, error } });

/**
 * Checks the signatures `signer` put on `uploaded`, a copy of `stored`. `signingKeys` are the
 * keys allowed to sign this target (key ID → Ed25519 public key). Signatures already on the
 * stored object are not checked again. Every new one must be by an allowed key and valid;
 * with none new, the upload succeeds only if it repeats a stored signature by an allowed key.
 */
export async function checkUploadedSignatures(opts: {
  uploaded: JsonObject;
  stored: JsonObject;
  signer: string;
  signingKeys: Readonly<Record<string, string>>;
}): Promise<SignatureCheck> {
  const { uploaded, stored, signer, signingKeys } = opts;
  let same: boolean;
  try {
    same = signedContent(uploaded) === signedContent(stored);
  } catch {
    return fail("M_BAD_JSON", "The signed object is not canonical JSON");
  }
  if (!same) return fail("M_INVALID_PARAM", "The signed object does not match the stored key");
  const already = signaturesBy(stored, signer);
  const mine = Object.entries(signaturesBy(uploaded, signer));
  const fresh = mine.filter(([keyId, sig]) => already[keyId] !== sig);
  if (fresh.length === 0) {
    // A retried upload of signatures already stored succeeds without change.
    const repeated = mine.some(([keyId]) => Object.hasOwn(signingKeys, keyId));
    return repeated ? { ok: true, accepted: [] } : fail("M_INVALID_SIGNATURE", "No new signature by an allowed key");
  }
  const input = signingInput(stored);
  const accepted: AcceptedSignature[] = [];
  for (const [keyId, signature] of fresh) {
    const publicKey = Object.hasOwn(signingKeys, keyId) ? signingKeys[keyId] : undefined;
    if (publicKey === undefined) return fail("M_INVALID_SIGNATURE", `${keyId} may not sign this key`);
    if (!(await verifyEd25519(publicKey, input, signature))) return fail("M_INVALID_SIGNATURE", `Invalid signature by ${keyId}`);
    accepted.push({ keyId, signature });
  }
  return { ok: true, accepted };
}

/** The body of /keys/signatures/upload: user ID → key ID → signed object; bad shape → 400 M_BAD_JSON. */
export function parseSignaturesUpload(body: JsonObject): Map<string, Map<string, JsonObject>> {
  const out = new Map<string, Map<string, JsonObject>>();
  let total = 0;
  for (const [userId, keys] of Object.entries(body)) {
    if (typeof keys !== "object" || keys === null || Array.isArray(keys)) {
      throw new MatrixError("M_BAD_JSON", 400, `Signatures for ${userId} must be an object`);
    }
    const m = new Map<string, JsonObject>();
    for (const [keyId, obj] of Object.entries(keys)) {
      if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
        throw new MatrixError("M_BAD_JSON", 400, `The signed object for ${userId} ${keyId} must be an object`);
      }
      m.set(keyId, obj);
      if (++total > MAX_SIGNED_OBJECTS) throw new MatrixError("M_TOO_LARGE", 413, `At most ${MAX_SIGNED_OBJECTS} signed objects per request`);
    }
    out.set(userId, m);
  }
  return out;
}

/** Per request; a client signs its devices and a handful of other users at a time. */
export const MAX_SIGNED_OBJECTS = 1000;
