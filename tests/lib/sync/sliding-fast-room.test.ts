import { describe, expect, it } from "vitest";
import type { SharedEvent, SharedReceipt } from "../../../lib/sync/shared-event.ts";
import type { SentRoom } from "../../../lib/sync/sliding/connection.ts";
import { countOn, countsUnchanged, fastSlidingRoom, mergeNews, rulesKey, type FastSlidingInput, type RoomNews } from "../../../lib/sync/sliding/fast-room.ts";
import { countUnread, readPositions, type CountedEvent } from "../../../lib/push/counts.ts";
import { defaultRuleset } from "../../../lib/push/default-rules.ts";

const ME = "@me:x";
const OTHER = "@other:x";

function ev(stream: number, p: { sender?: string; type?: string; stateKey?: string; content?: Record<string, unknown>; txn?: SharedEvent["txn"] } = {}): SharedEvent {
  const type = p.type ?? "m.room.message";
  const sender = p.sender ?? OTHER;
  const json: Record<string, unknown> = { event_id: `$e${stream}`, type, sender, origin_server_ts: 1000 + stream, content: p.content ?? { body: `m${stream}` }, unsigned: {} };
  if (p.stateKey !== undefined) json.state_key = p.stateKey;
  const e: SharedEvent = { stream, json: JSON.stringify(json), type, sender, originServerTs: 1000 + stream };
  if (p.stateKey !== undefined) e.stateKey = p.stateKey;
  if (p.txn) e.txn = p.txn;
  return e;
}

const rcpt = (pos: number, userId = OTHER, eventId = "$e1"): SharedReceipt => ({ pos, userId, type: "m.read", threadId: "", eventId, ts: 5 });

const sent: SentRoom = { m: "join", ms: 2, s: 10, tl: 5, rs: { include: [], exclude: [], lazyMembers: false }, lz: [], dm: false };

function input(news: RoomNews | undefined, over: Partial<FastSlidingInput> = {}): FastSlidingInput {
  return {
    userId: ME,
    deviceId: "D",
    news,
    pos: { s: 13, r: 0, t: 0, b: 1013 },
    sent,
    room: { since: 10, timelineLimit: 5, lazyMembers: false, liveAfterTs: 1011 },
    now: 2000,
    ...over,
  };
}

const news13: RoomNews = { from: 8, s: 13, events: [ev(9), ev(10), ev(11), ev(12), ev(13)] };

