import { describe, expect, it } from "vitest";
import {
  historyVisibilityOf,
  membershipOf,
  nothingVisibleAfterLastChange,
  userMaySee,
  userMaySeeEvent,
  type HistoryVisibility,
  type Membership,
} from "../../lib/history-visibility.ts";
import type { JsonObject } from "../../lib/json.ts";

interface Ev {
  id: string;
  type: string;
  state_key?: string;
  sender: string;
  content: JsonObject;
}

const msg = (id: string, sender = "@alice:x"): Ev => ({ id, type: "m.room.message", sender, content: { body: id } });
const member = (id: string, user: string, membership: string): Ev => ({
  id,
  type: "m.room.member",
  state_key: user,
  sender: user,
  content: { membership },
});
const hv = (id: string, v: string): Ev => ({ id, type: "m.room.history_visibility", state_key: "", sender: "@alice:x", content: { history_visibility: v } });

/**
 * A linear room: walks the timeline keeping the state before each event, and answers
 * which event IDs `user` may see, the way the Room actor derives the facts.
 */
function visibleTo(user: string, timeline: Ev[]): string[] {
  let visibility: HistoryVisibility = "shared";
  let membership: Membership | undefined;
  const before: Array<{ visibility: HistoryVisibility; membership: Membership | undefined }> = [];
  for (const e of timeline) {
    before.push({ visibility, membership });
    if (e.type === "m.room.history_visibility") visibility = historyVisibilityOf(e.content);
    if (e.type === "m.room.member" && e.state_key === user) membership = membershipOf(e.content);
  }
  return timeline
    .filter((e, i) => {
      const joinedLater = timeline.slice(i + 1).some((l) => l.type === "m.room.member" && l.state_key === user && l.content.membership === "join");
      return userMaySee(user, e, { ...before[i]!, joinedLater });
    })
    .map((e) => e.id);
}

const BOB = "@bob:x";

function lateJoiner(v: string): Ev[] {
  // As in a created room, the setting comes first; only the setting event itself is judged by the default (shared) before it.
  return [hv("hv", v), member("a-join", "@alice:x", "join"), msg("m1"), member("b-invite", BOB, "invite"), msg("m2"), member("b-join", BOB, "join"), msg("m3"), member("b-leave", BOB, "leave"), msg("m4")];
}

