/**
 * Power events and the reverse topological power ordering
 * (https://spec.matrix.org/v1.19/rooms/v2/#definitions), steps 1 of the algorithm.
 */
import type { EventStore } from "../auth-chain.ts";
import type { Pdu } from "../pdu.ts";
import type { RoomVersionRules } from "../room-versions.ts";
import { BinaryHeap } from "./binary-heap.ts";
import { senderPowerLevel, type SenderPowerContext } from "./sender-power.ts";

/**
 * A power event might remove someone's ability to act: power levels, join rules, or a leave/ban
 * of someone other than the sender. m.room.create is counted too (as ruma and Synapse do) so that,
 * when it is conflicted, it is authorized first rather than in the mainline pass.
 */
export function isPowerEvent(e: Pdu): boolean {
  if (e.state_key === undefined) return false;
  switch (e.type) {
    case "m.room.power_levels":
    case "m.room.join_rules":
    case "m.room.create":
      return e.state_key === "";
    case "m.room.member": {
      const m = e.content["membership"];
      return (m === "leave" || m === "ban") && e.sender !== e.state_key;
    }
    default:
      return false;
  }
}

/** What the ordering compares, precomputed once per event. */
export interface PowerSortKey {
  powerLevel: number;
  originServerTs: number;
}

/** x < y: greater sender power first, then earlier origin_server_ts, then smaller event ID. */
function before(x: [string, PowerSortKey], y: [string, PowerSortKey]): boolean {
  if (x[1].powerLevel !== y[1].powerLevel) return x[1].powerLevel > y[1].powerLevel;
  if (x[1].originServerTs !== y[1].originServerTs) return x[1].originServerTs < y[1].originServerTs;
  return x[0] < y[0];
}

/**
 * Kahn's algorithm over `graph` (event → its auth events within the graph), taking at each step
 * the smallest ready event. Ordered earliest first: an event comes after all of its auth events.
 * Events on a cycle (only possible in a hostile graph) never become ready and are left out.
 */
export function reverseTopologicalPowerSort(
  graph: ReadonlyMap<string, readonly string[]>,
  keyOf: (id: string) => PowerSortKey,
): string[] {
  const pending = new Map<string, number>();
  const citedBy = new Map<string, string[]>();
  const heap = new BinaryHeap<[string, PowerSortKey]>(before);
  for (const [id, authEvents] of graph) {
    const inGraph = new Set(authEvents.filter((a) => graph.has(a)));
    if (inGraph.size === 0) heap.push([id, keyOf(id)]);
    else pending.set(id, inGraph.size);
    for (const a of inGraph) {
      let c = citedBy.get(a);
      if (!c) citedBy.set(a, (c = []));
      c.push(id);
    }
  }
  const sorted: string[] = [];
  for (let next = heap.pop(); next; next = heap.pop()) {
    const [id] = next;
    sorted.push(id);
    for (const parent of citedBy.get(id) ?? []) {
      const left = pending.get(parent)! - 1;
      if (left > 0) {
        pending.set(parent, left);
      } else {
        pending.delete(parent);
        heap.push([parent, keyOf(parent)]);
      }
    }
  }
  return sorted;
}

/**
 * Step 1: the power events of the full conflicted set, enlarged by the events of their auth
 * chains that are also in the full conflicted set, in reverse topological power ordering.
 */
export function sortPowerEvents(fullConflicted: ReadonlySet<string>, store: EventStore, rules: RoomVersionRules): string[] {
  const graph = new Map<string, string[]>();
  const stack: string[] = [];
  for (const id of fullConflicted) {
    const ev = store.getEvent(id);
    if (ev && isPowerEvent(ev)) stack.push(id);
  }
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (graph.has(id)) continue;
    const ev = store.getEvent(id);
    const edges = (ev?.auth_events ?? []).filter((a) => fullConflicted.has(a));
    graph.set(id, edges);
    for (const a of edges) if (!graph.has(a)) stack.push(a);
  }
  const ctx: SenderPowerContext = { store, rules };
  return reverseTopologicalPowerSort(graph, (id) => {
    const ev = store.getEvent(id);
    if (!ev) return { powerLevel: 0, originServerTs: 0 };
    return { powerLevel: senderPowerLevel(ev, ctx), originServerTs: ev.origin_server_ts };
  });
}
