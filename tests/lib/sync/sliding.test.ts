import { describe, expect, it } from "vitest";
import { MatrixError } from "../../../lib/errors.ts";
import {
  applyInline,
  inlineDelta,
  decodeConnectionState,
  decodePos,
  emptyConnectionState,
  encodeConnectionState,
  encodePos,
  inScope,
  rememberLazy,
  roomAction,
  MAX_LAZY_REMEMBERED,
  type SentRoom,
} from "../../../lib/sync/sliding/connection.ts";
import { applyList, combineConfigs, matchesFilters, needsRoomMeta, requiredStateExpanded, sortByRecency, type ListRoom } from "../../../lib/sync/sliding/lists.ts";
import { lazyMembersFor, selectState, stateWanted } from "../../../lib/sync/sliding/required-state.ts";
import { parseRequiredState, parseSlidingRequest, type RequiredState } from "../../../lib/sync/sliding/request.ts";
import { roomResultJson, type SlidingRoomAnswer } from "../../../lib/sync/sliding/room-result.ts";

const room = (roomId: string, recency: number, over: Partial<ListRoom> = {}): ListRoom => ({ roomId, membership: "join", recency, isDm: false, tags: [], ...over });
const rs = (pairs: Array<[string, string]>): RequiredState => parseRequiredState(pairs, "rs", 100);
const errcode = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    if (e instanceof MatrixError) return e.errcode;
    throw e;
  }
  return "none";
};

describe("sliding sync list maths (MSC4186 lists)", () => {
  const rooms = sortByRecency([room("!a", 10), room("!b", 30), room("!c", 20), room("!d", 20), room("!e", 5, { membership: "invite" })]);

  it("[sliding: recency] most recent first, ties by room ID", () => {
    expect(rooms.map((r) => r.roomId)).toEqual(["!b", "!c", "!d", "!a", "!e"]);
  });

  it("[sliding: ranges] inclusive ranges over the filtered list; count ignores the ranges", () => {
    expect(applyList(rooms, { filters: {}, ranges: [[0, 1]] })).toEqual({ count: 5, roomIds: ["!b", "!c"] });
    expect(applyList(rooms, { filters: {}, ranges: [[3, 9]] })).toEqual({ count: 5, roomIds: ["!a", "!e"] });
    expect(applyList(rooms, { filters: {}, ranges: [[0, 0], [2, 3], [1, 2]] }).roomIds).toEqual(["!b", "!c", "!d", "!a"]);
    expect(applyList(rooms, { filters: {}, ranges: [[10, 20]] })).toEqual({ count: 5, roomIds: [] });
    expect(applyList(rooms, { filters: {} }).roomIds).toHaveLength(5);
    expect(applyList(rooms, { filters: { isInvite: true }, ranges: [[0, 9]] })).toEqual({ count: 1, roomIds: ["!e"] });
    expect(applyList(rooms, { filters: { isInvite: false }, ranges: [[0, 0]] })).toEqual({ count: 4, roomIds: ["!b"] });
  });

  it("[sliding: filters] is_dm, is_encrypted, room_types / not_room_types (null = no type), tags / not_tags", () => {
    const dm = room("!dm", 1, { isDm: true });
    const space = room("!s", 1, { roomType: "m.space" });
    const enc = room("!e", 1, { encrypted: true, tags: ["m.favourite"] });
    expect(matchesFilters(dm, { isDm: true })).toBe(true);
    expect(matchesFilters(dm, { isDm: false })).toBe(false);
    // spaces: only the children the server found for them; without its answer, nothing.
    expect(matchesFilters(dm, { spaces: ["!s:x"], inRooms: new Set([dm.roomId]) })).toBe(true);
    expect(matchesFilters(dm, { spaces: ["!s:x"], inRooms: new Set(["!other:x"]) })).toBe(false);
    expect(matchesFilters(dm, { spaces: ["!s:x"] })).toBe(false);
    expect(matchesFilters(enc, { isEncrypted: true })).toBe(true);
    expect(matchesFilters(space, { isEncrypted: true })).toBe(false);
    expect(matchesFilters(space, { roomTypes: ["m.space"] })).toBe(true);
    expect(matchesFilters(enc, { roomTypes: [null] })).toBe(true);
    expect(matchesFilters(space, { roomTypes: [null] })).toBe(false);
    expect(matchesFilters(space, { notRoomTypes: ["m.space"] })).toBe(false);
    // not_room_types wins over room_types.
    expect(matchesFilters(space, { roomTypes: ["m.space"], notRoomTypes: ["m.space"] })).toBe(false);
    expect(matchesFilters(enc, { tags: ["m.favourite"] })).toBe(true);
    expect(matchesFilters(enc, { tags: ["m.favourite"], notTags: ["m.favourite"] })).toBe(false);
    expect(matchesFilters(dm, { tags: ["m.favourite"] })).toBe(false);
    expect(needsRoomMeta({ isDm: true, tags: ["x"] })).toBe(false);
    expect(needsRoomMeta({ notRoomTypes: ["m.space"] })).toBe(true);
  });

  it("[sliding: combining room configs] the longest timeline and the union of required state", () => {
    const a = { timelineLimit: 1, requiredState: rs([["m.room.name", ""]]) };
    const b = { timelineLimit: 20, requiredState: rs([["m.room.member", "$LAZY"], ["m.room.name", ""], ["m.room.topic", ""]]) };
    const c = combineConfigs([a, b]);
    expect(c.timelineLimit).toBe(20);
    expect(c.requiredState.lazyMembers).toBe(true);
    expect(c.requiredState.include).toEqual([{ type: "m.room.name", stateKey: "" }, { type: "m.room.topic", stateKey: "" }]);
  });

  it("[sliding: changing room configs] an expansion is a pattern not covered before, or lazy members switched on", () => {
    expect(requiredStateExpanded(rs([["*", "*"]]), rs([["m.room.name", ""]]))).toBe(false);
    expect(requiredStateExpanded(rs([["m.room.name", ""]]), rs([["*", "*"]]))).toBe(true);
    expect(requiredStateExpanded(rs([["m.room.name", ""]]), rs([["m.room.name", ""], ["m.room.topic", ""]]))).toBe(true);
    expect(requiredStateExpanded(rs([["m.room.name", ""]]), rs([["m.room.member", "$LAZY"]]))).toBe(true);
    expect(requiredStateExpanded(rs([["m.room.member", "*"]]), rs([["m.room.member", "@a:x"]]))).toBe(false);
  });
});

