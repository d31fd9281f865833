/**
 * Event formats: the PDU on the wire (per room version) ⇄ the in-memory `Pdu`, and the
 * client-server `ClientEvent`.
 * https://spec.matrix.org/v1.19/server-server-api/#pdus (pdu_v1 … pdu_v12 schemas),
 * https://spec.matrix.org/v1.19/client-server-api/#room-event-format
 *
 * `Pdu` keeps every wire key (unknown keys too: they are covered by the hashes and
 * signatures), so `pduToWire(pduFromWire(w))` gives `w` back. The one loss is v1–v2
 * reference hashes, which the caller keeps with `referenceHashesOf`.
 */
import { badJson } from "./errors.ts";
import { computeEventId } from "./event-id.ts";
import { isJsonObject, type JsonObject, type JsonValue } from "./json.ts";
import type { EventHashes, Pdu } from "./pdu.ts";
import type { RoomVersionRules } from "./room-versions.ts";

const setKey = (o: JsonObject, k: string, v: JsonValue) =>
  Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });

/** Event IDs out of `prev_events`/`auth_events`: plain IDs (v3+) or `[id, {sha256}]` pairs (v1–v2). */
function referenceIds(value: JsonValue | undefined, field: string, pairs: boolean): string[] {
  if (!Array.isArray(value)) throw badJson(`${field} must be an array`);
  return value.map((item, i) => {
    const id = pairs ? (Array.isArray(item) && item.length === 2 && isJsonObject(item[1]) ? item[0] : undefined) : item;
    if (typeof id !== "string") {
      throw badJson(pairs ? `${field}[${i}] must be an [event_id, {sha256}] pair` : `${field}[${i}] must be an event ID string`);
    }
    return id;
  });
}

/** v1–v2: event ID → the hashes given beside it in `prev_events`/`auth_events`. */
export function referenceHashesOf(json: JsonObject): Record<string, Partial<EventHashes>> {
  const out: Record<string, Partial<EventHashes>> = Object.create(null);
  for (const field of ["prev_events", "auth_events"]) {
    const refs = json[field];
    if (!Array.isArray(refs)) continue;
    for (const r of refs) {
      if (Array.isArray(r) && typeof r[0] === "string" && isJsonObject(r[1])) out[r[0]] = r[1] as Partial<EventHashes>;
    }
  }
  return out;
}

/**
 * The in-memory form of a wire PDU. v1–v2: the event ID is the `event_id` field; v3+:
 * pass the ID the caller computed (see `parsePdu`); a stray `event_id` field is ignored.
 * Checks only what the `Pdu` type needs; full checks are in event-validation.ts.
 */
export function pduFromWire(json: JsonObject, rules: Pick<RoomVersionRules, "eventFormat">, eventId?: string): Pdu {
  const carried = rules.eventFormat.eventIdFormat === "server-scoped";
  const id = carried ? json.event_id : eventId;
  if (typeof id !== "string") throw badJson(carried ? "event_id must be a string" : "the event ID must be computed for this room version");
  for (const f of ["sender", "type"] as const) if (typeof json[f] !== "string") throw badJson(`${f} must be a string`);
  if (!isJsonObject(json.content)) throw badJson("content must be an object");
  if (typeof json.origin_server_ts !== "number") throw badJson("origin_server_ts must be an integer");
  if ("state_key" in json && typeof json.state_key !== "string") throw badJson("state_key must be a string");
  const pairs = rules.eventFormat.referencesCarryHashes;
  const out: JsonObject = {};
  for (const k of Object.keys(json)) if (k !== "event_id") setKey(out, k, json[k]!);
  out.event_id = id;
  out.prev_events = referenceIds(json.prev_events, "prev_events", pairs);
  out.auth_events = referenceIds(json.auth_events, "auth_events", pairs);
  return out as unknown as Pdu;
}

/** Wire JSON → Pdu, computing the event ID from the reference hash where the room version says so. */
export async function parsePdu(json: JsonObject, rules: RoomVersionRules): Promise<Pdu> {
  const eventId = rules.eventFormat.eventIdFormat === "server-scoped" ? undefined : await computeEventId(json, rules);
  return pduFromWire(json, rules, eventId);
}

