import { describe, expect, it } from "vitest";
import { checkAuthEventsList } from "../../../lib/auth/index.ts";
import type { JsonObject } from "../../../lib/json.ts";
import type { Pdu } from "../../../lib/pdu.ts";
import { roomVersionRules, type RoomVersionRules } from "../../../lib/room-versions.ts";

const v = (id: string): RoomVersionRules => roomVersionRules(id)!;

function ev(event_id: string, type: string, state_key: string | undefined, sender: string, content: JsonObject, room_id: string | undefined = "!r:x", auth_events: string[] = []): Pdu {
  const pdu: Pdu = { event_id, type, sender, content, origin_server_ts: 0, prev_events: [], auth_events };
  if (state_key !== undefined) pdu.state_key = state_key;
  if (room_id !== undefined) pdu.room_id = room_id;
  return pdu;
}

const create = ev("$create", "m.room.create", "", "@a:x", { creator: "@a:x" });
const pl = ev("$pl", "m.room.power_levels", "", "@a:x", { users: { "@a:x": 100 } });
const aMember = ev("$am", "m.room.member", "@a:x", "@a:x", { membership: "join" });
const bMember = ev("$bm", "m.room.member", "@b:x", "@b:x", { membership: "join" });
const joinRules = ev("$jr", "m.room.join_rules", "", "@a:x", { join_rule: "public" });
const all = [create, pl, aMember, bMember, joinRules];
const message = (auth: string[], room = "!r:x") => ev("$msg", "m.room.message", undefined, "@a:x", { body: "hi" }, room, auth);

describe("considering the event's auth_events (rooms/v11 rule 2, rooms/v12 rule 3)", () => {
  it("[auth: auth_events] a message citing create, power levels and its sender's membership passes", () => {
    expect(checkAuthEventsList(message(["$create", "$pl", "$am"]), all, v("11"))).toEqual({ allowed: true });
  });

  it("[auth: auth_events/duplicate] two entries for the same (type, state_key)", () => {
    const pl2 = ev("$pl2", "m.room.power_levels", "", "@a:x", {});
    expect(checkAuthEventsList(message(["$create", "$pl", "$pl2", "$am"]), [...all, pl2], v("11"))).toMatchObject({ allowed: false, rule: "auth_events/duplicate" });
  });

  it("[auth: auth_events/unexpected] an entry the selection algorithm does not pick (another user's membership)", () => {
    expect(checkAuthEventsList(message(["$create", "$pl", "$am", "$bm"]), all, v("11"))).toMatchObject({ allowed: false, rule: "auth_events/unexpected" });
  });

  it("[auth: auth_events/unexpected] join rules are not selected for a message", () => {
    expect(checkAuthEventsList(message(["$create", "$jr", "$am"]), all, v("11"))).toMatchObject({ allowed: false, rule: "auth_events/unexpected" });
  });

  it("[auth: auth_events/rejected] an auth event that was itself rejected", () => {
    const result = checkAuthEventsList(message(["$create", "$pl", "$am"]), all, v("11"), (id) => id === "$pl");
    expect(result).toMatchObject({ allowed: false, rule: "auth_events/rejected" });
  });

  it("[auth: auth_events/no-create] until v11 the create event must be among the auth events", () => {
    expect(checkAuthEventsList(message(["$pl", "$am"]), all, v("11"))).toMatchObject({ allowed: false, rule: "auth_events/no-create" });
    expect(checkAuthEventsList(message(["$pl", "$am"]), all, v("1"))).toMatchObject({ allowed: false, rule: "auth_events/no-create" });
  });

  it("[auth: auth_events/room_id] an auth event from another room", () => {
    const other = ev("$pl", "m.room.power_levels", "", "@a:x", {}, "!other:x");
    expect(checkAuthEventsList(message(["$create", "$pl", "$am"]), [create, other, aMember], v("11"))).toMatchObject({ allowed: false, rule: "auth_events/room_id" });
  });

  it("[auth: auth_events/missing] a cited auth event that is not available", () => {
    expect(checkAuthEventsList(message(["$create", "$nope"]), all, v("11"))).toMatchObject({ allowed: false, rule: "auth_events/missing" });
  });

  it("[auth: auth_events] the create event itself may cite nothing", () => {
    expect(checkAuthEventsList(create, all, v("11"))).toEqual({ allowed: true });
    const withAuth = { ...create, auth_events: ["$pl"] };
    expect(checkAuthEventsList(withAuth, all, v("11"))).toMatchObject({ allowed: false, rule: "auth_events/unexpected" });
  });

  describe("v12 (create event implied by the room ID)", () => {
    const create12 = ev("$create12", "m.room.create", "", "@a:x", {}, undefined);
    const room = "!create12";
    const pl12 = ev("$pl", "m.room.power_levels", "", "@a:x", {}, room);
    const am12 = ev("$am", "m.room.member", "@a:x", "@a:x", { membership: "join" }, room);
    const all12 = [create12, pl12, am12];

    it("[auth: auth_events v12] a message citing power levels and membership, not the create event, passes in v12", () => {
      expect(checkAuthEventsList(message(["$pl", "$am"], room), all12, v("12"))).toEqual({ allowed: true });
    });

    it("[auth: auth_events/create-listed] citing the create event is rejected in v12 but required in v11", () => {
      expect(checkAuthEventsList(message(["$create12", "$pl", "$am"], room), all12, v("12"))).toMatchObject({ allowed: false, rule: "auth_events/create-listed" });
      expect(checkAuthEventsList(message(["$pl", "$am"], room), all12, v("11"))).toMatchObject({ allowed: false, rule: "auth_events/no-create" });
    });
  });
});
