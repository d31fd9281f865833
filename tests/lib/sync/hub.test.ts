import { describe, expect, it } from "vitest";
import { HUB_ENTRY_TTL_MS, HubState, shardOf } from "../../../lib/sync/hub.ts";
import type { PublishedPosition } from "../../../lib/sync/position.ts";

const P = (s: number, r = 0, t = 0): PublishedPosition => ({ s, r, t, b: s });
const known = (s: number, r = 0, t = 0) => ({ s, r, t });

describe("sync hub shard", () => {
  it("[sync: catch-up] a room never published is unknown (ask the room), a published one is compared", () => {
    const h = new HubState();
    h.publish("!a", P(5), 0);
    const r = h.poll("@u", [["!a", known(5)], ["!b", known(1)]], [], 0, 1);
    expect(r.changed).toEqual([]);
    expect(r.unknown).toEqual(["!b"]);
    expect(h.poll("@u", [["!a", known(4)]], [], 0, 1).changed).toEqual([["!a", P(5)]]);
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
});
