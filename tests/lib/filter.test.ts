import { describe, expect, it } from "vitest";
import { isValidFilterId, validateFilter } from "../../lib/filter.ts";
import { MatrixError } from "../../lib/errors.ts";

function rejects(f: unknown, pathFragment: string) {
  try {
    validateFilter(f);
  } catch (e) {
    expect(e).toBeInstanceOf(MatrixError);
    expect((e as MatrixError).errcode).toBe("M_BAD_JSON");
    expect((e as MatrixError).status).toBe(400);
    expect((e as MatrixError).message).toContain(pathFragment);
    return;
  }
  throw new Error(`accepted ${JSON.stringify(f)}`);
}

describe("filter validation", () => {
  it("[filter] the spec's example filter is accepted unchanged", () => {
    const f = {
      event_fields: ["type", "content", "sender"],
      event_format: "client",
      presence: { not_senders: ["@alice:example.com"], types: ["m.presence"] },
      room: {
        ephemeral: { not_rooms: ["!726s6s6q:example.com"], not_senders: ["@spam:example.com"], types: ["m.receipt", "m.typing"] },
        rooms: ["!726s6s6q:example.com"],
        state: { not_rooms: ["!726s6s6q:example.com"], types: ["m.room.*"], lazy_load_members: true },
        timeline: { limit: 10, not_rooms: ["!726s6s6q:example.com"], not_senders: ["@spam:example.com"], types: ["m.room.message"], unread_thread_notifications: true },
        include_leave: false,
      },
    };
    expect(validateFilter(f)).toEqual(f);
  });

  it("[filter] the empty filter is valid", () => {
    expect(validateFilter({})).toEqual({});
  });

  it("[filter] unknown keys are kept", () => {
    expect(validateFilter({ "org.example.x": 1, room: { future: true } })).toEqual({ "org.example.x": 1, room: { future: true } });
  });

  it("[filter] the filter must be an object", () => {
    for (const f of [null, [], "x", 3]) rejects(f, "filter");
  });

  it("[filter: Filter] event_format is client or federation", () => {
    rejects({ event_format: "raw" }, "event_format");
    expect(() => validateFilter({ event_format: "federation" })).not.toThrow();
  });

  it("[filter: Filter] event_fields is an array of strings", () => {
    rejects({ event_fields: "type" }, "event_fields");
    rejects({ event_fields: [1] }, "event_fields[0]");
  });

  it("[filter: EventFilter] limit is a positive integer", () => {
    rejects({ presence: { limit: "10" } }, "presence.limit");
    rejects({ presence: { limit: 1.5 } }, "presence.limit");
    rejects({ room: { timeline: { limit: 0 } } }, "room.timeline.limit");
    rejects({ room: { timeline: { limit: -3 } } }, "room.timeline.limit");
  });

  it("[filter: EventFilter] senders are user IDs", () => {
    rejects({ account_data: { senders: ["alice"] } }, "account_data.senders[0]");
    rejects({ room: { state: { not_senders: [7] } } }, "room.state.not_senders[0]");
  });

  it("[filter: RoomFilter] rooms are room IDs", () => {
    rejects({ room: { rooms: ["#alias:example.com"] } }, "room.rooms[0]");
    rejects({ room: { timeline: { not_rooms: "!a:b" } } }, "room.timeline.not_rooms");
  });

  it("[filter: RoomEventFilter] booleans are booleans", () => {
    rejects({ room: { state: { lazy_load_members: "true" } } }, "room.state.lazy_load_members");
    rejects({ room: { timeline: { contains_url: 1 } } }, "room.timeline.contains_url");
    rejects({ room: { include_leave: "no" } }, "room.include_leave");
  });

  it("[filter: RoomFilter] sub-filters are objects", () => {
    rejects({ room: [] }, "room");
    rejects({ room: { timeline: [] } }, "room.timeline");
    rejects({ presence: 1 }, "presence");
  });

  it("[filter] IDs never start with '{' (that means inline JSON in /sync)", () => {
    expect(isValidFilterId("0")).toBe(true);
    expect(isValidFilterId("{")).toBe(false);
    expect(isValidFilterId("")).toBe(false);
  });
});
