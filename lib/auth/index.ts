/**
 * The authorization rules of https://spec.matrix.org/v1.19/rooms/ (v1–v12), in their spec
 * order. Comments cite rule numbers; where versions number them differently the v12 number
 * is used after rule 2 (v12 inserts a rule 2, v6 removes rule 4, so "rule 8" here is v1's 8,
 * v6's 7 and v12's 8).
 *
 * The state passed in must include the m.room.create event in every room version: in v12
 * it is not among an event's auth_events (the room ID names it), so callers building state
 * from auth_events add it themselves.
 *
 * Not checked here, because they need signatures or knowledge the state does not hold:
 * signatures (including v8+ rule 5.2, join_authorised_via_users_server's server signature),
 * whether the create event or an auth event was rejected (see checkAuthEventsList), and
 * the event format (checked before authorization).
 */
import type { Pdu } from "../pdu.ts";
import type { RoomVersionRules } from "../room-versions.ts";
import { checkCreateEvent, roomCreators, roomIdOfCreateEvent } from "./create.ts";
import { domainOf, isValidUserId } from "./ids.ts";
import { checkMemberEvent } from "./membership.ts";
import { checkPowerLevelsEvent, levelSyntax, readPowerLevels } from "./power-levels.ts";
import { checkRedactionV1 } from "./redaction.ts";
import { ALLOW, membershipOf, reject, type AuthResult, type AuthState } from "./types.ts";

export type { AuthResult, AuthState } from "./types.ts";
export { authEventTypes } from "./select-auth-events.ts";
export { checkAuthEventsList } from "./auth-events-list.ts";
export { roomCreators, roomIdOfCreateEvent } from "./create.ts";
export { levelSyntax, parseLevel, readPowerLevels, type LevelSyntax, type PowerLevels } from "./power-levels.ts";

/** Authorization rules of https://spec.matrix.org/v1.19/rooms/ (per version) against `state`. Pure and synchronous. */
export function authorizeEvent(event: Pdu, state: AuthState, rules: RoomVersionRules): AuthResult {
  const auth = rules.authorization;
  // Event format: every rule below reads the sender's user ID (and v12 1.4 refers to it).
  if (!isValidUserId(event.sender)) return reject("event/sender", `sender ${JSON.stringify(event.sender)} is not a valid user ID`);

  // 1
  if (event.type === "m.room.create") return checkCreateEvent(event, auth, rules.eventFormat);

  const create = state.get("m.room.create", "");
  if (!create) return reject("event/no-create", "there is no m.room.create event in the state");
  if (rules.eventFormat.roomIdIsCreateEventHash) {
    // v12 rule 2
    if (event.room_id !== roomIdOfCreateEvent(create)) {
      return reject("event/room_id-create", "the room_id is not the m.room.create event's ID with the sigil !");
    }
  } else if (create.room_id !== event.room_id) {
    // v1–v11 2.5, for the create event the state provides
    return reject("event/room_id", "the m.room.create event belongs to another room");
  }

  // 3 (v12: 4)
  if (create.content["m.federate"] === false && domainOf(event.sender) !== domainOf(create.sender)) {
    return reject("event/federate", "the room is not federated and the sender is on another server than the creator");
  }

  // 4, v1–v5 only
  if (auth.specialCaseAliasesAuth && event.type === "m.room.aliases") {
    if (event.state_key === undefined) return reject("aliases/state_key", "m.room.aliases has no state_key");
    if (event.state_key !== domainOf(event.sender)) return reject("aliases/sender-domain", "the state_key is not the sender's domain");
    return ALLOW;
  }

  const creators = roomCreators(create, auth);
  const syntax = levelSyntax(auth, rules.strictCanonicalJson);
  const powerLevelsEvent = state.get("m.room.power_levels", "");
  const levels = readPowerLevels(powerLevelsEvent, creators, auth, syntax);

  // 5
  if (event.type === "m.room.member") return checkMemberEvent(event, { state, create, levels, auth });

  // 6
  if (membershipOf(state, event.sender) !== "join") return reject("event/sender-not-joined", "the sender is not joined to the room");

  const senderLevel = levels.user(event.sender);
  // 7
  if (event.type === "m.room.third_party_invite") {
    if (senderLevel >= levels.invite) return ALLOW;
    return reject("third_party_invite/power", "the sender's power level is below the invite level");
  }

  // 8
  const required = levels.required(event.type, event.state_key !== undefined);
  if (required > senderLevel) {
    return reject("event/send-power", `sending ${event.type} needs power level ${required}; the sender has ${senderLevel}`);
  }

  // 9: state keyed by a user ID belongs to that user.
  if (event.state_key?.startsWith("@") && event.state_key !== event.sender) {
    return reject("event/state_key-user", "the state_key is another user's ID");
  }

  // 10
  if (event.type === "m.room.power_levels") {
    return checkPowerLevelsEvent(event, powerLevelsEvent, senderLevel, creators, auth, syntax);
  }

  // 11, v1–v2 only
  if (auth.redactionEventIdDomainRule && event.type === "m.room.redaction") return checkRedactionV1(event, levels);

  return ALLOW;
}
