/**
 * Building a new local event: wire JSON for the room version, content hash, signature
 * over the redacted form, then the event ID from the reference hash (which covers the
 * hash and the signature-free redacted event), in the spec's order.
 * https://spec.matrix.org/v1.19/server-server-api/#signing-events
 */
import { badJson } from "./errors.ts";
import { encodeBase64 } from "./base64.ts";
import { canonicalJson, CanonicalJsonError } from "./canonical-json.ts";
import { computeEventId, computeRoomIdForCreateEvent, eventIdFromReferenceHash, generateServerScopedEventId } from "./event-id.ts";
import { pduFromWire, pduToWire, type ReferenceHashLookup } from "./event-format.ts";
import { validatePduFormat } from "./event-validation.ts";
import type { JsonObject } from "./json.ts";
import type { Pdu } from "./pdu.ts";
import type { RoomVersionRules } from "./room-versions.ts";
import { computeContentHash, sha256 } from "./hashes.ts";
import { redactEvent } from "./redaction.ts";
import { signingInput, type Ed25519Key } from "./signing.ts";

export interface BuildEventInput {
  rules: RoomVersionRules;
  /** Required, except for a v12 create event (its room ID is derived from it). */
  roomId?: string;
  sender: string;
  type: string;
  stateKey?: string;
  content: JsonObject;
  prevEvents: string[];
  authEvents: string[];
  depth: number;
  originServerTs: number;
  /** The origin server; written as `origin` only up to v10, where redaction keeps it. */
  origin: string;
  /** m.room.redaction: top-level up to v10, `content.redacts` since v11. */
  redacts?: string;
  /** Local-only data (transaction ID, …); never hashed or signed. */
  unsigned?: JsonObject;
  /** v1–v2: hashes to write beside referenced event IDs (default `{}`). */
  referenceHashes?: ReferenceHashLookup;
}

export interface BuiltEvent {
  pdu: Pdu;
  /** The signed wire JSON, to store and send over federation. */
  wire: JsonObject;
  /** The room ID (for a v12 create event: the one it defines). */
  roomId: string;
  /** `wire` as canonical JSON text (what the room stores); absent when it has none (pre-v6 floats). */
  canonical?: string;
}

/** Builds, hashes and signs a local event. Throws MatrixError when the result is malformed or too large. */
export async function buildEvent(input: BuildEventInput, key: Ed25519Key, serverName: string): Promise<BuiltEvent> {
  const { rules } = input;
  const definesRoomId = rules.eventFormat.roomIdIsCreateEventHash && input.type === "m.room.create";
  if (definesRoomId && input.roomId !== undefined) throw badJson("a create event has no room_id since room version 12");
  if (!definesRoomId && input.roomId === undefined) throw badJson("roomId is required");

  const content: JsonObject = { ...input.content };
  const draft: Pdu = {
    event_id: "",
    sender: input.sender,
    type: input.type,
    content,
    origin_server_ts: input.originServerTs,
    depth: input.depth,
    prev_events: input.prevEvents,
    auth_events: input.authEvents,
  };
  if (input.roomId !== undefined) draft.room_id = input.roomId;
  if (input.stateKey !== undefined) draft.state_key = input.stateKey;
  if (input.redacts !== undefined) {
    if (rules.redaction.keepRedactsInContent) content.redacts = input.redacts;
    else draft.redacts = input.redacts;
  }
  const extra = draft as unknown as JsonObject;
  if (!rules.redaction.dropOriginMembershipPrevState) extra.origin = input.origin;
  if (rules.eventFormat.eventIdFormat === "server-scoped") draft.event_id = generateServerScopedEventId(serverName);

  const unsignedWire = pduToWire(draft, rules, input.referenceHashes);
  const hashed: JsonObject = { ...unsignedWire, hashes: { sha256: await computeContentHash(unsignedWire) } };
  // The signature covers the redacted event without `signatures` and `unsigned`, and the
  // reference hash (the event ID since v3) is taken over exactly those bytes: make them once.
  const redactedBytes = signingInput(redactEvent(hashed, rules));
  let wire: JsonObject = { ...hashed, signatures: { [serverName]: { [key.keyId]: encodeBase64(await key.sign(redactedBytes)) } } };
  if (input.unsigned !== undefined) wire = { ...wire, unsigned: input.unsigned };
  let canonical: string | undefined;
  try {
    canonical = canonicalJson(wire);
  } catch (e) {
    if (!(e instanceof CanonicalJsonError)) throw e; // validatePduFormat says what is wrong
  }
  validatePduFormat(wire, rules, canonical);

  const eventId = eventIdFromReferenceHash(await sha256(redactedBytes), rules) ?? (await computeEventId(wire, rules));
  const roomId = definesRoomId ? await computeRoomIdForCreateEvent(wire, rules) : input.roomId!;
  return { pdu: pduFromWire(wire, rules, eventId), wire, roomId, canonical };
}