describe("sliding sync required_state (MSC4186 RequiredStateRequest)", () => {
  it("[sliding: required_state] wildcards in type and state key, $ME, exclusions", () => {
    const me = "@me:x";
    expect(stateWanted(rs([["*", "*"]]), me, "m.room.anything", "k")).toBe(true);
    expect(stateWanted(rs([["m.room.member", "*"]]), me, "m.room.member", "@o:x")).toBe(true);
    expect(stateWanted(rs([["*", ""]]), me, "m.room.member", "@o:x")).toBe(false);
    expect(stateWanted(rs([["*", ""]]), me, "m.room.name", "")).toBe(true);
    expect(stateWanted(rs([["m.room.member", "$ME"]]), me, "m.room.member", me)).toBe(true);
    expect(stateWanted(rs([["m.room.member", "$ME"]]), me, "m.room.member", "@o:x")).toBe(false);
    const withExclude = parseRequiredState({ include: [{}], exclude: [{ type: "m.room.create", state_key: "" }] }, "rs", 100);
    expect(stateWanted(withExclude, me, "m.room.create", "")).toBe(false);
    expect(stateWanted(withExclude, me, "m.room.name", "")).toBe(true);
    expect(stateWanted(rs([]), me, "m.room.name", "")).toBe(false);
  });

  it("[sliding: $LAZY] members of timeline senders and member-event targets, once per connection", () => {
    const current: Array<[string, string]> = [["m.room.create", ""], ["m.room.member", "@a:x"], ["m.room.member", "@b:x"], ["m.room.member", "@c:x"]];
    const users = lazyMembersFor([{ type: "m.room.message", sender: "@a:x" }, { type: "m.room.member", sender: "@a:x", state_key: "@b:x" }]);
    expect([...users].sort()).toEqual(["@a:x", "@b:x"]);
    const lazy = rs([["m.room.member", "$LAZY"], ["m.room.create", ""]]);
    const first = selectState({ rs: lazy, userId: "@me:x", current, timelineUsers: users, lazySent: new Set(), limited: true });
    expect(first.keys).toEqual([["m.room.create", ""], ["m.room.member", "@a:x"], ["m.room.member", "@b:x"]]);
    expect(first.lazy).toEqual(["@a:x", "@b:x"]);
    // Incremental: already sent members are not sent again unless they changed; an unlimited
    // timeline also carries every member change.
    const again = selectState({
      rs: lazy,
      userId: "@me:x",
      current,
      changed: [["m.room.member", "@c:x"]],
      timelineUsers: new Set(["@a:x"]),
      lazySent: new Set(["@a:x", "@b:x"]),
      limited: false,
    });
    expect(again.keys).toEqual([["m.room.member", "@c:x"]]);
    const gappy = selectState({ rs: lazy, userId: "@me:x", current, changed: [["m.room.member", "@c:x"]], timelineUsers: new Set(["@a:x"]), lazySent: new Set(["@a:x"]), limited: true });
    expect(gappy.keys).toEqual([]);
    // Incremental without lazy members: only changed entries the patterns want.
    const inc = selectState({ rs: rs([["*", "*"]]), userId: "@me:x", current, changed: [["m.room.create", ""]], timelineUsers: new Set(), lazySent: new Set(), limited: false });
    expect(inc.keys).toEqual([["m.room.create", ""]]);
  });
});

