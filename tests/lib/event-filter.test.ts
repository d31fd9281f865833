import { describe, expect, it } from "vitest";
import { MatrixError } from "../../lib/errors.ts";
import {
  effectiveLimit,
  eventMatchesFilter,
  lazyLoadMembers,
  parseRoomEventFilterParam,
  typeMatches,
  type FilterableEvent,
} from "../../lib/event-filter.ts";

const ev = (type: string, sender = "@a:x", content = {}, room_id = "!r:x"): FilterableEvent => ({ type, sender, content, room_id });

function errcodeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof MatrixError ? e.errcode : "not a MatrixError";
  }
  return undefined;
}

describe("RoomEventFilter", () => {
  it("[filter: types] '*' matches any sequence of characters", () => {
    expect(typeMatches("m.room.*", "m.room.message")).toBe(true);
    expect(typeMatches("m.room.*", "m.room.")).toBe(true);
    expect(typeMatches("m.room.*", "m.roomx")).toBe(false);
    expect(typeMatches("*", "anything")).toBe(true);
    expect(typeMatches("m.*.member", "m.room.member")).toBe(true);
    expect(typeMatches("m.*.member", "m.room.name")).toBe(false);
    // Other regex metacharacters are literal.
    expect(typeMatches("m.room.message", "mXroomXmessage")).toBe(false);
    expect(typeMatches("a+b*", "aab")).toBe(false);
    expect(typeMatches("a+b*", "a+bc")).toBe(true);
  });

  it("[filter: types] an absent list includes every type, an empty list none", () => {
    expect(eventMatchesFilter({}, ev("m.room.message"))).toBe(true);
    expect(eventMatchesFilter({ types: [] }, ev("m.room.message"))).toBe(false);
    expect(eventMatchesFilter({ types: ["m.room.message"] }, ev("m.room.message"))).toBe(true);
    expect(eventMatchesFilter({ types: ["m.room.message"] }, ev("m.room.name"))).toBe(false);
  });

  it("[filter: not_types] exclusion wins over inclusion", () => {
    expect(eventMatchesFilter({ types: ["m.room.*"], not_types: ["m.room.member"] }, ev("m.room.member"))).toBe(false);
    expect(eventMatchesFilter({ types: ["m.room.*"], not_types: ["m.room.member"] }, ev("m.room.topic"))).toBe(true);
    expect(eventMatchesFilter({ not_types: ["*"] }, ev("x"))).toBe(false);
  });

  it("[filter: senders/not_senders] exact user IDs, exclusion wins", () => {
    expect(eventMatchesFilter({ senders: ["@a:x"] }, ev("t", "@a:x"))).toBe(true);
    expect(eventMatchesFilter({ senders: ["@a:x"] }, ev("t", "@b:x"))).toBe(false);
    expect(eventMatchesFilter({ senders: ["@a:x"], not_senders: ["@a:x"] }, ev("t", "@a:x"))).toBe(false);
    expect(eventMatchesFilter({ not_senders: ["@b:x"] }, ev("t", "@a:x"))).toBe(true);
  });

  it("[filter: rooms/not_rooms] the event's room must be included and not excluded", () => {
    expect(eventMatchesFilter({ rooms: ["!r:x"] }, ev("t"))).toBe(true);
    expect(eventMatchesFilter({ rooms: ["!other:x"] }, ev("t"))).toBe(false);
    expect(eventMatchesFilter({ not_rooms: ["!r:x"] }, ev("t"))).toBe(false);
  });

  it("[filter: contains_url] true keeps only events with a url, false drops them", () => {
    const image = ev("m.room.message", "@a:x", { msgtype: "m.image", url: "mxc://x/y" });
    const text = ev("m.room.message", "@a:x", { body: "hi" });
    expect(eventMatchesFilter({ contains_url: true }, image)).toBe(true);
    expect(eventMatchesFilter({ contains_url: true }, text)).toBe(false);
    expect(eventMatchesFilter({ contains_url: false }, image)).toBe(false);
    expect(eventMatchesFilter({ contains_url: false }, text)).toBe(true);
  });

  it("[filter: limit] the filter's limit lowers the request's, the server caps both", () => {
    expect(effectiveLimit(undefined, {}, 10, 1000)).toBe(10);
    expect(effectiveLimit(50, { limit: 20 }, 10, 1000)).toBe(20);
    expect(effectiveLimit(5000, {}, 10, 1000)).toBe(1000);
    expect(effectiveLimit(0, {}, 10, 1000)).toBe(0);
  });

  it("[filter: lazy_load_members] senders are lazy-loaded; redundant ones only with include_redundant_members", () => {
    expect(lazyLoadMembers({}, ["@a:x"])).toEqual([]);
    expect(lazyLoadMembers({ lazy_load_members: true }, ["@a:x", "@b:x", "@a:x"])).toEqual(["@a:x", "@b:x"]);
    const sent = new Set(["@a:x"]);
    expect(lazyLoadMembers({ lazy_load_members: true }, ["@a:x", "@b:x"], sent)).toEqual(["@b:x"]);
    expect(lazyLoadMembers({ lazy_load_members: true, include_redundant_members: true }, ["@a:x", "@b:x"], sent)).toEqual(["@a:x", "@b:x"]);
  });

  it("[filter] the filter query parameter is JSON validated as a RoomEventFilter", () => {
    expect(parseRoomEventFilterParam(null)).toEqual({});
    expect(parseRoomEventFilterParam('{"types":["m.room.message"],"lazy_load_members":true}')).toEqual({ types: ["m.room.message"], lazy_load_members: true });
    expect(parseRoomEventFilterParam('{"unread_thread_notifications":true}')).toEqual({ unread_thread_notifications: true });
    expect(errcodeOf(() => parseRoomEventFilterParam("{not json"))).toBe("M_INVALID_PARAM");
    expect(errcodeOf(() => parseRoomEventFilterParam('{"types":"m.room.message"}'))).toBe("M_BAD_JSON");
    expect(errcodeOf(() => parseRoomEventFilterParam('{"limit":-1}'))).toBe("M_BAD_JSON");
    expect(errcodeOf(() => parseRoomEventFilterParam("[]"))).toBe("M_BAD_JSON");
    expect(errcodeOf(() => parseRoomEventFilterParam('{"a":1,"a":2}'))).toBe("M_INVALID_PARAM");
  });
});
