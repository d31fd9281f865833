import { describe, expect, it } from "vitest";
import type { RoomView } from "../../../lib/sync/position.ts";
import { entriesAfter, fastRoomResult, parsedSharedEvent, receiptContent, type FastPathInput, type SharedEvent } from "../../../lib/sync/shared-event.ts";

const ev = (stream: number, over: Partial<SharedEvent> = {}): SharedEvent => {
  const type = over.type ?? "m.room.message";
  const sender = over.sender ?? "@bob";
  return {
    stream,
    json: JSON.stringify({ event_id: `$${stream}`, type, sender, content: { body: `m${stream}` }, origin_server_ts: 1000, unsigned: {} }),
    type,
    sender,
    originServerTs: 1000,
    ...over,
  };
};
const view: RoomView = { m: "join", ms: 1, s: 10, r: 3, t: 0 };
const input = (over: Partial<FastPathInput> = {}): FastPathInput => ({
  userId: "@me",
  deviceId: "DEV",
  view,
  delta: { roomId: "!r", pos: { s: 12, r: 3, t: 0, b: 12 }, events: [ev(11), ev(12)] },
  timeline: { limit: 10 },
  lazy: undefined,
  ephemeralWanted: true,
  now: 1500,
  ...over,
});

describe("sync fast path (hub-held events)", () => {
  it("[sync: timeline] new events with the reader's unsigned fields; prev_batch before the first", () => {
    const r = fastRoomResult(input())!;
    expect(r.timeline!.events.map((e) => e.event_id)).toEqual(["$11", "$12"]);
    expect(r.timeline!.events[0]!.unsigned).toEqual({ age: 500, membership: "join" });
    expect(r.timeline!.limited).toBe(false);
    expect(r.timeline!.prev_batch).toBe("s10");
    expect(r.position.s).toBe(12);
  });

  it("[sync: transaction_id] only the sending device sees its transaction ID", () => {
    const mine = ev(11, { sender: "@me", txn: { deviceId: "DEV", txnId: "t1" } });
    const other = ev(12, { sender: "@me", txn: { deviceId: "OTHER", txnId: "t2" } });
    const r = fastRoomResult(input({ delta: { roomId: "!r", pos: { s: 12, r: 3, t: 0, b: 12 }, events: [mine, other] } }))!;
    expect(r.timeline!.events[0]!.unsigned!.transaction_id).toBe("t1");
    expect(r.timeline!.events[1]!.unsigned!.transaction_id).toBeUndefined();
  });

  it("[filter: timeline] the timeline filter applies to hub-held events", () => {
    const r = fastRoomResult(input({ timeline: { limit: 10, not_senders: ["@bob"] } }))!;
    expect(r.timeline!.events).toEqual([]);
  });

  it("[sync: fast path] only the room can answer: member events, receipts, gaps beyond the limit, missing events, not joined", () => {
    const pos = { s: 12, r: 3, t: 0, b: 12 };
    expect(fastRoomResult(input({ delta: { roomId: "!r", pos, events: [ev(11), ev(12, { type: "m.room.member", stateKey: "@x" })] } }))).toBeUndefined();
    expect(fastRoomResult(input({ delta: { roomId: "!r", pos: { ...pos, r: 4 }, events: [ev(11), ev(12)] } }))).toBeUndefined(); // receipts moved, not held
    expect(fastRoomResult(input({ timeline: { limit: 1 } }))).toBeUndefined();
    expect(fastRoomResult(input({ delta: { roomId: "!r", pos } }))).toBeUndefined();
    expect(fastRoomResult(input({ view: { ...view, m: "leave" } }))).toBeUndefined();
  });

  it("[lazy-loading] a sender whose member event this device lacks needs the room", () => {
    expect(fastRoomResult(input({ lazy: () => false }))).toBeUndefined();
    expect(fastRoomResult(input({ lazy: (u) => u === "@bob" }))).toBeDefined();
  });

  it("[sync: typing] a changed typing set travels with the events; without the set, the room answers", () => {
    const pos = { s: 12, r: 3, t: 5, b: 12 };
    const r = fastRoomResult(input({ delta: { roomId: "!r", pos, events: [], typing: ["@bob"] } }))!;
    expect(r.ephemeral).toEqual([{ type: "m.typing", content: { user_ids: ["@bob"] } }]);
    expect(fastRoomResult(input({ delta: { roomId: "!r", pos, events: [] } }))).toBeUndefined();
  });

  it("[sync: limited] hub events after a gap without state changes make a limited timeline", () => {
    const pos = { s: 40, r: 3, t: 0, b: 40 };
    const r = fastRoomResult(input({ timeline: { limit: 2 }, delta: { roomId: "!r", pos, events: [ev(39), ev(40)], limited: true } }))!;
    expect(r.timeline!.limited).toBe(true);
    expect(r.timeline!.prev_batch).toBe("s38");
    expect(fastRoomResult(input({ timeline: { limit: 3 }, delta: { roomId: "!r", pos, events: [ev(39), ev(40)], limited: true } }))).toBeUndefined();
  });

  it("[receipts] m.receipt from hub-held receipts: the latest per user, type and thread; others' private receipts left out", () => {
    const r = (pos: number, userId: string, type: string, eventId: string, threadId = "") => ({ pos, userId, type, threadId, eventId, ts: pos });
    const content = receiptContent([r(1, "@a", "m.read", "$1"), r(2, "@a", "m.read", "$2"), r(3, "@b", "m.read.private", "$2"), r(4, "@me", "m.read.private", "$2"), r(5, "@c", "m.read", "$1", "$root")], "@me");
    expect(content).toEqual({
      $2: { "m.read": { "@a": { ts: 2 } }, "m.read.private": { "@me": { ts: 4 } } },
      $1: { "m.read": { "@c": { ts: 5, thread_id: "$root" } } },
    });
  });

  it("[sync: fast path] receipts that moved need the shard's receipts (or the room)", () => {
    const pos = { s: 12, r: 5, t: 0, b: 12 };
    expect(fastRoomResult(input({ delta: { roomId: "!r", pos, events: [] } }))).toBeUndefined();
    const ok = fastRoomResult(input({ delta: { roomId: "!r", pos, events: [], receipts: [{ pos: 5, userId: "@bob", type: "m.read", threadId: "", eventId: "$9", ts: 7 }] } }))!;
    expect(ok.ephemeral).toEqual([{ type: "m.receipt", content: { $9: { "m.read": { "@bob": { ts: 7 } } } } }]);
  });
});

describe("shared events: positions and parsing", () => {
  it("entriesAfter returns exactly the entries after a stream position, as a filter would", () => {
    const streams = [3, 4, 7, 8, 9, 15];
    const entries = streams.map((stream) => ({ stream }));
    for (let s = 0; s <= 16; s++) {
      expect(entriesAfter(entries, s, (e) => e.stream)).toEqual(entries.filter((e) => e.stream > s));
    }
    expect(entriesAfter([], 5, (e: { stream: number }) => e.stream)).toEqual([]);
  });

  it("a shared event's JSON is parsed once and the same object is given to every reader", () => {
    const json = JSON.stringify({ type: "m.room.message", sender: "@a:x", content: { body: "once" }, event_id: "$once", origin_server_ts: 1 });
    const a = parsedSharedEvent({ stream: 1, json, type: "m.room.message", sender: "@a:x", originServerTs: 1 });
    // Another reader's copy of the event (an RPC gives each reader its own object).
    const b = parsedSharedEvent({ stream: 1, json: `${json}`, type: "m.room.message", sender: "@a:x", originServerTs: 1 });
    expect(b).toBe(a);
    expect(a.content).toEqual({ body: "once" });
  });
});