describe("sliding sync fast path: news", () => {
  it("[sliding: fast path] a delta continuing the news is appended; one that does not starts over; the oldest go past the bound", () => {
    let n = mergeNews(undefined, { s: 10, r: 0, t: 0 }, { roomId: "!r", pos: { s: 12, r: 0, t: 0, b: 1 }, events: [ev(11), ev(12)] }, 3, 10);
    expect([n.from, n.s, n.events.map((e) => e.stream)]).toEqual([10, 12, [11, 12]]);
    n = mergeNews(n, { s: 12, r: 0, t: 0 }, { roomId: "!r", pos: { s: 14, r: 0, t: 0, b: 1 }, events: [ev(13), ev(14)] }, 3, 10);
    expect([n.from, n.s, n.events.map((e) => e.stream)]).toEqual([11, 14, [12, 13, 14]]);
    // Known from elsewhere (a room answer) at 15: the old news do not continue to it.
    n = mergeNews(n, { s: 15, r: 0, t: 0 }, { roomId: "!r", pos: { s: 16, r: 0, t: 0, b: 1 }, events: [ev(16)] }, 3, 10);
    expect([n.from, n.s, n.events.map((e) => e.stream)]).toEqual([15, 16, [16]]);
    // Only the newest after a gap the shard reports without state: those, and the gap marked quiet.
    const gap = mergeNews(n, { s: 16, r: 0, t: 0 }, { roomId: "!r", pos: { s: 90, r: 0, t: 0, b: 1 }, events: [ev(89), ev(90)], limited: true }, 3, 10);
    expect([gap.from, gap.s, gap.events.map((e) => e.stream), gap.quietFrom]).toEqual([88, 90, [89, 90], 16]);
    // No events held by the shard: nothing before the new position is known.
    const none = mergeNews(n, { s: 16, r: 0, t: 0 }, { roomId: "!r", pos: { s: 20, r: 0, t: 0, b: 1 } }, 3, 10);
    expect([none.from, none.s, none.events]).toEqual([20, 20, []]);
  });

  it("[sliding: fast path] events dropped past the bound leave a quiet gap when they are plain, none when one is state or a redaction", () => {
    const plain = mergeNews(undefined, { s: 10, r: 0, t: 0 }, { roomId: "!r", pos: { s: 14, r: 0, t: 0, b: 1 }, events: [ev(11), ev(12), ev(13), ev(14)] }, 2, 10);
    expect([plain.from, plain.events.map((e) => e.stream), plain.quietFrom]).toEqual([12, [13, 14], 10]);
    const more = mergeNews(plain, { s: 14, r: 0, t: 0 }, { roomId: "!r", pos: { s: 15, r: 0, t: 0, b: 1 }, events: [ev(15)] }, 2, 10);
    expect([more.from, more.events.map((e) => e.stream), more.quietFrom]).toEqual([13, [14, 15], 10]);
    const state = mergeNews(undefined, { s: 10, r: 0, t: 0 }, { roomId: "!r", pos: { s: 14, r: 0, t: 0, b: 1 }, events: [ev(11), ev(12, { type: "m.room.topic", stateKey: "" }), ev(13), ev(14)] }, 2, 10);
    expect([state.from, state.quietFrom]).toEqual([12, undefined]);
    const redaction = mergeNews(undefined, { s: 10, r: 0, t: 0 }, { roomId: "!r", pos: { s: 14, r: 0, t: 0, b: 1 }, events: [ev(11), ev(12, { type: "m.room.redaction" }), ev(13), ev(14)] }, 2, 10);
    expect([redaction.from, redaction.quietFrom]).toEqual([12, undefined]);
  });

  it("[sliding: fast path] receipts and typing are kept only while contiguous with the known position", () => {
    let n = mergeNews(undefined, { s: 5, r: 1, t: 0 }, { roomId: "!r", pos: { s: 5, r: 3, t: 2, b: 1 }, events: [], receipts: [rcpt(2), rcpt(3)], typing: [OTHER] }, 8, 10);
    expect(n.receipts).toEqual({ from: 1, to: 3, entries: [rcpt(2), rcpt(3)] });
    expect(n.typing).toEqual({ t: 2, users: [OTHER] });
    n = mergeNews(n, { s: 5, r: 3, t: 2 }, { roomId: "!r", pos: { s: 6, r: 4, t: 2, b: 1 }, events: [ev(6)], receipts: [rcpt(4)] }, 8, 10);
    expect(n.receipts).toEqual({ from: 1, to: 4, entries: [rcpt(2), rcpt(3), rcpt(4)] });
    expect(n.typing).toEqual({ t: 2, users: [OTHER] });
    // Receipts moved but the shard did not have them; typing moved without the set.
    n = mergeNews(n, { s: 6, r: 4, t: 2 }, { roomId: "!r", pos: { s: 6, r: 6, t: 3, b: 1 }, events: [] }, 8, 10);
    expect(n.receipts).toBeUndefined();
    expect(n.typing).toBeUndefined();
  });
});

