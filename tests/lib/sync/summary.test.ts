import { describe, expect, it } from "vitest";
import { isNamed, pickHeroes, roomSummary } from "../../../lib/sync/summary.ts";

describe("sync room summary", () => {
  it("[summary: heroes] the first 5 joined or invited members, never the user", () => {
    const members = ["@me", "@a", "@b", "@c", "@d", "@e", "@f"];
    expect(pickHeroes("@me", members, [])).toEqual(["@a", "@b", "@c", "@d", "@e"]);
  });

  it("[summary: heroes] with nobody else joined or invited, the left and banned users", () => {
    expect(pickHeroes("@me", ["@me"], ["@gone", "@banned"])).toEqual(["@gone", "@banned"]);
  });

  it("[summary: heroes] required only when the room has no name or canonical alias", () => {
    const base = { userId: "@me", joinedCount: 2, invitedCount: 1, joinedOrInvited: ["@me", "@a"], leftOrBanned: [] };
    expect(roomSummary({ ...base, named: false })).toEqual({ "m.heroes": ["@a"], "m.joined_member_count": 2, "m.invited_member_count": 1 });
    expect(roomSummary({ ...base, named: true })).toEqual({ "m.joined_member_count": 2, "m.invited_member_count": 1 });
  });

  it("[summary: heroes] an empty name or alias does not name the room", () => {
    expect(isNamed({ name: "" }, undefined)).toBe(false);
    expect(isNamed(undefined, { alias: "" })).toBe(false);
    expect(isNamed({ name: "Room" }, undefined)).toBe(true);
    expect(isNamed(undefined, { alias: "#a:hs" })).toBe(true);
  });
});
