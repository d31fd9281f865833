/**
 * Sending events (messages, state, redactions) as write intents, and the reads this part
 * of the room serves: full state, one state event, one event — each as ClientEvents, with
 * redacted events served in their redacted form (the original is kept).
 * https://spec.matrix.org/v1.19/client-server-api/#sending-events-to-a-room,
 * .../#getting-events-for-a-room, .../#redactions
 */
import { canonicalJson } from "../../lib/canonical-json.ts";
import { forbidden, notFound } from "../../lib/errors.ts";
import { clientEventFromPdu, type ClientEvent } from "../../lib/event-format.ts";
import type { JsonObject } from "../../lib/json.ts";
import { stateKey, type StateMap } from "../../lib/pdu.ts";
import type { RoomVersionRules } from "../../lib/room-versions.ts";
import { powerLevelsIn } from "./membership.ts";
import type { RoomStore, StoredEvent } from "./store.ts";
import type { Intent, RoomHead } from "./write-path.ts";

export function messageIntent(sender: string, deviceId: string, type: string, content: JsonObject, txnId: string): Intent {
  return { sender, type, content, txn: { deviceId, txnId } };
}

/** A state event; the same content from the same sender as the current one is not sent again. */
export function stateIntent(sender: string, type: string, key: string, content: JsonObject): Intent {
  return {
    sender,
    type,
    stateKey: key,
    content,
    prepare(state) {
      const current = state.get(type, key);
      if (current && current.sender === sender && canonicalJson(current.content) === canonicalJson(content)) {
        return { existing: current.event_id };
      }
    },
  };
}

/**
 * A redaction. Since v3 the auth rules leave "may this user redact that event" to the
 * server applying it: the sender of the original may, others need the redact level.
 */
export function redactionIntent(
  o: { sender: string; deviceId: string; target: string; reason?: string; txnId: string },
  store: RoomStore,
  rules: RoomVersionRules,
): Intent {
  const content: JsonObject = o.reason === undefined ? {} : { reason: o.reason };
  return {
    sender: o.sender,
    type: "m.room.redaction",
    content,
    redacts: o.target,
    txn: { deviceId: o.deviceId, txnId: o.txnId },
    prepare(state) {
      const target = store.event(o.target);
      if (!target) throw notFound(`event ${o.target} is not in this room`);
      if (target.sender !== o.sender) {
        const levels = powerLevelsIn(state, rules);
        if (levels.user(o.sender) < levels.redact) {
          throw forbidden(`redacting another user's event needs power level ${levels.redact}`);
        }
      }
    },
  };
}

/** Who is reading, for unsigned.transaction_id (only the sending device sees it). */
export interface Reader {
  userId: string;
  deviceId?: string;
}

/** The ClientEvent of a stored event: redacted form if redacted, with unsigned age, redacted_because, transaction_id. */
export function toClientEvent(ev: StoredEvent, store: RoomStore, reader: Reader | undefined, now = Date.now()): ClientEvent {
  const out = clientEventFromPdu(ev.pdu);
  const unsigned: JsonObject = { age: Math.max(0, now - ev.pdu.origin_server_ts) };
  if (ev.redactedBy) {
    const by = store.event(ev.redactedBy);
    if (by) unsigned.redacted_because = clientEventFromPdu(by.pdu) as unknown as JsonObject;
  }
  if (ev.txn && reader && reader.userId === ev.sender && reader.deviceId === ev.txn.deviceId) {
    unsigned.transaction_id = ev.txn.txnId;
  }
  out.unsigned = unsigned;
  return out;
}

/**
 * The state a requester may read: joined → the current state; left or banned → the
 * state when that happened; otherwise (invited, knocking, never joined) none, unless the
 * room is world_readable. History visibility in full is the read paths' concern.
 */
export function readableState(userId: string, head: RoomHead, store: RoomStore): StateMap {
  const memberId = head.state.get(stateKey("m.room.member", userId));
  const own = memberId === undefined ? undefined : store.event(memberId);
  const membership = own?.pdu.content.membership;
  if (membership === "join") return head.state;
  if (own && (membership === "leave" || membership === "ban")) {
    return store.stateAt(own.stateBefore).set(stateKey("m.room.member", userId), own.pdu.event_id);
  }
  if (worldReadable(head.state, store)) return head.state;
  throw forbidden("you are not a member of this room");
}

function worldReadable(state: StateMap, store: RoomStore): boolean {
  const id = state.get(stateKey("m.room.history_visibility", ""));
  return id !== undefined && store.event(id)?.pdu.content.history_visibility === "world_readable";
}

export function stateEvents(state: StateMap, store: RoomStore, reader: Reader): ClientEvent[] {
  const out: ClientEvent[] = [];
  for (const id of state.values()) {
    const ev = store.event(id);
    if (ev) out.push(toClientEvent(ev, store, reader));
  }
  return out;
}

export function stateEventAt(state: StateMap, store: RoomStore, type: string, key: string): StoredEvent {
  const id = state.get(stateKey(type, key));
  const ev = id === undefined ? undefined : store.event(id);
  if (!ev) throw notFound(`no ${type} state with key ${JSON.stringify(key)} in this room`);
  return ev;
}

/**
 * Whether `userId` may see the event: joined now, joined when it was sent (the state
 * before it, or the event is their own join), or the room is world_readable.
 */
export function maySeeEvent(userId: string, ev: StoredEvent, head: RoomHead, store: RoomStore): boolean {
  const k = stateKey("m.room.member", userId);
  const now = head.state.get(k);
  if (now !== undefined && store.event(now)?.pdu.content.membership === "join") return true;
  if (ev.pdu.type === "m.room.member" && ev.pdu.state_key === userId) return true;
  const then = store.stateAt(ev.stateBefore).get(k);
  if (then !== undefined && store.event(then)?.pdu.content.membership === "join") return true;
  return worldReadable(head.state, store);
}

