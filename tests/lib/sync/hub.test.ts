import { describe, expect, it } from "vitest";
import { HUB_ENTRY_TTL_MS, HubState, MAX_BUFFERED_EVENTS, MAX_BUFFERED_TOTAL, shardOf } from "../../../lib/sync/hub.ts";
import type { PublishedPosition } from "../../../lib/sync/position.ts";
import type { SharedEvent } from "../../../lib/sync/shared-event.ts";

const P = (s: number, r = 0, t = 0): PublishedPosition => ({ s, r, t, b: s });
const known = (s: number, r = 0, t = 0) => ({ s, r, t });

const ev = (stream: number, type = "m.room.message"): SharedEvent => ({ stream, json: JSON.stringify({ event_id: `$${stream}`, type, sender: "@s", content: { n: stream }, origin_server_ts: 1 }), type, sender: "@s", originServerTs: 1 });

describe("sync hub shard", () => {
  it("[sync: catch-up] a room never published is unknown (ask the room), a published one is compared", () => {
    const h = new HubState();
    h.publish("!a", P(5), 0);
    const r = h.poll("@u", [["!a", known(5)], ["!b", known(1)]], [], 0, 1);
    expect(r.changed).toEqual([]);
    expect(r.unknown).toEqual(["!b"]);
    expect(h.poll("@u", [["!a", known(4)]], [], 0, 1).changed).toEqual([{ roomId: "!a", pos: P(5) }]);
  });

  it("[sync: catch-up] any of the three streams moving counts; the bump stamp alone does not", () => {
    const h = new HubState();
    h.publish("!a", { s: 5, r: 2, t: 7, b: 9 }, 0);
    expect(h.poll("@u", [["!a", known(5, 2, 7)]], [], 0, 1).changed).toEqual([]);
    expect(h.poll("@u", [["!a", known(5, 1, 7)]], [], 0, 1).changed.length).toBe(1);
    expect(h.poll("@u", [["!a", known(5, 2, 6)]], [], 0, 1).changed.length).toBe(1);
  });

  it("[sync: long-poll] an armed user is woken once by a publish ahead of it, then disarmed", () => {
    const h = new HubState();
    h.publish("!a", P(5), 0);
    expect(h.poll("@u", [["!a", known(5)]], [], 10_000, 1).armed).toBe(true);
    expect(h.publish("!a", P(5), 2)).toEqual([]); // not ahead: no wake
    expect(h.publish("!a", P(6), 3)).toEqual([{ userId: "@u", rooms: [["!a", P(6)]] }]);
    expect(h.publish("!a", P(7), 4)).toEqual([]);
    expect(h.stats().armed).toBe(0);
  });

  it("[sync: long-poll] a poll that finds changes does not arm (the sync answers at once)", () => {
    const h = new HubState();
    h.publish("!a", P(5), 0);
    expect(h.poll("@u", [["!a", known(4)]], [], 10_000, 1).armed).toBe(false);
    expect(h.publish("!a", P(6), 2)).toEqual([]);
  });

  it("[sync: long-poll] a room unknown to the shard still wakes an armed user when it first publishes", () => {
    const h = new HubState();
    expect(h.poll("@u", [["!new", known(3)]], [], 10_000, 1)).toMatchObject({ unknown: ["!new"], armed: true });
    expect(h.publish("!new", P(3), 2)).toEqual([]);
    expect(h.publish("!new", P(4), 2)).toHaveLength(1);
  });

  it("[sync: long-poll] arming expires with the long-poll", () => {
    const h = new HubState();
    h.poll("@u", [["!a", known(1)]], [], 100, 1);
    expect(h.publish("!a", P(2), 101)).toEqual([]);
  });

  it("[sync: catch-up] positions never move backwards; seeds merge like publishes", () => {
    const h = new HubState();
    h.publish("!a", P(9), 0);
    h.publish("!a", P(3), 1);
    expect(h.positions(["!a"], 2).get("!a")).toEqual(P(9));
    h.poll("@u", [], [["!b", P(4)]], 0, 3);
    expect(h.positions(["!b"], 4).get("!b")).toEqual(P(4));
  });

  it("[sync: failure bounds] entries expire after the TTL and are unknown again", () => {
    const h = new HubState();
    h.publish("!a", P(1), 0);
    expect(h.poll("@u", [["!a", known(1)]], [], 0, HUB_ENTRY_TTL_MS - 1).unknown).toEqual([]);
    expect(h.poll("@u", [["!a", known(1)]], [], 0, HUB_ENTRY_TTL_MS).unknown).toEqual(["!a"]);
  });

  it("[sync: fan-out] only armed users of the room are woken, each once", () => {
    const h = new HubState();
    for (let i = 0; i < 100; i++) h.poll(`@u${i}`, [[i % 2 ? "!a" : "!b", known(0)]], [], 10_000, 0);
    const woken = h.publish("!a", P(1), 1).map((w) => w.userId);
    expect(woken).toHaveLength(50);
    expect(new Set(woken).size).toBe(50);
    expect(h.stats().armed).toBe(50);
  });

  it("shard choice is stable and spreads rooms", () => {
    expect(shardOf("!abc:example.org", 16)).toBe(shardOf("!abc:example.org", 16));
    const counts = new Array(16).fill(0);
    for (let i = 0; i < 1600; i++) counts[shardOf(`!room${i}:example.org`, 16)]++;
    for (const c of counts) expect(c).toBeGreaterThan(50);
  });

  it("[sync: fast path] a shard that holds every event after the client's position returns them", () => {
    const h = new HubState();
    h.publish("!a", P(2), 0, { from: 0, events: [ev(1), ev(2)] });
    h.publish("!a", P(3), 0, { from: 2, events: [ev(3)] });
    const d = h.poll("@u", [["!a", known(1)]], [], 0, 1, 10).changed[0]!;
    expect(d.events!.map((e) => e.stream)).toEqual([2, 3]);
  });

  it("[sync: fast path] no events when the shard misses some (restart, lost publish) or there are more than asked", () => {
    const h = new HubState();
    h.publish("!a", P(5), 0, { from: 3, events: [ev(4), ev(5)] });
    expect(h.poll("@u", [["!a", known(2)]], [], 0, 1, 10).changed[0]!.events).toBeUndefined(); // 3 is missing
    expect(h.poll("@u", [["!a", known(3)]], [], 0, 1, 1).changed[0]!.events).toBeUndefined(); // 2 events > 1
    h.publish("!a", P(9), 0, { from: 7, events: [ev(8), ev(9)] }); // not contiguous: starts over
    expect(h.poll("@u", [["!a", known(5)]], [], 0, 1, 10).changed[0]!.events).toBeUndefined();
    expect(h.poll("@u", [["!a", known(7)]], [], 0, 1, 10).changed[0]!.events!.map((e) => e.stream)).toEqual([8, 9]);
  });

  it("[sync: fast path] the buffer keeps the newest MAX_BUFFERED_EVENTS; typing travels with its serial", () => {
    const h = new HubState();
    const events = Array.from({ length: MAX_BUFFERED_EVENTS + 10 }, (_, i) => ev(i + 1));
    h.publish("!a", { s: events.length, r: 0, t: 7, b: 0 }, 0, { from: 0, events, typing: ["@x"] });
    const n = events.length;
    expect(h.poll("@u", [["!a", known(9)]], [], 0, 1, MAX_BUFFERED_EVENTS).changed[0]!.events).toBeUndefined();
    const d = h.poll("@u", [["!a", known(10)]], [], 0, 1, MAX_BUFFERED_EVENTS).changed[0]!;
    expect(d.events).toHaveLength(n - 10);
    expect(d.typing).toEqual(["@x"]);
  });

  it("[sync: fast path] over all rooms a shard keeps at most MAX_BUFFERED_TOTAL events; the least recently active rooms lose theirs first", () => {
    const h = new HubState();
    const rooms = Math.ceil(MAX_BUFFERED_TOTAL / MAX_BUFFERED_EVENTS) + 2;
    for (let i = 0; i < rooms; i++) {
      const events = Array.from({ length: MAX_BUFFERED_EVENTS }, (_, j) => ev(j + 1));
      h.publish(`!r${i}`, { s: events.length, r: 0, t: 0, b: 0 }, 0, { from: 0, events });
    }
    const held = (i: number) => h.poll("@u", [[`!r${i}`, known(0)]], [], 0, 1, MAX_BUFFERED_EVENTS).changed[0]!.events?.length ?? 0;
    expect(held(0)).toBe(0);
    expect(held(1)).toBe(0);
    expect(held(rooms - 1)).toBe(MAX_BUFFERED_EVENTS);
    let total = 0;
    for (let i = 0; i < rooms; i++) total += held(i);
    expect(total).toBeLessThanOrEqual(MAX_BUFFERED_TOTAL);
  });

  it("[sync: long-poll] armAhead arms at the positions of the answer, so the next change wakes", () => {
    const h = new HubState();
    h.publish("!a", P(5), 0);
    const r = h.poll("@u", [["!a", known(3)]], [], 10_000, 1, 10, true);
    expect(r.armed).toBe(true);
    expect(h.publish("!a", P(5), 2)).toEqual([]);
    expect(h.publish("!a", P(6), 3)).toHaveLength(1);
  });

  it("[sync: limited] a listener behind by more than its limit gets the newest events, limited, when no state changed in the gap", () => {
    const h = new HubState();
    const events = Array.from({ length: 30 }, (_, i) => ev(i + 1));
    h.publish("!a", P(30), 0, { from: 0, events, stateStream: 3 });
    const d = h.poll("@u", [["!a", known(5)]], [], 0, 1, 10).changed[0]!;
    expect(d.limited).toBe(true);
    expect(d.events!.map((e) => e.stream)).toEqual([21, 22, 23, 24, 25, 26, 27, 28, 29, 30]);
    // A state change in the gap: only the room can give the state delta.
    expect(h.poll("@u", [["!a", known(2)]], [], 0, 1, 10).changed[0]!.events).toBeUndefined();
  });

  it("[sync: receipts] receipts after the client's receipt position come from the shard when it holds them all", () => {
    const h = new HubState();
    const rc = (pos: number, userId = "@a") => ({ pos, userId, type: "m.read", threadId: "", eventId: `$${pos}`, ts: pos });
    h.publish("!a", { s: 1, r: 2, t: 0, b: 1 }, 0, { from: 1, events: [], receipts: { from: 0, entries: [rc(1), rc(2)] } });
    h.publish("!a", { s: 1, r: 3, t: 0, b: 1 }, 0, { from: 1, events: [], receipts: { from: 2, entries: [rc(3)] } });
    expect(h.poll("@u", [["!a", { s: 1, r: 1, t: 0 }]], [], 0, 1, 10).changed[0]!.receipts!.map((r) => r.pos)).toEqual([2, 3]);
    // A publish that does not follow on (lost in between): start over from it.
    h.publish("!a", { s: 1, r: 9, t: 0, b: 1 }, 0, { from: 7, events: [], receipts: { from: 7, entries: [rc(8), rc(9)] } });
    expect(h.poll("@u", [["!a", { s: 1, r: 3, t: 0 }]], [], 0, 1, 10).changed[0]!.receipts).toBeUndefined();
    expect(h.poll("@u", [["!a", { s: 1, r: 7, t: 0 }]], [], 0, 1, 10).changed[0]!.receipts).toHaveLength(2);
  });
});