describe("sliding sync fast path: room result", () => {
  it("[sliding: fast path] plain messages: timeline since the sent position, num_live, the sending device's transaction_id", () => {
    const news: RoomNews = { from: 8, s: 13, events: [ev(9), ev(10), ev(11), ev(12, { sender: ME, txn: { deviceId: "D", txnId: "t1" } }), ev(13, { sender: ME, txn: { deviceId: "E", txnId: "t2" } })] };
    const a = fastSlidingRoom(input(news))!;
    expect(a.room!.timeline.map((e) => e.event_id)).toEqual(["$e11", "$e12", "$e13"]);
    expect(a.room!.timeline.map((e) => e.unsigned)).toEqual([
      { age: 989, membership: "join" },
      { age: 988, membership: "join", transaction_id: "t1" },
      { age: 987, membership: "join" },
    ]);
    expect([a.room!.limited, a.room!.prevBatch, a.room!.numLive, a.room!.stream, a.memberStream, a.position.b]).toEqual([false, undefined, 2, 13, 2, 1013]);
  });

  it("[sliding: fast path] behind the news across a quiet gap: the newest timeline_limit events, limited, as the room answers; not when the news cannot fill the timeline or the gap may hold state", () => {
    const quiet: RoomNews = { from: 10, s: 13, events: [ev(11), ev(12), ev(13)], quietFrom: 4 };
    const a = fastSlidingRoom(input(quiet, { room: { since: 6, timelineLimit: 2, lazyMembers: false, liveAfterTs: 0 } }))!;
    expect(a.room!.timeline.map((e) => e.event_id)).toEqual(["$e12", "$e13"]);
    expect([a.room!.limited, a.room!.prevBatch, a.room!.stream]).toEqual([true, "s11", 13]);
    // Exactly as many news as the limit: still limited (the gap is not shown).
    const b = fastSlidingRoom(input(quiet, { room: { since: 6, timelineLimit: 3, lazyMembers: false, liveAfterTs: 0 } }))!;
    expect([b.room!.timeline.length, b.room!.limited, b.room!.prevBatch]).toEqual([3, true, "s10"]);
    // The news cannot fill a longer timeline: the room's older events would be missing.
    expect(fastSlidingRoom(input(quiet, { room: { since: 6, timelineLimit: 4, lazyMembers: false, liveAfterTs: 0 } }))).toBeUndefined();
    // The connection is behind the quiet gap's start: what lies before it is unknown.
    expect(fastSlidingRoom(input(quiet, { room: { since: 3, timelineLimit: 2, lazyMembers: false, liveAfterTs: 0 } }))).toBeUndefined();
    // No quiet gap: as before, only the room can answer.
    expect(fastSlidingRoom(input({ ...quiet, quietFrom: undefined }, { room: { since: 6, timelineLimit: 2, lazyMembers: false, liveAfterTs: 0 } }))).toBeUndefined();
  });

  it("[sliding: fast path] more than the timeline limit: the newest, limited, prev_batch before the first; limit 0: no events, limited", () => {
    const a = fastSlidingRoom(input(news13, { room: { since: 10, timelineLimit: 2, lazyMembers: false, liveAfterTs: 0 } }))!;
    expect(a.room!.timeline.map((e) => e.event_id)).toEqual(["$e12", "$e13"]);
    expect([a.room!.limited, a.room!.prevBatch, a.room!.numLive]).toEqual([true, "s11", 0]);
    const z = fastSlidingRoom(input(news13, { room: { since: 10, timelineLimit: 0, lazyMembers: false, liveAfterTs: 0 } }))!;
    expect([z.room!.timeline, z.room!.limited, z.room!.prevBatch]).toEqual([[], true, "s13"]);
  });

  it("[sliding: fast path] only the room answers: news not reaching back far enough or not up to the position, state, member, redaction, relation, unsent lazy member", () => {
    expect(fastSlidingRoom(input(undefined))).toBeUndefined();
    expect(fastSlidingRoom(input({ ...news13, from: 11, events: news13.events.slice(3) }))).toBeUndefined();
    expect(fastSlidingRoom(input(news13, { pos: { s: 14, r: 0, t: 0, b: 1 } }))).toBeUndefined();
    for (const odd of [ev(12, { type: "m.room.topic", stateKey: "" }), ev(12, { type: "m.room.redaction", content: { redacts: "$e11" } }), ev(12, { content: { body: "*", "m.relates_to": { rel_type: "m.replace", event_id: "$e11" } } })]) {
      const events = [...news13.events];
      events[3] = odd;
      expect(fastSlidingRoom(input({ ...news13, events }))).toBeUndefined();
    }
    // A state event in the gap before the shown window still changes required_state.
    const hidden = [...news13.events];
    hidden[2] = ev(11, { type: "m.room.name", stateKey: "" });
    expect(fastSlidingRoom(input({ ...news13, events: hidden }, { room: { since: 10, timelineLimit: 1, lazyMembers: false, liveAfterTs: 0 } }))).toBeUndefined();
    const lazy = { since: 10, timelineLimit: 5, lazyMembers: true, liveAfterTs: 0 };
    expect(fastSlidingRoom(input(news13, { room: lazy }))).toBeUndefined();
    expect(fastSlidingRoom(input(news13, { room: lazy, sent: { ...sent, lz: [OTHER] } }))).toBeDefined();
  });

  it("[sliding: fast path] receipts since the extension's position and the typing set, only when the news hold them", () => {
    const news: RoomNews = { ...news13, receipts: { from: 1, to: 3, entries: [rcpt(2, OTHER, "$e9"), rcpt(3, ME, "$e10")] }, typing: { t: 4, users: [OTHER] } };
    const pos = { s: 13, r: 3, t: 4, b: 1 };
    const a = fastSlidingRoom(input(news, { pos, room: undefined, receiptsSince: 2, typing: true }))!;
    expect(a.receipts).toEqual({ position: 3, content: { $e10: { "m.read": { [ME]: { ts: 5 } } } } });
    expect(a.typing).toEqual([OTHER]);
    expect(a.room).toBeUndefined();
    expect(fastSlidingRoom(input(news, { pos, room: undefined, receiptsSince: -1 }))).toBeUndefined();
    expect(fastSlidingRoom(input(news, { pos, room: undefined, receiptsSince: 0 }))).toBeUndefined();
    expect(fastSlidingRoom(input(news, { pos: { ...pos, t: 5 }, room: undefined, typing: true }))).toBeUndefined();
  });

  it("[sliding: counts] counts hold after the user's own events and others' receipts, not after another's event or the user's receipt", () => {
    const own: RoomNews = { from: 8, s: 12, events: [ev(11, { sender: ME }), ev(12, { sender: ME })], receipts: { from: 1, to: 3, entries: [rcpt(2), rcpt(3)] } };
    expect(countsUnchanged(own, ME, { s: 12, r: 3, t: 0 }, 10, 1)).toBe(true);
    expect(countsUnchanged({ ...own, events: [ev(11, { sender: ME }), ev(12)] }, ME, { s: 12, r: 3, t: 0 }, 10, 1)).toBe(false);
    expect(countsUnchanged({ ...own, receipts: { from: 1, to: 3, entries: [rcpt(2), rcpt(3, ME)] } }, ME, { s: 12, r: 3, t: 0 }, 10, 1)).toBe(false);
    expect(countsUnchanged({ ...own, receipts: undefined }, ME, { s: 12, r: 3, t: 0 }, 10, 1)).toBe(false);
    expect(countsUnchanged(own, ME, { s: 12, r: 3, t: 0 }, 7, 1)).toBe(false);
    expect(countsUnchanged(undefined, ME, { s: 12, r: 3, t: 0 }, 10, 1)).toBe(false);
    expect(rulesKey("{}")).not.toBe(rulesKey("{ }"));
  });

  describe("counting on (countOn)", () => {
    const rules = defaultRuleset(ME);
    const point = { displayName: "Me", roomMemberCount: 3 };
    const lv = (e: SharedEvent): SharedEvent => ({ ...e, senderLevel: 0 });
    const from = { n: [2, 0] as [number, number], at: 10, examined: 2, countedR: 1 };
    const base = { userId: ME, roomId: "!r:x", point, ruleset: rules, scanLimit: 1000, from };
    const news: RoomNews = {
      from: 8,
      s: 13,
      events: [ev(9), ev(10), ev(11), ev(12, { sender: ME }), ev(13, { content: { body: "hi", "m.mentions": { user_ids: [ME] } } })].map(lv),
    };

    it("[sliding: counts on] new messages of others are counted with the room's rules and context, as the room would count them", () => {
      const on = countOn({ ...base, news, pos: { s: 13, r: 1, t: 0 } });
      // What the room counts over the same candidates (others' events after stream 10).
      const asRoom = countUnread(
        news.events.filter((e) => e.stream > 10 && e.sender !== ME).map((e): CountedEvent => ({ stream: e.stream, event: { ...JSON.parse(e.json), room_id: "!r:x" }, threadId: "main", senderPowerLevel: 0 })),
        readPositions([]),
        { userId: ME, ...point },
        rules,
        false,
      );
      expect(on).toEqual({ n: [2 + asRoom.room.notification_count, asRoom.room.highlight_count], at: 13, examined: 4 });
      expect(on!.n).toEqual([4, 1]);
    });

    it("[sliding: counts on] only the room counts after a state event, a redaction, the user's own receipt, a gap in the news or an event without its sender's level", () => {
      const pos = { s: 13, r: 1, t: 0 };
      expect(countOn({ ...base, news: { ...news, events: [...news.events.slice(0, 3), lv(ev(12, { type: "m.room.topic", stateKey: "" })), news.events[4]!] }, pos })).toBeUndefined();
      expect(countOn({ ...base, news: { ...news, events: [...news.events.slice(0, 3), lv(ev(12, { type: "m.room.redaction" })), news.events[4]!] }, pos })).toBeUndefined();
      expect(countOn({ ...base, news: { ...news, receipts: { from: 1, to: 2, entries: [rcpt(2, ME)] } }, pos: { ...pos, r: 2 } })).toBeUndefined();
      expect(countOn({ ...base, news: { ...news, receipts: { from: 1, to: 2, entries: [rcpt(2)] } }, pos: { ...pos, r: 2 } })).toEqual({ n: [4, 1], at: 13, examined: 4 });
      expect(countOn({ ...base, news: { ...news, from: 11 }, pos })).toBeUndefined();
      expect(countOn({ ...base, news, pos: { ...pos, s: 14 } })).toBeUndefined();
      expect(countOn({ ...base, news: { ...news, events: news.events.map((e) => ({ ...e, senderLevel: undefined })) }, pos })).toBeUndefined();
    });

    it("[sliding: counts on] past the scan limit the counts stop growing, like the room's", () => {
      expect(countOn({ ...base, scanLimit: 3, news, pos: { s: 13, r: 1, t: 0 } })).toEqual({ n: [3, 0], at: 13, examined: 3 });
      expect(countOn({ ...base, scanLimit: 2, news, pos: { s: 13, r: 1, t: 0 } })).toEqual({ n: [2, 0], at: 13, examined: 2 });
    });
  });
});
