/**
 * Rule 1 (m.room.create) and who the room's creators are.
 * https://spec.matrix.org/v1.19/rooms/v1/#authorization-rules (rule 1), v11 (no `creator`),
 * v12 (no room_id; `additional_creators`).
 */
import type { Pdu } from "../pdu.ts";
import { roomVersionRules } from "../room-versions.ts";
import type { AuthorizationRules, EventFormatRules } from "../room-versions.ts";
import { domainOf, isValidUserId } from "./ids.ts";
import { ALLOW, reject, type AuthResult } from "./types.ts";

/** Rule 1: the create event itself (it has no auth events and no prior state). */
export function checkCreateEvent(event: Pdu, auth: AuthorizationRules, format: EventFormatRules): AuthResult {
  // The create event is the room's only `m.room.create` state, keyed by the empty state key.
  if (event.state_key !== "") return reject("create/state_key", "m.room.create must have an empty state_key");
  // 1.1
  if (event.prev_events.length > 0) return reject("create/prev_events", "m.room.create must not have prev_events");
  if (format.roomIdIsCreateEventHash) {
    // v12 1.2: the room ID is derived from this event's ID, so the event cannot carry one.
    if (event.room_id !== undefined) return reject("create/room_id-present", "m.room.create must not have a room_id in this room version");
  } else {
    // v1–v11 1.2
    const roomDomain = domainOf(event.room_id);
    if (roomDomain === undefined || roomDomain !== domainOf(event.sender)) {
      return reject("create/room_id-domain", "the domain of the room_id does not match the domain of the sender");
    }
  }
  // 1.3
  const version = event.content.room_version;
  if (version !== undefined && (typeof version !== "string" || roomVersionRules(version) === undefined)) {
    return reject("create/room_version", `content.room_version ${JSON.stringify(version)} is not a recognised room version`);
  }
  // v1–v10 1.4: `creator` names the creator; since v11 the sender does.
  if (!auth.useRoomCreateSender && event.content.creator === undefined) {
    return reject("create/creator", "content has no creator property");
  }
  // v12 1.4
  if (auth.creatorsHaveInfinitePower) {
    const extra = event.content.additional_creators;
    if (extra !== undefined && !(Array.isArray(extra) && extra.every((u) => isValidUserId(u)))) {
      return reject("create/additional_creators", "additional_creators must be an array of valid user IDs");
    }
  }
  return ALLOW;
}

/**
 * The users the create event names as creators: `content.creator` (v1–v10), the sender (v11),
 * the sender plus `content.additional_creators` (since v12).
 */
export function roomCreators(create: Pdu, auth: AuthorizationRules): Set<string> {
  const creators = new Set<string>();
  if (auth.useRoomCreateSender) {
    creators.add(create.sender);
  } else if (typeof create.content.creator === "string") {
    creators.add(create.content.creator);
  }
  if (auth.creatorsHaveInfinitePower) {
    const extra = create.content.additional_creators;
    if (Array.isArray(extra)) for (const u of extra) if (typeof u === "string") creators.add(u);
  }
  return creators;
}

/** v12 rule 2: the room ID is the create event's ID with the sigil `!` instead of `$`. */
export function roomIdOfCreateEvent(create: Pick<Pdu, "event_id">): string {
  return "!" + create.event_id.slice(1);
}
