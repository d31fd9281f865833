// lib/spaces.ts: child order, child validity, visibility, hierarchy page tokens.
// https://spec.matrix.org/v1.19/client-server-api/#spaces
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { compareChildren, decodeCursor, encodeCursor, maySeeSummary, validChild, type RoomSummaryFacts, type StrippedChildStateEvent } from "../../lib/spaces.ts";

const child = (roomId: string, ts: number, content: JsonObject = {}): StrippedChildStateEvent => ({
  type: "m.space.child",
  state_key: roomId,
  sender: "@a:x",
  content: { via: ["x"], ...content },
  origin_server_ts: ts,
});

const facts = (over: Partial<RoomSummaryFacts["summary"]>, rest: Partial<RoomSummaryFacts> = {}): RoomSummaryFacts => ({
  summary: { room_id: "!r:x", num_joined_members: 1, world_readable: false, guest_can_join: false, ...over },
  knockable: false,
  restricted: false,
  children: [],
  ...rest,
});

describe("[cs: spaces] ordering of children within a space", () => {
  it("[cs: spaces] valid `order` first (by code point), then origin_server_ts, then room ID; invalid order counts as absent", () => {
    const list = [
      child("!e:x", 1),
      child("!d:x", 5, { order: "\u00e9" }), // not in U+0020–U+007E: ignored
      child("!c:x", 1, { order: "b" }),
      child("!b:x", 9, { order: "a" }),
      child("!a:x", 1),
      child("!f:x", 0, { order: "x".repeat(51) }), // too long: ignored
      child("!g:x", 0, { order: 5 }),
    ];
    expect(list.sort(compareChildren).map((c) => c.state_key)).toEqual(["!b:x", "!c:x", "!f:x", "!g:x", "!a:x", "!e:x", "!d:x"]);
  });

  it("[cs: spaces] a child needs a room ID state key and a non-empty via list", () => {
    expect(validChild("!r:x", { via: ["x"], suggested: true, order: "1" })).toEqual({ roomId: "!r:x", suggested: true, order: "1" });
    expect(validChild("!r:x", { via: [] })).toBeNull();
    expect(validChild("!r:x", { via: "x" })).toBeNull();
    expect(validChild("!r:x", {})).toBeNull();
    expect(validChild("not-a-room", { via: ["x"] })).toBeNull();
    expect(validChild("!r:x", { via: ["x"], suggested: "yes" })?.suggested).toBe(false);
  });
});

describe("[cs: spaces] which rooms a user may see", () => {
  it("[cs: spaces] joined, invited, public, knockable, world_readable, or restricted with an allowed room joined", () => {
    const none = new Set<string>();
    expect(maySeeSummary(facts({ join_rule: "invite" }), none)).toBe(false);
    expect(maySeeSummary(facts({ join_rule: "invite" }, { membership: "join" }), none)).toBe(true);
    expect(maySeeSummary(facts({ join_rule: "invite" }, { membership: "invite" }), none)).toBe(true);
    expect(maySeeSummary(facts({ join_rule: "invite" }, { membership: "leave" }), none)).toBe(false);
    expect(maySeeSummary(facts({ join_rule: "public" }), none)).toBe(true);
    expect(maySeeSummary(facts({ join_rule: "knock" }, { knockable: true }), none)).toBe(true);
    expect(maySeeSummary(facts({ join_rule: "invite", world_readable: true }), none)).toBe(true);
    const restricted = facts({ join_rule: "restricted", allowed_room_ids: ["!s:x"] }, { restricted: true });
    expect(maySeeSummary(restricted, none)).toBe(false);
    expect(maySeeSummary(restricted, new Set(["!s:x"]))).toBe(true);
    expect(maySeeSummary(facts({ join_rule: "public" }, { membership: "ban" }), none)).toBe(false);
  });
});

describe("[cs: spaces] hierarchy page tokens", () => {
  it("round-trip; anything else is not a token", () => {
    const c = { maxDepth: 3, suggestedOnly: true, stack: [{ roomId: "!root:x", next: 2 }, { roomId: "!sub:x", next: 0 }] };
    expect(decodeCursor(encodeCursor(c), 3)).toEqual(c);
    expect(decodeCursor(encodeCursor(c), 1)).toBeNull(); // deeper than max_depth allows
    for (const bad of ["", "!!", "e30", encodeCursor({ ...c, stack: [] }), btoa(JSON.stringify({ d: 1, s: 0, k: [["x", 0]] }))]) {
      expect(decodeCursor(bad, 10), bad).toBeNull();
    }
  });
});
