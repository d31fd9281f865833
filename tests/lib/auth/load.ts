/**
 * Test helpers: turn wire-form events (v1–v2 reference pairs, optional fields missing) into
 * `Pdu`, and build an AuthState from a list of state events.
 */
import type { JsonObject, JsonValue } from "../../../lib/json.ts";
import type { Pdu } from "../../../lib/pdu.ts";
import type { AuthState } from "../../../lib/auth/index.ts";

/** `[["$e1", {}]]` (v1–v2) or `["$e1"]` → `["$e1"]`. */
function refIds(refs: JsonValue | undefined): string[] {
  if (!Array.isArray(refs)) return [];
  return refs.map((r) => (Array.isArray(r) ? String(r[0]) : String(r)));
}

export function toPdu(wire: JsonObject): Pdu {
  const pdu: Pdu = {
    event_id: String(wire.event_id),
    sender: wire.sender as string,
    type: wire.type as string,
    content: (wire.content ?? {}) as JsonObject,
    origin_server_ts: typeof wire.origin_server_ts === "number" ? wire.origin_server_ts : 0,
    prev_events: refIds(wire.prev_events),
    auth_events: refIds(wire.auth_events),
  };
  if (typeof wire.room_id === "string") pdu.room_id = wire.room_id;
  if (typeof wire.state_key === "string") pdu.state_key = wire.state_key;
  if (typeof wire.redacts === "string") pdu.redacts = wire.redacts;
  if (typeof wire.depth === "number") pdu.depth = wire.depth;
  return pdu;
}

/** State keyed by (type, state_key), as the rules read it. */
export function stateOf(entries: Array<[type: string, stateKey: string, event: Pdu]>): AuthState {
  const map = new Map(entries.map(([t, k, e]) => [`${t}\u0000${k}`, e]));
  return { get: (type, stateKey) => map.get(`${type}\u0000${stateKey}`) };
}
