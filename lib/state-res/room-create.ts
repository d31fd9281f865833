/**
 * Finding a room's m.room.create event from one of its events. Before room version 12 it is
 * one of the event's auth_events; since v12 it is never listed there and its ID is implied by
 * the room ID (`!` + hash ⇒ `$` + hash).
 */
import type { EventStore } from "../auth-chain.ts";
import type { Pdu } from "../pdu.ts";
import type { RoomVersionRules } from "../room-versions.ts";

/** Since v12: the create event's ID, from a room ID of the form `!<reference hash>`. */
export function createEventIdFromRoomId(roomId: string): string | undefined {
  return roomId.startsWith("!") && roomId.length > 1 ? `$${roomId.slice(1)}` : undefined;
}

export function isCreateEvent(e: Pdu): boolean {
  return e.type === "m.room.create" && e.state_key === "";
}

/** The create event of `event`'s room, if the store has it. */
export function roomCreateEventOf(event: Pdu, store: EventStore, rules: RoomVersionRules): Pdu | undefined {
  if (isCreateEvent(event)) return event;
  if (rules.authorization.createEventNotInAuthEvents) {
    const id = event.room_id === undefined ? undefined : createEventIdFromRoomId(event.room_id);
    const create = id === undefined ? undefined : store.getEvent(id);
    return create && isCreateEvent(create) ? create : undefined;
  }
  for (const a of event.auth_events) {
    const ev = store.getEvent(a);
    if (ev && isCreateEvent(ev)) return ev;
  }
  return undefined;
}
