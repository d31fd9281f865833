/**
 * The auth events selection algorithm: which state a new event cites as its auth_events.
 * https://spec.matrix.org/v1.19/server-server-api/#auth-events-selection
 */
import type { Pdu } from "../pdu.ts";
import type { RoomVersionRules } from "../room-versions.ts";
import { isJsonObject } from "../json.ts";

/** The (type, state_key) pairs a new event needs as auth_events, without duplicates. */
export function authEventTypes(
  event: Pick<Pdu, "type" | "sender" | "state_key" | "content">,
  rules: RoomVersionRules,
): Array<[type: string, stateKey: string]> {
  // The create event has no auth events.
  if (event.type === "m.room.create") return [];
  const out: Array<[string, string]> = [];
  const seen = new Set<string>();
  const add = (type: string, stateKey: string) => {
    const k = `${type}\u0000${stateKey}`;
    if (!seen.has(k)) {
      seen.add(k);
      out.push([type, stateKey]);
    }
  };
  // Since v12 the room ID stands for the create event, which is never listed.
  if (!rules.authorization.createEventNotInAuthEvents) add("m.room.create", "");
  add("m.room.power_levels", "");
  add("m.room.member", event.sender);
  if (event.type === "m.room.member" && typeof event.state_key === "string") {
    const { content } = event;
    const membership = content.membership;
    add("m.room.member", event.state_key);
    if (membership === "join" || membership === "invite" || membership === "knock") add("m.room.join_rules", "");
    if (membership === "invite" && isJsonObject(content.third_party_invite)) {
      const signed = content.third_party_invite.signed;
      if (isJsonObject(signed) && typeof signed.token === "string") add("m.room.third_party_invite", signed.token);
    }
    const via = content.join_authorised_via_users_server;
    if (membership === "join" && typeof via === "string" && rules.authorization.restrictedJoinRule) add("m.room.member", via);
  }
  return out;
}
