/**
 * Checks on a received (or built) PDU before authorization:
 * - format: https://spec.matrix.org/v1.19/client-server-api/#size-limits, the pdu_v* schemas,
 *   canonical JSON numbers since v6 (https://spec.matrix.org/v1.19/rooms/v6/#canonical-json);
 * - hashes and signatures: https://spec.matrix.org/v1.19/server-server-api/#validating-hashes-and-signatures-on-received-events
 *   (a wrong content hash means "redact", not "reject").
 */
import { CanonicalJsonError, canonicalJsonBytes } from "./canonical-json.ts";
import { MatrixError, badJson } from "./errors.ts";
import { computeContentHash } from "./hashes.ts";
import { isValidEventId, isValidRoomId, isValidUserId, serverNameOf } from "./identifiers.ts";
import { utf8Length } from "./json-parse.ts";
import { isJsonObject, type JsonObject, type JsonValue } from "./json.ts";
import { redactEvent } from "./redaction.ts";
import type { RoomVersionRules } from "./room-versions.ts";
import { verifyEd25519, signingInput } from "./signing.ts";

export const MAX_PDU_BYTES = 65536;
export const MAX_ID_FIELD_BYTES = 255;
export const MAX_PREV_EVENTS = 20;
export const MAX_AUTH_EVENTS = 10;

const tooLarge = (msg: string) => new MatrixError("M_TOO_LARGE", 413, msg);

/** The path of the first number that canonical JSON forbids, if any. */
function findNonCanonicalNumber(v: JsonValue, path: string): string | undefined {
  if (typeof v === "number") return Number.isSafeInteger(v) ? undefined : path;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const p = findNonCanonicalNumber(v[i]!, `${path}[${i}]`);
      if (p) return p;
    }
  } else if (isJsonObject(v)) {
    for (const k of Object.keys(v)) {
      const p = findNonCanonicalNumber(v[k]!, path ? `${path}.${k}` : k);
      if (p) return p;
    }
  }
  return undefined;
}

function checkIdField(json: JsonObject, field: string, valid: (s: string) => boolean, what: string): void {
  const v = json[field];
  if (typeof v !== "string") throw badJson(`${field} must be a string`);
  if (utf8Length(v) > MAX_ID_FIELD_BYTES) throw tooLarge(`${field} is longer than ${MAX_ID_FIELD_BYTES} bytes`);
  if (!valid(v)) throw badJson(`${field} is not a valid ${what}: ${JSON.stringify(v)}`);
}

function checkReferences(json: JsonObject, field: string, max: number, rules: RoomVersionRules): void {
  const refs = json[field];
  if (!Array.isArray(refs)) throw badJson(`${field} must be an array`);
  if (refs.length > max) throw badJson(`${field} has ${refs.length} entries, more than ${max}`);
  const pairs = rules.eventFormat.referencesCarryHashes;
  refs.forEach((r, i) => {
    const id = pairs ? (Array.isArray(r) && r.length === 2 && isJsonObject(r[1]) ? r[0] : undefined) : r;
    if (typeof id !== "string") throw badJson(`${field}[${i}] must be ${pairs ? "an [event_id, {sha256}] pair" : "an event ID"}`);
    if (!isValidEventId(id, rules.eventFormat)) throw badJson(`${field}[${i}] is not a valid event ID: ${JSON.stringify(id)}`);
  });
}

function checkInteger(json: JsonObject, field: string, min: number): void {
  const v = json[field];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) {
    throw badJson(`${field} must be an integer${min === 0 ? " ≥ 0" : ""}`);
  }
}

/** The v12 create event is the one event without a room_id. */
const isV12Create = (json: JsonObject, rules: RoomVersionRules) =>
  rules.eventFormat.roomIdIsCreateEventHash && json.type === "m.room.create";

/**
 * Throws MatrixError (M_BAD_JSON, or M_TOO_LARGE for size limits) when the PDU is malformed
 * for its room version. `canonical`: the event's canonical JSON text when the caller has it
 * already (a builder that stores it), so it is not serialised twice.
 */
