/**
 * The persistent data unit (PDU): a room event as servers sign, hash and store it.
 * https://spec.matrix.org/v1.19/server-server-api/#pdus and the room version pages.
 */
import type { JsonObject } from "./json.ts";

/** `{ "sha256": "<unpadded base64>" }` */
export interface EventHashes {
  sha256: string;
  [alg: string]: string;
}

/** server name → key ID → unpadded base64 signature */
export type Signatures = Record<string, Record<string, string>>;

/** v1–v2 event reference: `[event_id, { sha256 }]`. */
export type EventReferenceV1 = [string, Partial<EventHashes>];

/**
 * A PDU in the form of room versions 3 and later (IDs are references, the event ID is
 * derived from the reference hash and not carried). v1–v2 PDUs also carry `event_id`
 * and reference pairs; `normalizePdu` in event-format.ts turns both into `Pdu`.
 */
export interface PduWire extends JsonObject {
  // index signature from JsonObject keeps unknown top-level keys (they are hashed and signed)
}

/** The fields every PDU has, in the shape lib code works with. */
export interface Pdu {
  /** Always present in memory: derived (v3+) or carried (v1–v2). */
  event_id: string;
  /** Absent on a v12 create event. */
  room_id?: string;
  sender: string;
  type: string;
  state_key?: string;
  content: JsonObject;
  origin_server_ts: number;
  depth?: number;
  prev_events: string[];
  auth_events: string[];
  /** Top-level in v1–v10 redactions; in content since v11. */
  redacts?: string;
  hashes?: EventHashes;
  signatures?: Signatures;
  unsigned?: JsonObject;
}

/** `(type, state_key)` as one map key. */
export type StateKey = string;

export function stateKey(type: string, key: string): StateKey {
  // NUL cannot occur in a valid event type, so the pair is unambiguous.
  return `${type}\u0000${key}`;
}

export function splitStateKey(k: StateKey): [type: string, stateKey: string] {
  const i = k.indexOf("\u0000");
  return [k.slice(0, i), k.slice(i + 1)];
}

/** A state map: (type, state_key) → event ID. */
export type StateMap = Map<StateKey, string>;

export function isStateEvent(e: Pick<Pdu, "state_key">): boolean {
  return typeof e.state_key === "string";
}
