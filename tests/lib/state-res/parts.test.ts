import { describe, expect, it } from "vitest";
import { stateKey, type StateMap } from "../../../lib/pdu.ts";
import { roomVersionRules } from "../../../lib/room-versions.ts";
import { authDifference, fullAuthChains } from "../../../lib/state-res/auth-difference.ts";
import { conflictedSubgraph } from "../../../lib/state-res/conflicted-subgraph.ts";
import { mainline, mainlineSort } from "../../../lib/state-res/mainline-sort.ts";
import { isPowerEvent, reverseTopologicalPowerSort, sortPowerEvents } from "../../../lib/state-res/power-sort.ts";
import { senderPowerLevel } from "../../../lib/state-res/sender-power.ts";
import { splitConflicted } from "../../../lib/state-res/split-conflicted.ts";
import { BinaryHeap } from "../../../lib/state-res/binary-heap.ts";
import { ev, storeOf } from "./graph.ts";

const v11 = roomVersionRules("11")!;
const v9 = roomVersionRules("9")!;
const v12 = roomVersionRules("12")!;
const K = (t: string, k = "") => stateKey(t, k);

describe("split into unconflicted and conflicted", () => {
  it("[state-res: unconflicted state map] a key with the same event in every map is unconflicted", () => {
    const a: StateMap = new Map([[K("m.room.create"), "$c"], [K("m.room.topic"), "$t1"], [K("m.room.name"), "$n"]]);
    const b: StateMap = new Map([[K("m.room.create"), "$c"], [K("m.room.topic"), "$t2"]]);
    const { unconflicted, conflicted } = splitConflicted([a, b]);
    expect([...unconflicted]).toEqual([[K("m.room.create"), "$c"]]);
    expect(conflicted.get(K("m.room.topic"))).toEqual(new Set(["$t1", "$t2"]));
    // present in only one map: conflicted even without a competing event
    expect(conflicted.get(K("m.room.name"))).toEqual(new Set(["$n"]));
  });
  it("[state-res: unconflicted state map] one map is all unconflicted; none is empty", () => {
    const a: StateMap = new Map([[K("m.room.create"), "$c"]]);
    expect(splitConflicted([a]).conflicted.size).toBe(0);
    expect(splitConflicted([]).unconflicted.size).toBe(0);
  });
});

describe("auth difference", () => {
  it("[state-res: auth difference] is the union of the full auth chains minus their intersection", () => {
    expect(authDifference([new Set(["a", "b", "c"]), new Set(["a", "c", "d"]), new Set(["a", "c"])])).toEqual(new Set(["b", "d"]));
    expect(authDifference([new Set(["a"])]).size).toBe(0);
  });
  it("[state-res: auth difference] the full auth chain of a state map is the union of its events' chains", () => {
    const store = storeOf([ev("$c", []), ev("$j", ["$c"]), ev("$p1", ["$c", "$j"]), ev("$p2", ["$c", "$j"])]);
    const chains = fullAuthChains([new Map([["x", "$p1"]]), new Map([["x", "$p2"], ["y", "$j"]])], store);
    expect(chains).toEqual([new Set(["$c", "$j"]), new Set(["$c", "$j"])]);
  });
});

describe("conflicted state subgraph (v2.1)", () => {
  // c ← j ← p1 ← p2 ← p3 ; x ← p3 ; side ← p2 (side is not on a path from a conflicted event)
  const store = storeOf([
    ev("$c", []), ev("$j", ["$c"]), ev("$p1", ["$c", "$j"]), ev("$side", ["$c"]),
    ev("$p2", ["$p1", "$side"]), ev("$x", []), ev("$p3", ["$p2", "$x"]),
  ]);
  it("[state-res v2.1: conflicted subgraph] holds the events on auth paths between conflicted events", () => {
    expect(conflictedSubgraph(new Set(["$p3", "$p1"]), store)).toEqual(new Set(["$p3", "$p2", "$p1"]));
  });
  it("[state-res v2.1: conflicted subgraph] unrelated conflicted events give no path", () => {
    expect(conflictedSubgraph(new Set(["$p1", "$x"]), store).size).toBe(0);
    expect(conflictedSubgraph(new Set(["$p3"]), store).size).toBe(0);
  });
});