describe("sliding sync connections (MSC4186 Connections)", () => {
  const cfg = { timelineLimit: 5, requiredState: rs([["m.room.name", ""]]) };
  const sent: SentRoom = { m: "join", ms: 3, s: 10, tl: 5, rs: cfg.requiredState, lz: [], dm: false };

  it("[sliding: room results] whole when new, a delta when events arrived, nothing otherwise", () => {
    expect(roomAction(undefined, { m: "join", ms: 3, s: 10 }, cfg)).toEqual({ kind: "initial" });
    expect(roomAction(sent, { m: "join", ms: 3, s: 10 }, cfg)).toEqual({ kind: "none" });
    expect(roomAction(sent, { m: "join", ms: 3, s: 12 }, cfg)).toEqual({ kind: "incremental", since: 10 });
    // The user left: the timeline up to the leave.
    expect(roomAction(sent, { m: "leave", ms: 12, s: 12 }, cfg)).toEqual({ kind: "incremental", since: 10 });
    // Re-invited after leaving: whole (stripped state).
    expect(roomAction({ ...sent, m: "leave" }, { m: "invite", ms: 15, s: 15 }, cfg)).toEqual({ kind: "initial" });
    expect(roomAction({ ...sent, m: "invite" }, { m: "invite", ms: 3, s: 20 }, cfg)).toEqual({ kind: "none" });
    // A wider config sends the room again whole; a narrower one does not.
    expect(roomAction(sent, { m: "join", ms: 3, s: 10 }, { ...cfg, timelineLimit: 6 })).toEqual({ kind: "initial" });
    expect(roomAction(sent, { m: "join", ms: 3, s: 10 }, { ...cfg, timelineLimit: 1 })).toEqual({ kind: "none" });
    expect(roomAction(sent, { m: "join", ms: 3, s: 10 }, { ...cfg, requiredState: rs([["*", "*"]]) })).toEqual({ kind: "initial" });
  });

  it("[sliding: pos] positions round-trip; anything else is not a position", () => {
    expect(decodePos(encodePos(35, 7))).toEqual({ connection: 35, seq: 7 });
    for (const bad of ["", "1", "1_2_3", "x!_1", "_1", "1_", "a".repeat(40)]) expect(decodePos(bad)).toBeUndefined();
  });

  it("[sliding: pos] an inline delta rides in the pos: what new messages move round-trips; anything else is stored", () => {
    const base = emptyConnectionState();
    base.rooms.set("!a:x", { ...sent, n: [1, 0], cr: 4, nh: "k", cs: 10, ce: 1 });
    base.rooms.set("!b:x", { ...sent, s: 3 });
    base.receipts.set("!a:x", 4);
    base.ts = 1000;
    const next = decodeConnectionState(encodeConnectionState(base));
    next.rooms.set("!a:x", { ...next.rooms.get("!a:x")!, s: 14, n: [3, 1], cs: 14, ce: 3, cr: 5 });
    next.receipts.set("!a:x", 5);
    next.ts = 2000;
    const inline = inlineDelta(base, next)!;
    expect(inline).toBeDefined();
    expect(encodeConnectionState(applyInline(base, inline)!)).toBe(encodeConnectionState(next));
    const pos = encodePos(3, 9, inline);
    expect(decodePos(pos)).toEqual({ connection: 3, seq: 9, inline });
    // A new room, a changed membership or lazy-member list, list counts: not inline.
    const added = decodeConnectionState(encodeConnectionState(next));
    added.rooms.set("!c:x", sent);
    expect(inlineDelta(base, added)).toBeUndefined();
    const lazy = decodeConnectionState(encodeConnectionState(next));
    lazy.rooms.set("!b:x", { ...lazy.rooms.get("!b:x")!, lz: ["@m:x"] });
    expect(inlineDelta(base, lazy)).toBeUndefined();
    const counted = decodeConnectionState(encodeConnectionState(next));
    counted.counts.set("all", 2);
    expect(inlineDelta(base, counted)).toBeUndefined();
    // Nothing moved: nothing to carry.
    expect(inlineDelta(base, base)).toBeUndefined();
    // An inline part that does not fit the stored version is not a position of ours.
    for (const bad of ["r9:1:::::", "q0:1", "r0:zz!", "e3:4", "z", "r0:1:2"]) expect(applyInline(base, bad)).toBeUndefined();
    expect(decodePos("1_2~")).toBeUndefined();
  });

  it("[sliding: state] the connection state survives its stored form, list keys like __proto__ included", () => {
    const s = emptyConnectionState();
    s.rooms.set("!r:x", { ...sent, n: [1, 0], cr: 4 });
    s.counts.set("__proto__", 3);
    s.receipts.set("!r:x", 9);
    s.globalAccountData = 5;
    s.ts = 123;
    const back = decodeConnectionState(encodeConnectionState(s));
    expect(back.rooms.get("!r:x")).toEqual({ ...sent, n: [1, 0], cr: 4 });
    expect(back.counts.get("__proto__")).toBe(3);
    expect(back.receipts.get("!r:x")).toBe(9);
    expect(back.globalAccountData).toBe(5);
    expect(back.deviceLists).toBeUndefined();
    expect(back.ts).toBe(123);
  });

  it("[sliding: $LAZY] remembered lazy members are bounded, newest kept", () => {
    const many = Array.from({ length: MAX_LAZY_REMEMBERED + 10 }, (_, i) => `@u${i}:x`);
    const kept = rememberLazy([], many, true);
    expect(kept).toHaveLength(MAX_LAZY_REMEMBERED);
    expect(kept[kept.length - 1]).toBe(many[many.length - 1]);
    expect(rememberLazy(["@a:x", "@b:x"], ["@a:x"], false)).toEqual(["@b:x", "@a:x"]);
  });

  it("[sliding: extensions] scope: named lists or * , subscribed rooms or *", () => {
    expect(inScope({ lists: "*", rooms: [] }, ["l"], false, "!r")).toBe(true);
    expect(inScope({ lists: ["other"], rooms: [] }, ["l"], false, "!r")).toBe(false);
    expect(inScope({ lists: [], rooms: ["!r"] }, [], true, "!r")).toBe(true);
    expect(inScope({ lists: [], rooms: "*" }, [], false, "!r")).toBe(false);
  });
});

