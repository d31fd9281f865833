/**
 * Event IDs and (since v12) room IDs.
 * v1–v2: `$opaque:server`, chosen by the sender and carried in the event
 *   (https://spec.matrix.org/v1.19/rooms/v1/#event-ids);
 * v3: `$` + standard unpadded base64 of the reference hash (https://spec.matrix.org/v1.19/rooms/v3/#event-ids);
 * v4+: `$` + URL-safe unpadded base64 of it (https://spec.matrix.org/v1.19/rooms/v4/#event-ids);
 * v12: the room ID is `!` + URL-safe reference hash of the create event, which has no room_id.
 */
import { encodeBase64, encodeBase64Url } from "./base64.ts";
import { computeReferenceHash } from "./hashes.ts";
import type { JsonObject } from "./json.ts";
import type { RoomVersionRules } from "./room-versions.ts";

type IdRules = Pick<RoomVersionRules, "eventFormat" | "redaction">;

export class EventIdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EventIdError";
  }
}

/** The event ID of a wire-format event: derived from its reference hash (v3+) or carried (v1–v2). */
export async function computeEventId(eventJson: JsonObject, rules: IdRules): Promise<string> {
  switch (rules.eventFormat.eventIdFormat) {
    case "server-scoped": {
      const id = eventJson.event_id;
      if (typeof id !== "string") throw new EventIdError("v1–v2 events carry their event_id, and this one has none");
      return id;
    }
    case "reference-hash-base64":
      return "$" + encodeBase64(await computeReferenceHash(eventJson, rules.redaction));
    case "reference-hash-urlsafe":
      return "$" + encodeBase64Url(await computeReferenceHash(eventJson, rules.redaction));
  }
}

/**
 * The event ID (v3+) from a reference hash already computed — for a builder that hashed
 * the redacted event's bytes once for both its signature and its ID. Undefined for v1–v2.
 */
export function eventIdFromReferenceHash(hash: Uint8Array, rules: IdRules): string | undefined {
  switch (rules.eventFormat.eventIdFormat) {
    case "server-scoped":
      return undefined;
    case "reference-hash-base64":
      return "$" + encodeBase64(hash);
    case "reference-hash-urlsafe":
      return "$" + encodeBase64Url(hash);
  }
}

/** A fresh `$opaque:server` event ID for v1–v2 rooms (18 random URL-safe characters, as common servers use). */
export function generateServerScopedEventId(serverName: string): string {
  const random = encodeBase64Url(crypto.getRandomValues(new Uint8Array(14))).slice(0, 18);
  return `$${random}:${serverName}`;
}

/** Since v12: the room ID a create event defines, `!` + URL-safe reference hash. */
export async function computeRoomIdForCreateEvent(createEventJson: JsonObject, rules: IdRules): Promise<string> {
  if (!rules.eventFormat.roomIdIsCreateEventHash) {
    throw new EventIdError("room IDs are derived from the create event only since room version 12");
  }
  if ("room_id" in createEventJson) throw new EventIdError("a v12 create event must not have a room_id");
  return "!" + encodeBase64Url(await computeReferenceHash(createEventJson, rules.redaction));
}

/** Since v12: the create event's ID implied by a room ID (`!h` → `$h`), or undefined for older room IDs. */
export function createEventIdFromRoomId(roomId: string, rules: Pick<RoomVersionRules, "eventFormat">): string | undefined {
  if (!rules.eventFormat.roomIdIsCreateEventHash || !roomId.startsWith("!")) return undefined;
  return "$" + roomId.slice(1);
}

/** Since v12: the room ID of a create event with this ID (`$h` → `!h`). */
export function roomIdFromCreateEventId(eventId: string, rules: Pick<RoomVersionRules, "eventFormat">): string | undefined {
  if (!rules.eventFormat.roomIdIsCreateEventHash || !eventId.startsWith("$")) return undefined;
  return "!" + eventId.slice(1);
}
