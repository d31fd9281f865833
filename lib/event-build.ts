/**
 * Building a new local event: wire JSON for the room version, content hash, signature
 * over the redacted form, then the event ID from the reference hash (which covers the
 * hash and the signature-free redacted event), in the spec's order.
 * https://spec.matrix.org/v1.19/server-server-api/#signing-events
 */
import { badJson } from "./errors.ts";
import { computeEventId, computeRoomIdForCreateEvent, generateServerScopedEventId } from "./event-id.ts";
import { pduFromWire, pduToWire, type ReferenceHashLookup } from "./event-format.ts";
import { validatePduFormat } from "./event-validation.ts";
import type { JsonObject } from "./json.ts";
import type { Pdu } from "./pdu.ts";
import type { RoomVersionRules } from "./room-versions.ts";
import { hashAndSignEvent, type Ed25519Key } from "./signing.ts";

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
  let wire = await hashAndSignEvent(unsignedWire, serverName, key, rules);
  if (input.unsigned !== undefined) wire = { ...wire, unsigned: input.unsigned };
  validatePduFormat(wire, rules);

  const eventId = await computeEventId(wire, rules);
  const roomId = definesRoomId ? await computeRoomIdForCreateEvent(wire, rules) : input.roomId!;
  return { pdu: pduFromWire(wire, rules, eventId), wire, roomId };
}