describe("sliding sync request body", () => {
  it("[sliding: request] the shapes clients send, normalised", () => {
    const req = parseSlidingRequest({
      conn_id: "room-list",
      txn_id: "t",
      lists: { all: { ranges: [[0, 19]], timeline_limit: 1, required_state: [["m.room.member", "$LAZY"], ["*", "*"]], filters: { is_invite: false, not_room_types: ["m.space", null] } } },
      room_subscriptions: { "!r:x": { timeline_limit: 9999, required_state: [["m.room.topic", ""]] } },
      extensions: { to_device: { enabled: true, since: "12" }, e2ee: { enabled: true }, receipts: { enabled: true, lists: ["all"] }, typing: { enabled: false } },
      unsubscribe_rooms: ["!old:x"],
    });
    expect(req.connId).toBe("room-list");
    const all = req.lists.get("all")!;
    expect(all.ranges).toEqual([[0, 19]]);
    expect(all.requiredState).toEqual({ include: [{}], exclude: [], lazyMembers: true });
    expect(all.filters).toEqual({ isInvite: false, notRoomTypes: ["m.space", null] });
    expect(req.subscriptions.get("!r:x")!.timelineLimit).toBe(500); // capped
    expect(req.extensions).toEqual({ toDevice: { since: 12, limit: 100 }, e2ee: true, receipts: { lists: ["all"], rooms: "*" } });
    // The MSC's newer shapes.
    const newer = parseSlidingRequest({ lists: { a: { range: [2, 4], timeline_limit: 0, required_state: { include: [{ type: "m.room.name" }], lazy_members: true }, filters: { is_invited: true } } } });
    expect(newer.lists.get("a")).toMatchObject({ ranges: [[2, 4]], filters: { isInvite: true }, requiredState: { include: [{ type: "m.room.name" }], lazyMembers: true } });
  });

  it("[sliding: errors] wrong shapes are M_BAD_JSON, bad values M_INVALID_PARAM", () => {
    expect(errcode(() => parseSlidingRequest([]))).toBe("M_BAD_JSON");
    expect(errcode(() => parseSlidingRequest({ lists: { a: { ranges: [[1]] } } }))).toBe("M_BAD_JSON");
    expect(errcode(() => parseSlidingRequest({ lists: { a: { ranges: [[3, 1]] } } }))).toBe("M_INVALID_PARAM");
    expect(errcode(() => parseSlidingRequest({ lists: { a: { timeline_limit: -1 } } }))).toBe("M_INVALID_PARAM");
    expect(errcode(() => parseSlidingRequest({ lists: { a: { timeline_limit: 1.5 } } }))).toBe("M_BAD_JSON");
    expect(errcode(() => parseSlidingRequest({ lists: { a: { required_state: [["a", 1]] } } }))).toBe("M_BAD_JSON");
    expect(errcode(() => parseSlidingRequest({ lists: { a: { filters: { is_dm: "yes" } } } }))).toBe("M_BAD_JSON");
    expect(errcode(() => parseSlidingRequest({ lists: { a: { filters: { room_name_like: "x" } } } }))).toBe("M_INVALID_PARAM");
    expect(parseSlidingRequest({ lists: { a: { filters: { spaces: ["!s:x"] } } } }).lists.get("a")!.filters.spaces).toEqual(["!s:x"]);
    expect(errcode(() => parseSlidingRequest({ conn_id: "has space" }))).toBe("M_INVALID_PARAM");
    expect(errcode(() => parseSlidingRequest({ room_subscriptions: { "@user:x": { timeline_limit: 1 } } }))).toBe("M_INVALID_PARAM");
    expect(errcode(() => parseSlidingRequest({ extensions: { to_device: { enabled: true, limit: 0 } } }))).toBe("M_INVALID_PARAM");
    const tooMany = Object.fromEntries(Array.from({ length: 3 }, (_, i) => [`l${i}`, {}]));
    expect(errcode(() => parseSlidingRequest({ lists: tooMany }, { maxLists: 2, maxSubscriptions: 1, maxTimelineLimit: 10, maxRequiredState: 5 }))).toBe("M_INVALID_PARAM");
  });
});

