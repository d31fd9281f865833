// Room upgrade plans: what transfers, the predecessor, creators, power levels raised and
// restored, every planned event passing the new version's auth rules, the tombstone and
// the old room's restricted power levels.
// https://spec.matrix.org/v1.19/client-server-api/#room-upgrades
import { describe, expect, it } from "vitest";
import { authorizeEvent } from "../../lib/auth/index.ts";
import { MatrixError } from "../../lib/errors.ts";
import type { JsonObject } from "../../lib/json.ts";
import type { Pdu } from "../../lib/pdu.ts";
import type { RoomCreationPlan, StateTemplate } from "../../lib/room-create.ts";
import { parseUpgradeRequest, planRoomUpgrade, restrictedPowerLevels, tombstoneContent, type OldRoom } from "../../lib/room-upgrade.ts";
import { roomVersionRules, type RoomVersionRules } from "../../lib/room-versions.ts";

const ALICE = "@alice:example.org";
const BOB = "@bob:example.org";
const MALLORY = "@mallory:example.org";
const v = (id: string): RoomVersionRules => roomVersionRules(id)!;
const s = (type: string, content: JsonObject, stateKey = ""): StateTemplate => ({ type, stateKey, content });

function oldRoom(over: Partial<OldRoom> = {}): OldRoom {
  return {
    roomId: "!old:example.org",
    lastEventId: "$last",
    createContent: { room_version: "10", creator: ALICE, type: "m.space", "m.federate": false, extra: 1 },
    creators: [],
    powerLevels: { users: { [ALICE]: 100, [BOB]: 50 }, users_default: 0, state_default: 50, ban: 50, events: { "m.room.tombstone": 100 } },
    state: [
      s("m.room.name", { name: "Old" }),
      s("m.room.topic", { topic: "t" }),
      s("m.room.join_rules", { join_rule: "public" }),
      s("m.room.history_visibility", { history_visibility: "shared" }),
      s("m.room.encryption", { algorithm: "m.megolm.v1.aes-sha2" }),
    ],
    bans: [s("m.room.member", { membership: "ban", reason: "spam", displayname: "M" }, MALLORY)],
    ...over,
  };
}

const plan = (version: string, over: Partial<OldRoom> = {}, upgrader = ALICE, extra: string[] = []) =>
  planRoomUpgrade(oldRoom(over), { newVersion: version, additionalCreators: extra }, upgrader, { displayname: "Alice" }, v(version));
const types = (p: RoomCreationPlan) => p.events.map((e) => `${e.type}|${e.stateKey}`);

/** Runs the create event and every planned event through the auth rules, in order, against the state they build. */
function authorizePlan(p: RoomCreationPlan, upgrader: string, rules: RoomVersionRules): void {
  const state = new Map<string, Pdu>();
  const get = (t: string, k: string) => state.get(`${t}\u0000${k}`);
  const all = [{ type: "m.room.create", stateKey: "", content: p.createContent }, ...p.events];
  all.forEach((e, i) => {
    const pdu: Pdu = {
      event_id: `$e${i}`,
      sender: upgrader,
      type: e.type,
      state_key: e.stateKey,
      content: e.content,
      origin_server_ts: 0,
      prev_events: i === 0 ? [] : [`$e${i - 1}`],
      auth_events: [],
      depth: i + 1,
    };
    // v12: the room ID is the create event's ID with the sigil !.
    if (!rules.eventFormat.roomIdIsCreateEventHash) pdu.room_id = "!new:example.org";
    else if (i > 0) pdu.room_id = "!e0";
    const r = authorizeEvent(pdu, { get }, rules);
    expect(r, `${e.type}|${e.stateKey}`).toEqual({ allowed: true });
    state.set(`${e.type}\u0000${e.stateKey}`, pdu);
  });
}

describe("[upgrade] request", () => {
  it("[upgrade] new_version is required and must be a string", () => {
    expect(() => parseUpgradeRequest({})).toThrow(MatrixError);
    expect(() => parseUpgradeRequest({ new_version: 12 })).toThrow(/string/);
  });
  it("[upgrade] additional_creators must be valid user IDs (v1.16)", () => {
    expect(parseUpgradeRequest({ new_version: "12", additional_creators: [BOB, BOB] })).toEqual({ newVersion: "12", additionalCreators: [BOB] });
    expect(() => parseUpgradeRequest({ new_version: "12", additional_creators: ["bob"] })).toThrow(/invalid user ID/);
  });
});

describe("[upgrade] the new room's create event", () => {
  it("[upgrade] predecessor names the old room and its last event", () => {
    expect(plan("11").createContent.predecessor).toEqual({ room_id: "!old:example.org", event_id: "$last" });
  });
  it("[upgrade] room_version is the new version; room type and m.federate carry over, other keys do not", () => {
    const c = plan("11").createContent;
    expect(c.room_version).toBe("11");
    expect(c.type).toBe("m.space");
    expect(c["m.federate"]).toBe(false);
    expect(c.extra).toBeUndefined();
    expect(c.creator).toBeUndefined(); // v11: the sender is the creator
    expect(plan("10").createContent.creator).toBe(ALICE);
  });
  it("[upgrade] additional_creators are set from the request only where the version has them", () => {
    expect(plan("12", {}, ALICE, [BOB, ALICE]).createContent.additional_creators).toEqual([BOB]);
    expect(plan("12").createContent.additional_creators).toBeUndefined();
    expect(plan("11", {}, ALICE, [BOB]).createContent.additional_creators).toBeUndefined();
  });
});