describe("power events and reverse topological power ordering", () => {
  it("[state-res: power events] power levels, join rules, create, and kicks/bans of others", () => {
    expect(isPowerEvent(ev("$1", [], { type: "m.room.power_levels" }))).toBe(true);
    expect(isPowerEvent(ev("$2", [], { type: "m.room.join_rules" }))).toBe(true);
    expect(isPowerEvent(ev("$3", [], { type: "m.room.member", state_key: "@bob:x", content: { membership: "ban" } }))).toBe(true);
    expect(isPowerEvent(ev("$4", [], { type: "m.room.member", state_key: "@bob:x", sender: "@bob:x", content: { membership: "leave" } }))).toBe(false);
    expect(isPowerEvent(ev("$5", [], { type: "m.room.member", state_key: "@bob:x", content: { membership: "join" } }))).toBe(false);
    expect(isPowerEvent(ev("$6", [], { type: "m.room.topic" }))).toBe(false);
    expect(isPowerEvent(ev("$7", [], { type: "m.room.power_levels", state_key: "x" }))).toBe(false);
  });
  it("[state-res: reverse topological power ordering] auth events first, then power desc, ts asc, id asc", () => {
    const graph = new Map([["$a", []], ["$b", []], ["$c", []], ["$d", ["$a"]], ["$e", []]]);
    const keys: Record<string, [number, number]> = { $a: [50, 5], $b: [100, 9], $c: [50, 5], $d: [100, 0], $e: [50, 1] };
    const sorted = reverseTopologicalPowerSort(graph, (id) => ({ powerLevel: keys[id]![0], originServerTs: keys[id]![1] }));
    // $b (power 100) first; $d (100) must wait for $a; then 50s by ts, then id
    expect(sorted).toEqual(["$b", "$e", "$a", "$d", "$c"]);
  });
  it("[state-res: reverse topological power ordering] power is read from the sender's power levels auth event", () => {
    const store = storeOf([
      ev("$create", [], { type: "m.room.create", content: { creator: "@alice:example.com" } }),
      ev("$pl", ["$create"], { type: "m.room.power_levels", content: { users: { "@alice:example.com": 100, "@bob:x": 50 } } }),
      ev("$jr-bob", ["$create", "$pl"], { type: "m.room.join_rules", sender: "@bob:x", origin_server_ts: 1 }),
      ev("$jr-alice", ["$create", "$pl"], { type: "m.room.join_rules", origin_server_ts: 2 }),
      ev("$jr-carol", ["$create", "$pl"], { type: "m.room.join_rules", sender: "@carol:x", origin_server_ts: 0 }),
      ev("$topic", ["$create", "$pl"], { origin_server_ts: 0 }),
    ]);
    const full = new Set(["$jr-bob", "$jr-alice", "$jr-carol", "$topic", "$pl"]);
    // $topic is not a power event and not in a power event's auth chain; $pl is both
    expect(sortPowerEvents(full, store, v11)).toEqual(["$pl", "$jr-alice", "$jr-bob", "$jr-carol"]);
  });
  it("[state-res: reverse topological power ordering] creators: 100 without power levels before v12, infinite since v12", () => {
    const create11 = ev("$create", [], { type: "m.room.create", content: {} });
    const store11 = storeOf([create11]);
    const byAlice = ev("$x", ["$create"]);
    const byBob = ev("$y", ["$create"], { sender: "@bob:x" });
    expect(senderPowerLevel(byAlice, { store: store11, rules: v11 })).toBe(100);
    expect(senderPowerLevel(byBob, { store: store11, rules: v11 })).toBe(0);
    const create12 = ev("$room", [], { type: "m.room.create", room_id: undefined, content: { additional_creators: ["@bob:x"] } });
    const pl = ev("$pl", [], { type: "m.room.power_levels", room_id: "!room", content: { users: { "@carol:x": 100 }, users_default: 7 } });
    const store12 = storeOf([create12, pl]);
    const e12 = (sender: string) => ev("$z", ["$pl"], { sender, room_id: "!room" });
    expect(senderPowerLevel(e12("@alice:example.com"), { store: store12, rules: v12 })).toBe(Infinity);
    expect(senderPowerLevel(e12("@bob:x"), { store: store12, rules: v12 })).toBe(Infinity);
    expect(senderPowerLevel(e12("@carol:x"), { store: store12, rules: v12 })).toBe(100);
    expect(senderPowerLevel(e12("@dan:x"), { store: store12, rules: v12 })).toBe(7);
  });
  it("[rooms/v1 stringy power levels] the sender's level may be an integer string before v10, not since", () => {
    const pl = (v: string) => ev("$pl", [], { type: "m.room.power_levels", content: { users: { "@bob:x": " +050 " }, users_default: 3 }, room_id: v });
    const create = ev("$create", [], { type: "m.room.create", content: { creator: "@alice:example.com" } });
    const store = storeOf([create, pl("!r")]);
    const e = ev("$e", ["$create", "$pl"], { sender: "@bob:x" });
    expect(senderPowerLevel(e, { store, rules: v9 })).toBe(50);
    expect(senderPowerLevel(e, { store, rules: v11 })).toBe(3);
  });
});

