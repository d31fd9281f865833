/**
 * Event hashes: the content hash (covers everything but unsigned/signatures/hashes) and the
 * reference hash (covers the redacted event), both SHA-256 via WebCrypto.
 * https://spec.matrix.org/v1.19/server-server-api/#calculating-the-content-hash-for-an-event
 * https://spec.matrix.org/v1.19/server-server-api/#calculating-the-reference-hash-for-an-event
 */
import { encodeBase64 } from "./base64.ts";
import { canonicalJsonBytes } from "./canonical-json.ts";
import type { JsonObject } from "./json.ts";
import { redactEvent } from "./redaction.ts";
import type { RedactionRules, RoomVersionRules } from "./room-versions.ts";

const encoder = new TextEncoder();

/** SHA-256 of bytes, or of a string's UTF-8 bytes. */
export async function sha256(data: Uint8Array | string): Promise<Uint8Array> {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
}

/** A shallow copy without the given top-level keys. */
function without(obj: JsonObject, keys: readonly string[]): JsonObject {
  const out: JsonObject = {};
  for (const k of Object.keys(obj)) {
    if (keys.includes(k)) continue;
    Object.defineProperty(out, k, { value: obj[k], writable: true, enumerable: true, configurable: true });
  }
  return out;
}

/** The bytes the content hash is taken over. */
export function contentHashInput(eventJson: JsonObject): Uint8Array {
  return canonicalJsonBytes(without(eventJson, ["unsigned", "signatures", "hashes"]));
}

/** Unpadded base64 SHA-256 content hash: the value of `hashes.sha256`. */
export async function computeContentHash(eventJson: JsonObject): Promise<string> {
  return encodeBase64(await sha256(contentHashInput(eventJson)));
}

/** The reference hash: SHA-256 of the redacted event without `signatures` and `unsigned`. */
export async function computeReferenceHash(
  eventJson: JsonObject,
  rules: RedactionRules | RoomVersionRules,
): Promise<Uint8Array> {
  const redacted = redactEvent(eventJson, rules);
  return sha256(canonicalJsonBytes(without(redacted, ["signatures", "unsigned"])));
}
