import { describe, expect, it } from "vitest";
import { authEventTypes } from "../../../lib/auth/index.ts";
import { roomVersionRules, type RoomVersionRules } from "../../../lib/room-versions.ts";

const v = (id: string): RoomVersionRules => roomVersionRules(id)!;
const sorted = (pairs: Array<[string, string]>) => pairs.map(([t, k]) => `${t}|${k}`).sort();

describe("auth events selection (server-server-api#auth-events-selection)", () => {
  it("[auth-events-selection] the create event has no auth events", () => {
    expect(authEventTypes({ type: "m.room.create", sender: "@a:x", state_key: "", content: {} }, v("11"))).toEqual([]);
    expect(authEventTypes({ type: "m.room.create", sender: "@a:x", state_key: "", content: {} }, v("12"))).toEqual([]);
  });

  it("[auth-events-selection] a message: create, power levels, sender's membership (v11)", () => {
    const got = authEventTypes({ type: "m.room.message", sender: "@a:x", content: { body: "hi" } }, v("11"));
    expect(sorted(got)).toEqual(["m.room.create|", "m.room.member|@a:x", "m.room.power_levels|"]);
  });

  it("[auth-events-selection v12] m.room.create is never selected since v12", () => {
    const msg = authEventTypes({ type: "m.room.message", sender: "@a:x", content: {} }, v("12"));
    expect(sorted(msg)).toEqual(["m.room.member|@a:x", "m.room.power_levels|"]);
    const join = authEventTypes({ type: "m.room.member", sender: "@a:x", state_key: "@a:x", content: { membership: "join" } }, v("12"));
    expect(sorted(join)).toEqual(["m.room.join_rules|", "m.room.member|@a:x", "m.room.power_levels|"]);
  });

  it("[auth-events-selection] a join selects join rules and the target's membership, without duplicates", () => {
    const got = authEventTypes({ type: "m.room.member", sender: "@a:x", state_key: "@a:x", content: { membership: "join" } }, v("10"));
    expect(got).toHaveLength(4);
    expect(sorted(got)).toEqual(["m.room.create|", "m.room.join_rules|", "m.room.member|@a:x", "m.room.power_levels|"]);
  });

  it("[auth-events-selection] an invite selects the target's membership and join rules; a ban or leave no join rules", () => {
    const invite = authEventTypes({ type: "m.room.member", sender: "@a:x", state_key: "@b:y", content: { membership: "invite" } }, v("10"));
    expect(sorted(invite)).toEqual(["m.room.create|", "m.room.join_rules|", "m.room.member|@a:x", "m.room.member|@b:y", "m.room.power_levels|"]);
    const ban = authEventTypes({ type: "m.room.member", sender: "@a:x", state_key: "@b:y", content: { membership: "ban" } }, v("10"));
    expect(sorted(ban)).toEqual(["m.room.create|", "m.room.member|@a:x", "m.room.member|@b:y", "m.room.power_levels|"]);
  });

  it("[auth-events-selection] a knock selects join rules", () => {
    const got = authEventTypes({ type: "m.room.member", sender: "@b:y", state_key: "@b:y", content: { membership: "knock" } }, v("7"));
    expect(sorted(got)).toContain("m.room.join_rules|");
  });

  it("[auth-events-selection third_party_invite] an invite with third_party_invite selects m.room.third_party_invite by signed.token", () => {
    const content = { membership: "invite", third_party_invite: { display_name: "b", signed: { mxid: "@b:y", token: "tok", signatures: {} } } };
    const got = authEventTypes({ type: "m.room.member", sender: "@a:x", state_key: "@b:y", content }, v("11"));
    expect(sorted(got)).toContain("m.room.third_party_invite|tok");
    expect(got).toHaveLength(6);
  });

  it("[auth-events-selection restricted] a restricted join selects the authorising user's membership, since v8", () => {
    const content = { membership: "join", join_authorised_via_users_server: "@admin:x" };
    const event = { type: "m.room.member", sender: "@b:y", state_key: "@b:y", content };
    expect(sorted(authEventTypes(event, v("8")))).toContain("m.room.member|@admin:x");
    expect(sorted(authEventTypes(event, v("12")))).toContain("m.room.member|@admin:x");
    expect(sorted(authEventTypes(event, v("7")))).not.toContain("m.room.member|@admin:x");
  });

  it("[auth-events-selection restricted] join_authorised_via_users_server on a non-join is not selected", () => {
    const content = { membership: "leave", join_authorised_via_users_server: "@admin:x" };
    const got = authEventTypes({ type: "m.room.member", sender: "@b:y", state_key: "@b:y", content }, v("10"));
    expect(sorted(got)).not.toContain("m.room.member|@admin:x");
  });
});
