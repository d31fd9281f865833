// A room's directory entry from its current state, and the PublishedRoomsChunk built from it.
import { describe, expect, it } from "vitest";
import { directoryEntry, isPublicForUserDirectory, plainTextTopic, toChunk, type EntryState } from "../../../lib/directory/entry.ts";
import type { JsonObject } from "../../../lib/json.ts";

function state(events: Record<string, JsonObject>): EntryState {
  return { get: (type, key) => (key === "" && events[type] ? { content: events[type] } : undefined) };
}

const FULL = state({
  "m.room.create": { room_version: "11", type: "m.space" },
  "m.room.name": { name: "Cheese" },
  "m.room.topic": { topic: "Tasty tasty cheese" },
  "m.room.avatar": { url: "mxc://example.org/abc" },
  "m.room.canonical_alias": { alias: "#cheese:example.org", alt_aliases: ["#fromage:example.org"] },
  "m.room.join_rules": { join_rule: "public" },
  "m.room.history_visibility": { history_visibility: "world_readable" },
  "m.room.guest_access": { guest_access: "can_join" },
});

describe("[cs: publicRooms/chunk] entries from room state", () => {
  it("[cs: publicRooms/chunk] every field is read from its state event", () => {
    const e = directoryEntry(FULL, 37);
    expect(toChunk("!r:example.org", e)).toEqual({
      room_id: "!r:example.org",
      num_joined_members: 37,
      world_readable: true,
      guest_can_join: true,
      name: "Cheese",
      topic: "Tasty tasty cheese",
      avatar_url: "mxc://example.org/abc",
      canonical_alias: "#cheese:example.org",
      join_rule: "public",
      room_type: "m.space",
    });
  });

  it("[cs: publicRooms/chunk] a room with no optional state has only the required fields", () => {
    const e = directoryEntry(state({ "m.room.create": { room_version: "11" } }), 1);
    expect(toChunk("!r:example.org", e)).toEqual({ room_id: "!r:example.org", num_joined_members: 1, world_readable: false, guest_can_join: false });
  });

  it("[cs: publicRooms/chunk] empty name, topic, avatar and alias mean none; a non-URI avatar is left out", () => {
    const e = directoryEntry(
      state({ "m.room.name": { name: "" }, "m.room.topic": { topic: "" }, "m.room.avatar": { url: "not a uri" }, "m.room.canonical_alias": { alias: "" } }),
      2,
    );
    expect([e.name, e.topic, e.avatarUrl, e.canonicalAlias]).toEqual([null, null, null, null]);
  });

  it("[cs: publicRooms/chunk] guest_can_join only for guest_access can_join; world_readable only for that visibility", () => {
    const e = directoryEntry(state({ "m.room.guest_access": { guest_access: "forbidden" }, "m.room.history_visibility": { history_visibility: "shared" } }), 0);
    expect([e.guestCanJoin, e.worldReadable]).toEqual([false, false]);
  });

  it("[cs: publicRooms/chunk] a redacted canonical alias or one breaking the grammar is left out", () => {
    expect(directoryEntry(state({ "m.room.canonical_alias": {} }), 0).canonicalAlias).toBeNull();
    expect(directoryEntry(state({ "m.room.canonical_alias": { alias: "nope" } }), 0).canonicalAlias).toBeNull();
  });
});

describe("[cs: m.room.topic] plain-text topic", () => {
  it("[cs: m.room.topic] `topic` is the plain text; otherwise the text/plain representation of m.topic", () => {
    expect(plainTextTopic({ topic: "plain", "m.topic": { "m.text": [{ body: "other" }] } })).toBe("plain");
    expect(plainTextTopic({ topic: "", "m.topic": { "m.text": [{ mimetype: "text/html", body: "<b>x</b>" }, { body: "x" }] } })).toBe("x");
    expect(plainTextTopic({ "m.topic": { "m.text": [{ mimetype: "text/plain", body: "y" }] } })).toBe("y");
    expect(plainTextTopic({ "m.topic": { "m.text": [{ mimetype: "text/html", body: "<b>x</b>" }] } })).toBeNull();
    expect(plainTextTopic(undefined)).toBeNull();
  });
});

describe("[cs: user_directory/search] public rooms for the user directory", () => {
  it("[cs: user_directory/search] a public join rule or world_readable history makes a room public", () => {
    expect(isPublicForUserDirectory({ joinRule: "public", worldReadable: false })).toBe(true);
    expect(isPublicForUserDirectory({ joinRule: "invite", worldReadable: true })).toBe(true);
    expect(isPublicForUserDirectory({ joinRule: "knock", worldReadable: false })).toBe(false);
    expect(isPublicForUserDirectory({ joinRule: null, worldReadable: false })).toBe(false);
  });
});