export type ReferenceHashLookup = Record<string, Partial<EventHashes>> | ((eventId: string) => Partial<EventHashes> | undefined);

/**
 * The wire form of a Pdu. v3+: without `event_id`. v1–v2: with it, and references as
 * `[id, hashes]` pairs; hashes come from the lookup, `{}` when unknown (as servers
 * commonly send them; no server checks them).
 */
export function pduToWire(pdu: Pdu, rules: Pick<RoomVersionRules, "eventFormat">, referenceHashes: ReferenceHashLookup = {}): JsonObject {
  const carried = rules.eventFormat.eventIdFormat === "server-scoped";
  const src = pdu as unknown as Record<string, JsonValue | undefined>;
  const out: JsonObject = {};
  for (const k of Object.keys(src)) {
    const v = src[k];
    if (v === undefined || (k === "event_id" && !carried)) continue;
    setKey(out, k, v);
  }
  if (rules.eventFormat.referencesCarryHashes) {
    const lookup = typeof referenceHashes === "function" ? referenceHashes : (id: string) => referenceHashes[id];
    const pair = (id: string): JsonValue => [id, { ...(lookup(id) ?? {}) } as JsonObject];
    out.prev_events = pdu.prev_events.map(pair);
    out.auth_events = pdu.auth_events.map(pair);
  } else {
    out.prev_events = [...pdu.prev_events];
    out.auth_events = [...pdu.auth_events];
  }
  return out;
}

/** The event a redaction redacts: top-level `redacts` up to v10, `content.redacts` since v11. */
export function redactsOf(pdu: Pick<Pdu, "type" | "redacts" | "content">, rules: Pick<RoomVersionRules, "redaction">): string | undefined {
  if (pdu.type !== "m.room.redaction") return undefined;
  const r = rules.redaction.keepRedactsInContent ? pdu.content.redacts : pdu.redacts;
  return typeof r === "string" ? r : undefined;
}

/** The client-server ClientEvent (client_event.yaml). */
export interface ClientEvent {
  event_id: string;
  type: string;
  content: JsonObject;
  sender: string;
  origin_server_ts: number;
  room_id: string;
  state_key?: string;
  unsigned?: JsonObject;
  /** m.room.redaction only: mirrored from content in v11+, see clientEventFromPdu. */
  redacts?: string;
}

/** ClientEvent without room_id, as /sync uses (client_event_without_room_id.yaml). */
export type ClientEventWithoutRoomId = Omit<ClientEvent, "room_id">;

/**
 * The ClientEvent of a PDU. For m.room.redaction the redacted event ID is given both at
 * the top level and in content, whatever the room version: the spec asks servers to
 * copy content.redacts to the top level for v11+ and top-level redacts into content for
 * older versions, so clients of either era find it. A v12 create event has no room_id;
 * its room ID is implied by its event ID (`$h` → `!h`).
 */
export function clientEventFromPdu(pdu: Pdu): ClientEvent {
  const roomId = pdu.room_id ?? (pdu.type === "m.room.create" ? "!" + pdu.event_id.slice(1) : undefined);
  if (roomId === undefined) throw badJson(`event ${pdu.event_id} has no room_id`);
  const ev: ClientEvent = {
    event_id: pdu.event_id,
    type: pdu.type,
    content: pdu.content,
    sender: pdu.sender,
    origin_server_ts: pdu.origin_server_ts,
    room_id: roomId,
  };
  if (pdu.state_key !== undefined) ev.state_key = pdu.state_key;
  if (pdu.unsigned !== undefined) ev.unsigned = pdu.unsigned;
  if (pdu.type === "m.room.redaction") {
    const inContent = pdu.content.redacts;
    const redacts = typeof pdu.redacts === "string" ? pdu.redacts : typeof inContent === "string" ? inContent : undefined;
    if (redacts !== undefined) {
      ev.redacts = redacts;
      if (inContent === undefined) ev.content = { ...pdu.content, redacts };
    }
  }
  return ev;
}

