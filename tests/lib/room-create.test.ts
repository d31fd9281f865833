// /createRoom plans: presets, overrides and their order, per room version.
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3createroom
import { describe, expect, it } from "vitest";
import { MatrixError } from "../../lib/errors.ts";
import type { JsonObject } from "../../lib/json.ts";
import { canonicalAliasFor, parseCreateRoomRequest, planRoomCreation, type RoomCreationPlan } from "../../lib/room-create.ts";
import { roomVersionRules, type RoomVersionRules } from "../../lib/room-versions.ts";
import { MIN_SNAPSHOT_INTERVAL, nextVersion, readPlan, shouldSnapshot, type StateVersionInfo } from "../../lib/state-store.ts";

const ALICE = "@alice:example.org";
const BOB = "@bob:example.org";
const CAROL = "@carol:example.org";
const v = (id: string): RoomVersionRules => roomVersionRules(id)!;

function plan(body: JsonObject, version = "12", profile = {}): RoomCreationPlan {
  return planRoomCreation(parseCreateRoomRequest(body), ALICE, profile, v(version));
}
const types = (p: RoomCreationPlan) => p.events.map((e) => `${e.type}|${e.stateKey}`);
const content = (p: RoomCreationPlan, type: string, key = "") => p.events.find((e) => e.type === type && e.stateKey === key)?.content;

function rejects(f: () => unknown, errcode: string): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(MatrixError);
    expect((e as MatrixError).errcode).toBe(errcode);
    return;
  }
  throw new Error("expected a MatrixError");
}

describe("[cs: createRoom] presets", () => {
  it("[cs: createRoom/preset] private_chat: invite join rule, shared history, guests can join, invite level 0", () => {
    const p = plan({ preset: "private_chat" });
    expect(content(p, "m.room.join_rules")).toEqual({ join_rule: "invite" });
    expect(content(p, "m.room.history_visibility")).toEqual({ history_visibility: "shared" });
    expect(content(p, "m.room.guest_access")).toEqual({ guest_access: "can_join" });
    expect(content(p, "m.room.power_levels")!.invite).toBe(0);
  });

  it("[cs: createRoom/preset] public_chat: public join rule, shared history, guests forbidden, invite level 50", () => {
    const p = plan({ preset: "public_chat" });
    expect(content(p, "m.room.join_rules")).toEqual({ join_rule: "public" });
    expect(content(p, "m.room.history_visibility")).toEqual({ history_visibility: "shared" });
    expect(content(p, "m.room.guest_access")).toEqual({ guest_access: "forbidden" });
    expect(content(p, "m.room.power_levels")!.invite).toBe(50);
  });

  it("[cs: createRoom/preset] no preset: visibility public → public_chat, otherwise private_chat", () => {
    expect(content(plan({ visibility: "public" }), "m.room.join_rules")).toEqual({ join_rule: "public" });
    expect(content(plan({}), "m.room.join_rules")).toEqual({ join_rule: "invite" });
  });

  it("[cs: createRoom/preset] trusted_private_chat before v12: invitees get the creator's level 100", () => {
    for (const version of ["10", "11"]) {
      const p = plan({ preset: "trusted_private_chat", invite: [BOB] }, version);
      expect(content(p, "m.room.power_levels")!.users).toEqual({ [ALICE]: 100, [BOB]: 100 });
      expect(p.createContent.additional_creators).toBeUndefined();
    }
  });

  it("[cs: createRoom/preset] trusted_private_chat in v12: invitees join creation_content's additional_creators, deduplicated, not in users", () => {
    const p = plan({ preset: "trusted_private_chat", invite: [BOB, CAROL], creation_content: { additional_creators: [CAROL] } });
    expect(new Set(p.createContent.additional_creators as string[])).toEqual(new Set([BOB, CAROL]));
    expect((p.createContent.additional_creators as string[]).length).toBe(2);
    expect(content(p, "m.room.power_levels")!.users).toEqual({});
  });

  it("[cs: createRoom/preset] private_chat in v12 leaves invitees as ordinary members", () => {
    const p = plan({ preset: "private_chat", invite: [BOB] });
    expect(p.createContent.additional_creators).toBeUndefined();
  });
});

