import { describe, expect, it } from "vitest";
import { assembleResponse, hasNews, type RoomSyncResult, type SyncParts } from "../../../lib/sync/response.ts";
import { LazyMemberCache } from "../../../lib/sync/lazy-members.ts";

const pos = { s: 1, r: 0, t: 0, b: 1 };
const ev = (id: string) => ({ event_id: id, type: "m.room.message", content: {}, sender: "@a", origin_server_ts: 1 });
const parts = (over: Partial<SyncParts>): SyncParts => ({
  nextBatch: "y1_0_0_0",
  rooms: [],
  roomAccountDataOnly: [],
  accountData: [],
  toDevice: [],
  deviceLists: { changed: [], left: [] },
  ...over,
});

describe("/sync response assembly", () => {
  it("[sync: response] an empty response is just next_batch (plus key counts) and has no news", () => {
    const r = assembleResponse(parts({ oneTimeKeyCounts: { signed_curve25519: 3 }, fallbackKeyTypes: [] }));
    expect(r).toEqual({ next_batch: "y1_0_0_0", device_one_time_keys_count: { signed_curve25519: 3 }, device_unused_fallback_key_types: [] });
    expect(hasNews(r)).toBe(false);
  });

  it("[sync: rooms] each room goes to the section of its membership", () => {
    const room = (membership: RoomSyncResult["membership"], extra: Partial<RoomSyncResult> = {}): RoomSyncResult => ({ membership, memberStream: 1, position: pos, ...extra });
    const r = assembleResponse(
      parts({
        rooms: [
          { roomId: "!j", result: room("join", { timeline: { events: [ev("$1")], limited: true, prev_batch: "s0" } }), accountData: [] },
          { roomId: "!i", result: room("invite", { stripped: [{ type: "m.room.name", state_key: "", content: { name: "x" }, sender: "@a" }] }), accountData: [] },
          { roomId: "!k", result: room("knock", { stripped: [] }), accountData: [] },
          { roomId: "!l", result: room("leave", { timeline: { events: [ev("$2")], limited: false } }), accountData: [] },
          { roomId: "!b", result: room("ban"), accountData: [] },
        ],
      }),
    );
    expect(Object.keys(r.rooms!.join!)).toEqual(["!j"]);
    expect(r.rooms!.join!["!j"]!.timeline).toEqual({ events: [ev("$1")], limited: true, prev_batch: "s0" });
    expect(r.rooms!.invite!["!i"]!.invite_state.events).toHaveLength(1);
    expect(r.rooms!.knock!["!k"]).toEqual({ knock_state: { events: [] } });
    expect(Object.keys(r.rooms!.leave!).sort()).toEqual(["!b", "!l"]);
    expect(hasNews(r)).toBe(true);
  });

  it("[sync: rooms.join] a joined room with nothing new is left out", () => {
    const r = assembleResponse(parts({ rooms: [{ roomId: "!j", result: { membership: "join", memberStream: 1, position: pos, timeline: { events: [], limited: false } }, accountData: [] }] }));
    expect(r.rooms).toBeUndefined();
  });

  it("[sync: rooms.join] counts alone are not news: the room is left out of an incremental sync, listed in an initial one", () => {
    const counted: RoomSyncResult = { membership: "join", memberStream: 1, position: pos, timeline: { events: [], limited: false }, unreadNotifications: { notification_count: 2, highlight_count: 0 } };
    const r = assembleResponse(parts({ rooms: [{ roomId: "!j", result: counted, accountData: [] }] }));
    expect(r.rooms).toBeUndefined();
    expect(hasNews(r)).toBe(false);
    const initial = assembleResponse(parts({ rooms: [{ roomId: "!j", result: counted, accountData: [] }], everyRoom: true }));
    expect(initial.rooms!.join!["!j"]).toEqual({ unread_notifications: { notification_count: 2, highlight_count: 0 } });
    const withEvent = assembleResponse(parts({ rooms: [{ roomId: "!j", result: { ...counted, timeline: { events: [ev("$1")], limited: false } }, accountData: [] }] }));
    expect(withEvent.rooms!.join!["!j"]!.unread_notifications).toEqual({ notification_count: 2, highlight_count: 0 });
  });

  it("[sync: account_data] room account data alone puts the room in join", () => {
    const r = assembleResponse(parts({ roomAccountDataOnly: [{ roomId: "!j", membership: "join", accountData: [{ type: "m.tag", content: {} }] }] }));
    expect(r.rooms!.join!["!j"]).toEqual({ account_data: { events: [{ type: "m.tag", content: {} }] } });
  });
});

describe("lazy-loaded members already sent", () => {
  it("[lazy-loading: include_redundant_members] members sent before are not sent again on the next sync", () => {
    const c = new LazyMemberCache();
    const s1 = c.begin("DEV", undefined);
    expect(s1.filter("!r", [ev("$m1")], false)).toHaveLength(1);
    s1.commit("tok1");
    const s2 = c.begin("DEV", "tok1");
    expect(s2.filter("!r", [ev("$m1"), ev("$m2")], false).map((e) => e.event_id)).toEqual(["$m2"]);
    expect(s2.filter("!r", [ev("$m1")], true)).toHaveLength(1);
  });

  it("[lazy-loading] a retried older token gets the members again (redundant, never missing)", () => {
    const c = new LazyMemberCache();
    const s1 = c.begin("DEV", undefined);
    s1.filter("!r", [ev("$m1")], false);
    s1.commit("tok1");
    const s2 = c.begin("DEV", "tok1");
    s2.filter("!r", [ev("$m2")], false);
    s2.commit("tok2");
    // tok2's response was lost: the client retries tok1.
    expect(c.begin("DEV", "tok1").filter("!r", [ev("$m1"), ev("$m2")], false)).toHaveLength(2);
  });

  it("[lazy-loading] an abandoned session leaves the record as it was; reset forgets a room", () => {
    const c = new LazyMemberCache();
    const s1 = c.begin("DEV", undefined);
    s1.filter("!r", [ev("$m1")], false);
    s1.commit("tok1");
    c.begin("DEV", "tok1").filter("!r", [ev("$m2")], false); // never committed
    const s3 = c.begin("DEV", "tok1");
    expect(s3.filter("!r", [ev("$m2")], false)).toHaveLength(1);
    s3.reset("!r");
    expect(s3.filter("!r", [ev("$m1")], false)).toHaveLength(1);
  });
});