describe("sliding sync room result", () => {
  const answer: SlidingRoomAnswer = {
    membership: "join",
    memberStream: 2,
    position: { s: 9, r: 0, t: 0, b: 1000 },
    encrypted: false,
    roomType: null,
    membershipTs: 500,
    room: { name: null, avatar: null, heroes: [{ user_id: "@b:x" }], joinedCount: 2, invitedCount: 0, timeline: [], limited: false, numLive: 0, requiredState: [], lazy: [], stream: 9 },
  };

  it("[sliding: room fields] initial results omit unset name/avatar; incremental ones say null when removed", () => {
    const initial = roomResultJson({ answer, initial: true, isDm: false, dmChanged: false, lists: ["all"] });
    expect(initial).toMatchObject({ initial: true, membership: "join", lists: ["all"], bump_stamp: 1000, heroes: [{ user_id: "@b:x" }], joined_count: 2, timeline: [] });
    expect("name" in initial).toBe(false);
    const inc = roomResultJson({ answer, initial: false, isDm: true, dmChanged: true, lists: [], counts: { notification_count: 2, highlight_count: 1 } });
    expect(inc).toMatchObject({ name: null, avatar: null, is_dm: true, notification_count: 2, highlight_count: 1 });
    expect(inc.initial).toBeUndefined();
    expect(inc.lists).toBeUndefined();
    const invite = roomResultJson({ answer: { ...answer, membership: "invite", room: { ...answer.room!, stripped: [] } }, initial: true, isDm: false, dmChanged: false, lists: [] });
    expect(invite.invite_state).toEqual([]);
    expect(invite.bump_stamp).toBe(500);
    expect(invite.timeline).toBeUndefined();
  });
});