describe("[upgrade] transferred state", () => {
  it("[upgrade] the upgrader joins first, then power levels, the spec's state list, bans", () => {
    expect(types(plan("11"))).toEqual([
      `m.room.member|${ALICE}`,
      "m.room.power_levels|",
      "m.room.encryption|",
      "m.room.name|",
      "m.room.topic|",
      "m.room.history_visibility|",
      "m.room.join_rules|",
      `m.room.member|${MALLORY}`,
    ]);
    expect(plan("11").events[0]!.content).toEqual({ membership: "join", displayname: "Alice" });
  });
  it("[upgrade] bans are copied with their reason only", () => {
    expect(plan("11").events.at(-1)!.content).toEqual({ membership: "ban", reason: "spam" });
  });
  it("[upgrade] members other than the upgrader and non-transferable state are not copied", () => {
    const p = plan("11", { state: [...oldRoom().state, s("m.room.canonical_alias", { alias: "#a:example.org" }), s("m.custom", {})] });
    expect(types(p).some((t) => t.startsWith("m.room.canonical_alias") || t.startsWith("m.custom"))).toBe(false);
  });
  it("[upgrade] power levels are copied unchanged when the upgrader can already send everything", () => {
    const p = plan("11");
    expect(p.events.filter((e) => e.type === "m.room.power_levels").map((e) => e.content)).toEqual([oldRoom().powerLevels]);
  });
});

describe("[upgrade] power levels raised then restored", () => {
  // Bob (50) may send the tombstone here, but the encryption event needs 100.
  const bobRoom: Partial<OldRoom> = {
    powerLevels: { users: { [ALICE]: 100, [BOB]: 50 }, events: { "m.room.encryption": 100, "m.room.tombstone": 50 } },
  };
  it("[upgrade] the upgrader is raised to the highest level a copied event needs, then the old levels return", () => {
    const pls = plan("11", bobRoom, BOB).events.filter((e) => e.type === "m.room.power_levels");
    expect(pls).toHaveLength(2);
    expect((pls[0]!.content.users as JsonObject)[BOB]).toBe(100);
    expect(pls[1]!.content).toEqual(bobRoom.powerLevels);
    expect(plan("11", bobRoom, BOB).events.at(-1)!.type).toBe("m.room.power_levels");
  });
  it("[upgrade] raised above a banned user's level so the ban can be copied", () => {
    const p = plan("11", { powerLevels: { users: { [BOB]: 50, [MALLORY]: 70 } } }, BOB);
    expect(((p.events.find((e) => e.type === "m.room.power_levels")!.content.users as JsonObject)[BOB])).toBe(71);
  });
  for (const version of ["10", "11", "12"]) {
    it(`[upgrade] every planned event passes the v${version} auth rules`, () => {
      authorizePlan(plan(version, bobRoom, BOB), BOB, v(version));
      authorizePlan(plan(version), ALICE, v(version));
      authorizePlan(plan(version, { powerLevels: undefined }), ALICE, v(version));
    });
  }
});

describe("[upgrade] creators across v12", () => {
  it("[upgrade] to v12: creators are taken out of power levels users (auth rule), others kept", () => {
    const users = plan("12", {}, ALICE, [BOB]).events.find((e) => e.type === "m.room.power_levels")!.content.users;
    expect(users).toEqual({});
    expect(plan("12").events.find((e) => e.type === "m.room.power_levels")!.content.users).toEqual({ [BOB]: 50 });
  });
  it("[upgrade] from v12 to an older version: old creators get level 100", () => {
    const p = plan("11", { creators: [ALICE], powerLevels: { users: { [BOB]: 50 } } });
    expect(p.events.find((e) => e.type === "m.room.power_levels")!.content.users).toEqual({ [BOB]: 50, [ALICE]: 100 });
    authorizePlan(p, ALICE, v("11"));
  });
});

describe("[upgrade] the old room", () => {
  it("[upgrade] old room gets a tombstone pointing at the new room", () => {
    expect(tombstoneContent("!new:example.org")).toEqual({ body: "This room has been replaced", replacement_room: "!new:example.org" });
  });
  it("[upgrade] events_default and invite are raised to max(50, users_default + 1)", () => {
    expect(restrictedPowerLevels({ users: { [ALICE]: 100 }, events_default: 0, invite: 0 })).toEqual({ users: { [ALICE]: 100 }, events_default: 50, invite: 50 });
    expect(restrictedPowerLevels({ users_default: 60, invite: 100 })).toEqual({ users_default: 60, events_default: 61, invite: 100 });
  });
  it("[upgrade] nothing to send when the old room is already restricted", () => {
    expect(restrictedPowerLevels({ events_default: 50, invite: 75 })).toBeUndefined();
  });
});
