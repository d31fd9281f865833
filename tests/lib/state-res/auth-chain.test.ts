import { describe, expect, it } from "vitest";
import { authChain, authChainOfEvents, MemoisedAuthChains } from "../../../lib/auth-chain.ts";
import type { Pdu } from "../../../lib/pdu.ts";
import { ev, storeOf } from "./graph.ts";

// create ← join ← pl ← (topic, jr); topic also cites join
const graph = [
  ev("$create", []),
  ev("$join", ["$create"]),
  ev("$pl", ["$create", "$join"]),
  ev("$topic", ["$create", "$join", "$pl"]),
  ev("$jr", ["$create", "$pl"]),
];

describe("auth chains", () => {
  it("[state-res: auth chain] is every event reachable through auth_events, not the event itself", () => {
    const store = storeOf(graph);
    expect([...authChain("$topic", store)].sort()).toEqual(["$create", "$join", "$pl"]);
    expect([...authChain("$create", store)]).toEqual([]);
    expect(authChain("$unknown", store).size).toBe(0);
  });

  it("[state-res: auth chain] of a set is the union of its events' chains", () => {
    const store = storeOf(graph);
    expect([...authChainOfEvents(["$join", "$jr"], store)].sort()).toEqual(["$create", "$pl", "$join"].sort());
  });

  it("[state-res: auth chain] unknown auth events are included but not walked", () => {
    const store = storeOf([ev("$a", ["$missing", "$b"]), ev("$b", [])]);
    expect([...authChain("$a", store)].sort()).toEqual(["$b", "$missing"]);
  });

  it("[state-res: auth chain] a 10,000-deep chain does not overflow the stack, memoised or not", () => {
    const events: Pdu[] = [ev("$0", [])];
    for (let i = 1; i < 10_000; i++) events.push(ev(`$${i}`, [`$${i - 1}`]));
    const store = storeOf(events);
    expect(authChain("$9999", store).size).toBe(9_999);
    const memo = new MemoisedAuthChains(store);
    expect(memo.authChain("$5000")!.size).toBe(5_000);
    expect(memo.authChain("$9999")!.size).toBe(9_999);
  });

  it("[state-res: auth chain] memoised chains equal walked chains and are reused", () => {
    const store = storeOf(graph);
    const memo = new MemoisedAuthChains(store);
    for (const e of graph) expect(new Set(memo.authChain(e.event_id))).toEqual(authChain(e.event_id, store));
    const before = store.reads;
    memo.authChain("$topic");
    expect(store.reads).toBe(before);
    // a walk over a store with cached chains uses them
    expect([...authChainOfEvents(["$topic"], memo)].sort()).toEqual(["$create", "$join", "$pl"]);
  });

  it("[state-res: auth chain] a cycle in a hostile graph terminates", () => {
    const store = storeOf([ev("$a", ["$b"]), ev("$b", ["$a"])]);
    expect([...authChain("$a", store)].sort()).toEqual(["$a", "$b"]);
    expect(new MemoisedAuthChains(store).authChain("$a")!.has("$b")).toBe(true);
  });
});
