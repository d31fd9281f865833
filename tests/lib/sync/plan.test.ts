import { describe, expect, it } from "vitest";
import { continueFrom, planSync, type MembershipRow, type PlanInput } from "../../../lib/sync/plan.ts";
import type { RoomView } from "../../../lib/sync/position.ts";

const row = (roomId: string, membership: MembershipRow["membership"], memberStream = 5): MembershipRow => ({ roomId, membership, memberStream });
const view = (m: RoomView["m"], ms = 5, s = 10): RoomView => ({ m, ms, s, r: 0, t: 0 });
const plan = (over: Partial<PlanInput>) => planSync({ rows: [], views: new Map(), includeLeave: false, fullState: false, roomAllowed: () => true, ...over });

describe("which rooms a sync asks", () => {
  it("[sync: initial] every room the user is in, whole; left rooms only with include_leave", () => {
    const rows = [row("!j", "join"), row("!i", "invite"), row("!k", "knock"), row("!l", "leave"), row("!b", "ban")];
    expect([...plan({ rows, views: undefined }).fetch]).toEqual([["!j", null], ["!i", null], ["!k", null]]);
    expect([...plan({ rows, views: undefined, includeLeave: true }).fetch.keys()]).toEqual(["!j", "!i", "!k", "!l", "!b"]);
  });

  it("[sync: incremental] an unchanged joined room is only polled; a changed membership is fetched", () => {
    const views = new Map([["!j", view("join")], ["!x", view("invite")]]);
    const p = plan({ rows: [row("!j", "join"), row("!x", "join", 7)], views });
    expect(p.poll).toEqual([["!j", view("join")]]);
    expect([...p.fetch]).toEqual([["!x", null]]); // invite → join: the room whole
  });

  it("[sync: rooms.leave] leaving continues from the client's position (timeline up to the leave)", () => {
    const p = plan({ rows: [row("!j", "leave", 9)], views: new Map([["!j", view("join")]]) });
    expect([...p.fetch]).toEqual([["!j", view("join")]]);
  });

  it("[sync: membership] a new member event with the same membership (profile change, rejoin) is fetched incrementally", () => {
    const p = plan({ rows: [row("!j", "join", 8)], views: new Map([["!j", view("join", 5)]]) });
    expect([...p.fetch]).toEqual([["!j", view("join", 5)]]);
    expect(continueFrom(view("leave"), "join")).toBeNull();
    expect(continueFrom(view("leave"), "ban")).toEqual(view("leave"));
  });

  it("[sync: full_state] full_state fetches every joined room with the client's position", () => {
    const p = plan({ rows: [row("!j", "join")], views: new Map([["!j", view("join")]]), fullState: true });
    expect([...p.fetch]).toEqual([["!j", view("join")]]);
    expect(p.poll).toEqual([]);
  });

  it("[filter: rooms] rooms the filter leaves out are neither fetched nor polled", () => {
    const p = plan({ rows: [row("!a", "join"), row("!b", "invite")], views: new Map([["!a", view("join")]]), roomAllowed: (r) => r !== "!a" && r !== "!b" });
    expect(p.fetch.size + p.poll.length).toBe(0);
  });

  it("[sync: incremental] a room the client never heard of and already left is not shown", () => {
    expect(plan({ rows: [row("!gone", "leave")] }).fetch.size).toBe(0);
  });
});