describe("[cs: createRoom] power levels per room version", () => {
  it("[cs: createRoom/power_levels] v1–v11: the creator is listed at 100; v12: creators are not listed", () => {
    expect(content(plan({}, "10"), "m.room.power_levels")!.users).toEqual({ [ALICE]: 100 });
    expect(content(plan({}, "11"), "m.room.power_levels")!.users).toEqual({ [ALICE]: 100 });
    expect(content(plan({}, "12"), "m.room.power_levels")!.users).toEqual({});
  });

  it("[cs: createRoom/power_levels] v12: m.room.tombstone needs 150, above state_default and 100; before v12 100", () => {
    const events = (ver: string) => content(plan({}, ver), "m.room.power_levels")!.events as JsonObject;
    expect(events("12")["m.room.tombstone"]).toBe(150);
    expect(events("11")["m.room.tombstone"]).toBe(100);
  });

  it("[cs: createRoom/power_level_content_override] top-level keys replace the defaults", () => {
    const p = plan({ power_level_content_override: { events_default: 50, users: { [BOB]: 50 } } });
    const pl = content(p, "m.room.power_levels")!;
    expect(pl.events_default).toBe(50);
    expect(pl.users).toEqual({ [BOB]: 50 });
    expect(pl.state_default).toBe(50);
  });

  it("[cs: createRoom/power_level_content_override] v12: naming a creator in users is refused (M_BAD_JSON)", () => {
    rejects(() => plan({ power_level_content_override: { users: { [ALICE]: 100 } } }, "12"), "M_BAD_JSON");
    expect(() => plan({ power_level_content_override: { users: { [ALICE]: 100 } } }, "11")).not.toThrow();
  });

  it("[cs: createRoom/initial_state] an initial_state power levels event is the base the override applies to", () => {
    const p = plan({
      initial_state: [{ type: "m.room.power_levels", content: { users: { [BOB]: 10 }, ban: 99 } }],
      power_level_content_override: { kick: 77 },
    });
    const pls = p.events.filter((e) => e.type === "m.room.power_levels");
    expect(pls).toHaveLength(1);
    expect(pls[0]!.content).toEqual({ users: { [BOB]: 10 }, ban: 99, kick: 77 });
  });
});

describe("[cs: createRoom] order and contents", () => {
  it("[cs: createRoom/order] create content, creator join, power levels, alias, preset, initial_state, name, topic, invites", () => {
    const body = {
      preset: "public_chat",
      name: "Room",
      topic: "Talk",
      invite: [BOB],
      initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }],
      room_alias_name: "room",
    };
    const p = planRoomCreation(parseCreateRoomRequest(body), ALICE, { displayname: "Alice" }, v("12"), "#room:example.org");
    expect(types(p)).toEqual([
      `m.room.member|${ALICE}`,
      "m.room.power_levels|",
      "m.room.canonical_alias|",
      "m.room.join_rules|",
      "m.room.history_visibility|",
      "m.room.guest_access|",
      "m.room.encryption|",
      "m.room.name|",
      "m.room.topic|",
      `m.room.member|${BOB}`,
    ]);
    expect(content(p, "m.room.member", ALICE)).toEqual({ membership: "join", displayname: "Alice" });
    expect(content(p, "m.room.canonical_alias")).toEqual({ alias: "#room:example.org" });
    expect(content(p, "m.room.topic")).toEqual({ topic: "Talk", "m.topic": { "m.text": [{ body: "Talk", mimetype: "text/plain" }] } });
  });

  it("[cs: createRoom/initial_state] takes precedence over the preset: its join rule replaces the preset's", () => {
    const p = plan({ preset: "private_chat", initial_state: [{ type: "m.room.join_rules", content: { join_rule: "knock" } }] });
    const jr = p.events.filter((e) => e.type === "m.room.join_rules");
    expect(jr).toEqual([{ type: "m.room.join_rules", stateKey: "", content: { join_rule: "knock" } }]);
  });

  it("[cs: createRoom/name] name and topic override initial_state's m.room.name and m.room.topic", () => {
    const p = plan({ name: "N", initial_state: [{ type: "m.room.name", content: { name: "old" } }] });
    expect(p.events.filter((e) => e.type === "m.room.name").map((e) => e.content)).toEqual([{ name: "N" }]);
  });

  it("[cs: createRoom/is_direct] invites carry is_direct when asked", () => {
    expect(content(plan({ invite: [BOB], is_direct: true }), "m.room.member", BOB)).toEqual({ membership: "invite", is_direct: true });
    expect(content(plan({ invite: [BOB] }), "m.room.member", BOB)).toEqual({ membership: "invite" });
  });

  it("[cs: createRoom/creation_content] extra keys kept; creator set only before v11; room_version always the server's", () => {
    const body = { creation_content: { "m.federate": false, type: "m.space", creator: "@mallory:x", room_version: "1" } };
    const v10 = plan(body, "10").createContent;
    expect(v10).toEqual({ "m.federate": false, type: "m.space", creator: ALICE, room_version: "10" });
    const v11 = plan(body, "11").createContent;
    expect(v11).toEqual({ "m.federate": false, type: "m.space", room_version: "11" });
  });

  it("[cs: createRoom/invite] the creator in the invite list is not invited", () => {
    expect(types(plan({ invite: [ALICE] })).filter((t) => t.startsWith("m.room.member"))).toEqual([`m.room.member|${ALICE}`]);
  });
});

