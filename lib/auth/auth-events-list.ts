/**
 * Rule 2 (v1–v11) / 3 (v12), "considering the event's auth_events": checks on the list of
 * auth events itself, before the event is authorized against them.
 * https://spec.matrix.org/v1.19/rooms/v11/#authorization-rules, v12 (create not listed).
 */
import type { Pdu } from "../pdu.ts";
import type { RoomVersionRules } from "../room-versions.ts";
import { authEventTypes } from "./select-auth-events.ts";
import { ALLOW, reject, type AuthResult } from "./types.ts";

/**
 * `authEvents` are the events the event's `auth_events` IDs name (extra events are ignored).
 * A listed ID with no event here cannot be checked and is rejected as missing. `isRejected`
 * says whether an auth event was itself rejected (rule 2.3); without it none are.
 */
export function checkAuthEventsList(
  event: Pdu,
  authEvents: Pdu[],
  rules: RoomVersionRules,
  isRejected: (eventId: string) => boolean = () => false,
): AuthResult {
  const byId = new Map(authEvents.map((e) => [e.event_id, e]));
  const expected = new Set(authEventTypes(event, rules).map(([t, k]) => `${t}\u0000${k}`));
  const seen = new Set<string>();
  let hasCreate = false;
  for (const id of event.auth_events) {
    const ev = byId.get(id);
    if (!ev) return reject("auth_events/missing", `auth event ${id} is not available`);
    // In v12 the create event (no state_key needed to recognise it) must not be listed.
    if (ev.type === "m.room.create" && rules.authorization.createEventNotInAuthEvents) {
      return reject("auth_events/create-listed", "the m.room.create event must not be in auth_events in this room version");
    }
    if (ev.state_key === undefined) return reject("auth_events/unexpected", `auth event ${id} is not a state event`);
    const key = `${ev.type}\u0000${ev.state_key}`;
    // 2.1
    if (seen.has(key)) return reject("auth_events/duplicate", `more than one auth event for (${ev.type}, ${ev.state_key})`);
    seen.add(key);
    // 2.2
    if (!expected.has(key)) return reject("auth_events/unexpected", `(${ev.type}, ${ev.state_key}) is not selected as an auth event for this event`);
    // 2.3
    if (isRejected(id)) return reject("auth_events/rejected", `auth event ${id} was rejected`);
    // 2.5 (v1–v11), 3.5 (v12)
    if (ev.room_id !== event.room_id) return reject("auth_events/room_id", `auth event ${id} belongs to another room`);
    if (ev.type === "m.room.create") hasCreate = true;
  }
  // 2.4 (v1–v11): every event but the create event cites it.
  if (!rules.authorization.createEventNotInAuthEvents && event.type !== "m.room.create" && !hasCreate) {
    return reject("auth_events/no-create", "auth_events has no m.room.create event");
  }
  return ALLOW;
}