describe("mainline ordering", () => {
  // pl0 ← pl1 ← pl2 (mainline of pl2); plX is a side branch off pl0
  const store = storeOf([
    ev("$c", [], { type: "m.room.create" }),
    ev("$pl0", ["$c"], { type: "m.room.power_levels" }),
    ev("$pl1", ["$c", "$pl0"], { type: "m.room.power_levels" }),
    ev("$pl2", ["$c", "$pl1"], { type: "m.room.power_levels" }),
    ev("$plX", ["$c", "$pl0"], { type: "m.room.power_levels" }),
    ev("$a", ["$c", "$pl2"], { origin_server_ts: 1 }),
    ev("$b", ["$c", "$pl1"], { origin_server_ts: 5 }),
    ev("$d", ["$c", "$plX"], { origin_server_ts: 3 }),
    ev("$e", ["$c"], { origin_server_ts: 9 }),
    ev("$f", ["$c", "$pl1"], { origin_server_ts: 5 }),
  ]);
  it("[state-res: mainline ordering] the mainline follows power levels auth events back", () => {
    expect(mainline("$pl2", store)).toEqual(["$pl2", "$pl1", "$pl0"]);
    expect(mainline(undefined, store)).toEqual([]);
  });
  it("[state-res: mainline ordering] earlier mainline base first, no base (∞) first of all, then ts, then id", () => {
    expect(mainlineSort(["$a", "$b", "$d", "$e", "$f"], "$pl2", store)).toEqual(["$e", "$d", "$b", "$f", "$a"]);
  });
  it("[state-res: mainline ordering] without resolved power levels every position is ∞", () => {
    expect(mainlineSort(["$a", "$b", "$d", "$e"], undefined, store)).toEqual(["$a", "$d", "$b", "$e"]);
  });
});

describe("binary heap", () => {
  it("pops in order", () => {
    const h = new BinaryHeap<number>((a, b) => a < b);
    const xs = Array.from({ length: 500 }, (_, i) => (i * 7919) % 501);
    for (const x of xs) h.push(x);
    const out: number[] = [];
    for (let x = h.pop(); x !== undefined; x = h.pop()) out.push(x);
    expect(out).toEqual([...xs].sort((a, b) => a - b));
  });
});
