/** Small hand-built event graphs for the state-res unit tests. */
import type { EventStore } from "../../../lib/auth-chain.ts";
import type { JsonObject } from "../../../lib/json.ts";
import type { Pdu } from "../../../lib/pdu.ts";

export function ev(
  event_id: string,
  auth_events: string[],
  extra: Partial<Omit<Pdu, "event_id" | "auth_events">> & { content?: JsonObject } = {},
): Pdu {
  return {
    event_id,
    room_id: "!room:example.com",
    sender: "@alice:example.com",
    type: "m.room.topic",
    state_key: "",
    content: {},
    origin_server_ts: 0,
    prev_events: [],
    auth_events,
    ...extra,
  };
}

/** A store that counts getEvent calls, to catch accidental re-walks. */
export function storeOf(events: Pdu[]): EventStore & { reads: number } {
  const byId = new Map(events.map((e) => [e.event_id, e]));
  const store = {
    reads: 0,
    getEvent(id: string) {
      store.reads++;
      return byId.get(id);
    },
  };
  return store;
}