describe("history visibility", () => {
  it("[history-visibility] a missing or unknown value counts as shared", () => {
    expect(historyVisibilityOf(undefined)).toBe("shared");
    expect(historyVisibilityOf({})).toBe("shared");
    expect(historyVisibilityOf({ history_visibility: "everyone" })).toBe("shared");
    expect(historyVisibilityOf({ history_visibility: 3 })).toBe("shared");
    expect(historyVisibilityOf({ history_visibility: "joined" })).toBe("joined");
  });

  it("[history-visibility] an unknown membership counts as none", () => {
    expect(membershipOf({ membership: "joined" })).toBeUndefined();
    expect(membershipOf({ membership: "ban" })).toBe("ban");
  });

  it("[history-visibility: world_readable] anyone sees every event, even a user who never joined", () => {
    expect(visibleTo("@stranger:x", lateJoiner("world_readable"))).toEqual(["hv", "a-join", "m1", "b-invite", "m2", "b-join", "m3", "b-leave", "m4"]);
  });

  it("[history-visibility: shared] a user who joined later sees history from before they joined, not after they left", () => {
    expect(visibleTo(BOB, lateJoiner("shared"))).toEqual(["hv", "a-join", "m1", "b-invite", "m2", "b-join", "m3", "b-leave"]);
  });

  it("[history-visibility: shared] a user who never joined sees nothing (shared needs a later join)", () => {
    expect(visibleTo("@stranger:x", lateJoiner("shared"))).toEqual([]);
  });

  it("[history-visibility: invited] a user sees events from their invite on, not before", () => {
    expect(visibleTo(BOB, lateJoiner("invited"))).toEqual(["hv", "b-invite", "m2", "b-join", "m3", "b-leave"]);
  });

  it("[history-visibility: joined] a user cannot see messages from before they joined", () => {
    // "hv" itself: the default (shared) before it, and Bob joined later.
    expect(visibleTo(BOB, lateJoiner("joined"))).toEqual(["hv", "b-join", "m3", "b-leave"]);
  });

  it("[history-visibility: joined] an invitee sees no history at all, not even their invite (invites reach them as stripped state)", () => {
    const t = lateJoiner("joined").slice(0, 5);
    expect(visibleTo(BOB, t)).toEqual([]);
  });

  it("[history-visibility: invited] an invitee sees their invite and what follows, not what came before", () => {
    const t = lateJoiner("invited").slice(0, 5);
    expect(visibleTo(BOB, t)).toEqual(["b-invite", "m2"]);
  });

  it("[history-visibility: own membership] a user's own leave is visible even under joined", () => {
    // A user who never joined under "joined" never sees history; the leave is seen because the membership before it was join.
    expect(visibleTo(BOB, lateJoiner("joined"))).toContain("b-leave");
  });

  it("[history-visibility: own membership] under invited, a user sees the rescinding of their invite (membership before it allows)", () => {
    const t = [hv("hv", "invited"), member("b-invite", BOB, "invite"), { ...member("b-kick", BOB, "leave"), sender: "@alice:x" }, msg("m")];
    expect(visibleTo(BOB, t)).toEqual(["b-invite", "b-kick"]);
  });

  it("[history-visibility: m.room.history_visibility] the change event is visible if the setting before or after allows it", () => {
    // Bob is not a member; the switch to world_readable is visible (after), the switch back too (before).
    const t = [hv("to-wr", "world_readable"), msg("m1"), hv("to-joined", "joined"), msg("m2")];
    expect(visibleTo(BOB, t)).toEqual(["to-wr", "m1", "to-joined"]);
  });

  it("[history-visibility: shared] rejoining makes the gap between leave and rejoin visible", () => {
    const t = [hv("hv", "shared"), member("b-join", BOB, "join"), member("b-leave", BOB, "leave"), msg("gap"), member("b-rejoin", BOB, "join"), msg("after")];
    expect(visibleTo(BOB, t)).toEqual(["hv", "b-join", "b-leave", "gap", "b-rejoin", "after"]);
  });

  it("[history-visibility: joined] a banned user sees nothing after the ban except the ban itself", () => {
    const t = [hv("hv", "joined"), member("b-join", BOB, "join"), msg("m1"), { ...member("b-ban", BOB, "ban"), sender: "@alice:x" }, msg("m2")];
    expect(visibleTo(BOB, t)).toEqual(["hv", "b-join", "m1", "b-ban"]);
  });

  it("[history-visibility] the rules in isolation: membership join always allows", () => {
    for (const v of ["shared", "invited", "joined"] as const) {
      expect(userMaySeeEvent({ visibilityBefore: v, visibilityAfter: v, membershipBefore: "join", membershipAfter: "join", joinedLater: false })).toBe(true);
      expect(userMaySeeEvent({ visibilityBefore: v, visibilityAfter: v, membershipBefore: "knock", membershipAfter: "knock", joinedLater: false })).toBe(false);
    }
  });

  it("[history-visibility] scanning may stop after the last change only when nothing later can be visible", () => {
    expect(nothingVisibleAfterLastChange({ visibility: "shared", membership: "leave" })).toBe(true);
    expect(nothingVisibleAfterLastChange({ visibility: "joined", membership: undefined })).toBe(true);
    expect(nothingVisibleAfterLastChange({ visibility: "world_readable", membership: "leave" })).toBe(false);
    expect(nothingVisibleAfterLastChange({ visibility: "shared", membership: "join" })).toBe(false);
    expect(nothingVisibleAfterLastChange({ visibility: "invited", membership: "invite" })).toBe(false);
    expect(nothingVisibleAfterLastChange({ visibility: "shared", membership: "invite" })).toBe(true);
  });
});
