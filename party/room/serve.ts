/**
 * One stored event as a reader receives it: the ClientEvent with the `unsigned` data the
 * spec defines. https://spec.matrix.org/v1.19/client-server-api/#room-event-format
 *
 *   age               now − origin_server_ts
 *   membership        the reader's membership at the event
 *   prev_content      for a state event, the content it replaced
 *   redacted_because  for a redacted event (served in redacted form), the redaction
 *   transaction_id    only to the device that sent it
 * Bundled aggregations (`m.relations`) are added by relations.ts.
 */
import { clientEventFromPdu, type ClientEvent } from "../../lib/event-format.ts";
import type { JsonObject } from "../../lib/json.ts";
import type { StoredEvent } from "./store.ts";
import { stateContentAt, type ReadRoom, type Viewer } from "./visibility.ts";

/** The device reading, for `transaction_id`. */
export interface ReaderDevice {
  deviceId?: string;
}

export function clientEventFor(room: ReadRoom, viewer: Viewer, device: ReaderDevice, ev: StoredEvent, now = Date.now()): ClientEvent {
  const out = clientEventFromPdu(ev.pdu);
  const unsigned: JsonObject = { age: Math.max(0, now - ev.pdu.origin_server_ts), membership: viewer.membershipAt(ev) };
  if (ev.pdu.state_key !== undefined) {
    const prev = stateContentAt(room, ev.stateBefore, ev.pdu.type, ev.pdu.state_key);
    if (prev) unsigned.prev_content = prev.content;
  }
  if (ev.redactedBy) {
    const by = room.store.event(ev.redactedBy);
    if (by) unsigned.redacted_because = clientEventFromPdu(by.pdu) as unknown as JsonObject;
  }
  if (ev.txn && viewer.userId === ev.sender && device.deviceId !== undefined && device.deviceId === ev.txn.deviceId) {
    unsigned.transaction_id = ev.txn.txnId;
  }
  out.unsigned = unsigned;
  return out;
}