export function validatePduFormat(json: JsonObject, rules: RoomVersionRules, canonical?: string): void {
  if (rules.strictCanonicalJson) {
    const at = findNonCanonicalNumber(json, "");
    if (at !== undefined) throw badJson(`${at} is not an integer in ±(2^53−1), as canonical JSON requires`);
  }
  let size: number;
  try {
    size = canonical !== undefined ? utf8Length(canonical) : canonicalJsonBytes(json).length;
  } catch (e) {
    if (!(e instanceof CanonicalJsonError)) throw e;
    // Before v6 floats were tolerated; measure them as plain JSON.
    if (rules.strictCanonicalJson || /surrogate/.test(e.message)) throw badJson(`event is not valid canonical JSON: ${e.message}`);
    size = utf8Length(JSON.stringify(json));
  }
  if (size > MAX_PDU_BYTES) throw tooLarge(`event is ${size} bytes, more than ${MAX_PDU_BYTES}`);

  if (typeof json.type !== "string") throw badJson("type must be a string");
  if (utf8Length(json.type) > MAX_ID_FIELD_BYTES) throw tooLarge(`type is longer than ${MAX_ID_FIELD_BYTES} bytes`);
  if ("state_key" in json) {
    if (typeof json.state_key !== "string") throw badJson("state_key must be a string");
    if (utf8Length(json.state_key) > MAX_ID_FIELD_BYTES) throw tooLarge(`state_key is longer than ${MAX_ID_FIELD_BYTES} bytes`);
  }
  checkIdField(json, "sender", isValidUserId, "user ID");
  if (isV12Create(json, rules)) {
    if ("room_id" in json) throw badJson("a create event has no room_id since room version 12");
  } else {
    checkIdField(json, "room_id", (id) => isValidRoomId(id, rules.eventFormat), "room ID for this room version");
  }
  if (rules.eventFormat.eventIdFormat === "server-scoped") {
    checkIdField(json, "event_id", (id) => isValidEventId(id, rules.eventFormat), "event ID");
  }
  if (!isJsonObject(json.content)) throw badJson("content must be an object");
  checkInteger(json, "depth", 0);
  checkInteger(json, "origin_server_ts", Number.MIN_SAFE_INTEGER);
  checkReferences(json, "prev_events", MAX_PREV_EVENTS, rules);
  checkReferences(json, "auth_events", MAX_AUTH_EVENTS, rules);
  if (!isJsonObject(json.hashes) || typeof json.hashes.sha256 !== "string") throw badJson("hashes.sha256 must be a string");
  if (!isJsonObject(json.signatures) || !Object.values(json.signatures).every((s) => isJsonObject(s) && Object.values(s).every((x) => typeof x === "string"))) {
    throw badJson("signatures must map server names to key IDs to strings");
  }
  if ("unsigned" in json && !isJsonObject(json.unsigned)) throw badJson("unsigned must be an object");
  if (json.type === "m.room.redaction") {
    if (rules.redaction.keepRedactsInContent) {
      const r = json.content.redacts;
      if (typeof r !== "string" || !isValidEventId(r)) throw badJson("content.redacts must be an event ID since room version 11");
    } else checkIdField(json, "redacts", (id) => isValidEventId(id), "event ID");
  }
}

export interface ServerKey {
  /** Unpadded base64 Ed25519 public key. */
  key: string;
  /** Since v5 the key must be valid at the event's origin_server_ts. */
  validUntilTs?: number;
}

export type GetServerKey = (serverName: string, keyId: string) => Promise<ServerKey | undefined>;

export type HashAndSignatureResult = { ok: true; redactNeeded: boolean } | { ok: false; reason: string };

/**
 * The servers whose signatures an event needs: the sender's (except for an invite made
 * from a third-party invite), the event ID's in v1–v2, and since v8 the server of the
 * user named by `join_authorised_via_users_server` on a join.
 */
export function requiredSigningServers(json: JsonObject, rules: RoomVersionRules): Set<string> {
  const servers = new Set<string>();
  const content = isJsonObject(json.content) ? json.content : {};
  const add = (id: JsonValue | undefined) => {
    const s = typeof id === "string" ? serverNameOf(id) : undefined;
    if (s) servers.add(s);
  };
  const isThirdPartyInvite = json.type === "m.room.member" && content.membership === "invite" && "third_party_invite" in content;
  if (!isThirdPartyInvite) add(json.sender);
  if (rules.signatures.checkEventIdServer) add(json.event_id);
  if (rules.authorization.restrictedJoinRule && json.type === "m.room.member" && content.membership === "join") {
    add(content.join_authorised_via_users_server);
  }
  return servers;
}

/**
 * Verifies the required signatures (over the redacted event) and the content hash.
 * A bad signature rejects the event; a bad content hash only means the event must be
 * stored and served redacted (`redactNeeded`).
 */
export async function verifyPduHashesAndSignatures(
  json: JsonObject,
  rules: RoomVersionRules,
  getServerKey: GetServerKey,
): Promise<HashAndSignatureResult> {
  let signed: Uint8Array;
  try {
    signed = signingInput(redactEvent(json, rules));
  } catch (e) {
    return { ok: false, reason: `cannot serialise the redacted event: ${(e as Error).message}` };
  }
  const signatures = isJsonObject(json.signatures) ? json.signatures : {};
  const ts = typeof json.origin_server_ts === "number" ? json.origin_server_ts : 0;
  for (const server of requiredSigningServers(json, rules)) {
    const byServer = signatures[server];
    const keyIds = isJsonObject(byServer) ? Object.keys(byServer).filter((k) => k.startsWith("ed25519:")) : [];
    if (keyIds.length === 0) return { ok: false, reason: `no ed25519 signature from ${server}` };
    let verified = false;
    const problems: string[] = [];
    for (const keyId of keyIds) {
      const sig = (byServer as JsonObject)[keyId];
      const key = await getServerKey(server, keyId);
      if (!key) {
        problems.push(`${keyId}: key unknown`);
        continue;
      }
      if (rules.signatures.enforceKeyValidity && key.validUntilTs !== undefined && key.validUntilTs < ts) {
        problems.push(`${keyId}: key expired at ${key.validUntilTs}, before the event's origin_server_ts ${ts}`);
        continue;
      }
      if (typeof sig === "string" && (await verifyEd25519(key.key, signed, sig))) {
        verified = true;
        break;
      }
      problems.push(`${keyId}: bad signature`);
    }
    if (!verified) return { ok: false, reason: `no valid signature from ${server} (${problems.join("; ")})` };
  }
  let expected: string | undefined;
  try {
    expected = await computeContentHash(json);
  } catch {
    expected = undefined; // not reproducible (e.g. floats before v6): treat as a mismatch
  }
  const hashes = json.hashes;
  const actual = isJsonObject(hashes) ? hashes.sha256 : undefined;
  return { ok: true, redactNeeded: expected === undefined || actual !== expected };
}