describe("[cs: createRoom] bad requests", () => {
  it("[cs: createRoom] wrong types and values are M_BAD_JSON / M_INVALID_PARAM", () => {
    rejects(() => parseCreateRoomRequest({ preset: "secret_chat" }), "M_BAD_JSON");
    rejects(() => parseCreateRoomRequest({ visibility: "hidden" }), "M_BAD_JSON");
    rejects(() => parseCreateRoomRequest({ name: 5 }), "M_BAD_JSON");
    rejects(() => parseCreateRoomRequest({ invite: ["bob"] }), "M_INVALID_PARAM");
    rejects(() => parseCreateRoomRequest({ initial_state: [{ type: "x", content: [] }] }), "M_BAD_JSON");
    rejects(() => parseCreateRoomRequest({ initial_state: [{ content: {} }] }), "M_BAD_JSON");
    rejects(() => parseCreateRoomRequest({ room_alias_name: "a:b" }), "M_INVALID_PARAM");
    rejects(() => parseCreateRoomRequest({ creation_content: "x" }), "M_BAD_JSON");
    rejects(() => plan({ creation_content: { additional_creators: ["nope"] } }, "12"), "M_BAD_JSON");
  });

  it("[cs: createRoom/room_alias_name] the full alias is #local:server", () => {
    expect(canonicalAliasFor("room", "example.org")).toBe("#room:example.org");
  });
});

describe("[state-store] state versions", () => {
  it("[state-store] a version is stored whole once the deltas since the snapshot reach max(64, size/8)", () => {
    expect(shouldSnapshot(MIN_SNAPSHOT_INTERVAL - 1, 10)).toBe(false);
    expect(shouldSnapshot(MIN_SNAPSHOT_INTERVAL, 10)).toBe(true);
    expect(shouldSnapshot(100, 10_000)).toBe(false);
    expect(shouldSnapshot(1250, 10_000)).toBe(true);
  });

  it("[state-store] a linear chain: snapshot at the first version, then deltas; read plans stop at the snapshot", () => {
    const infos = new Map<number, StateVersionInfo>();
    let prev: StateVersionInfo | undefined;
    for (let i = 1; i <= 200; i++) {
      prev = nextVersion(i, prev, 1, 1);
      infos.set(i, prev);
    }
    const snapshots = [...infos.values()].filter((i) => i.snapshot).map((i) => i.version);
    expect(snapshots).toEqual([1, 65, 129, 193]);
    expect(readPlan(70, (x) => infos.get(x))).toEqual({ snapshot: 65, deltas: [66, 67, 68, 69, 70] });
    expect(readPlan(65, (x) => infos.get(x))).toEqual({ snapshot: 65, deltas: [] });
    expect(readPlan(0, (x) => infos.get(x))).toEqual({ snapshot: null, deltas: [] });
  });
});
