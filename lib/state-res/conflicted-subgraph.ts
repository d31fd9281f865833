/**
 * Conflicted state subgraph (state resolution v2.1, room version 12, MSC4297): the events that
 * lie on an `auth_events` path from one conflicted state event to another, endpoints included.
 * Adding them to the full conflicted set stops a fork from resetting state to an old power
 * levels event that both sides had long since replaced.
 */
import type { EventStore } from "../auth-chain.ts";

/**
 * An event x is in the subgraph when some conflicted event reaches x (x is in its auth chain,
 * or x is that conflicted event) and x reaches some conflicted event, over a path of length ≥ 1.
 * Two linear passes: walk down from the conflicted events collecting their auth chains with
 * reverse edges, then walk back up from the conflicted events along those reverse edges.
 */
export function conflictedSubgraph(conflicted: ReadonlySet<string>, store: EventStore): Set<string> {
  // Events reached from a conflicted event by at least one auth_events step.
  const below = new Set<string>();
  // auth event → the events (within the walk) that cite it.
  const citedBy = new Map<string, string[]>();
  const expanded = new Set<string>();
  const stack: string[] = [...conflicted];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (expanded.has(id)) continue;
    expanded.add(id);
    const ev = store.getEvent(id);
    if (!ev) continue;
    for (const a of ev.auth_events) {
      below.add(a);
      let cit = citedBy.get(a);
      if (!cit) citedBy.set(a, (cit = []));
      cit.push(id);
      if (!expanded.has(a)) stack.push(a);
    }
  }

  // Events that reach a conflicted event by at least one step: climb the reverse edges.
  const above = new Set<string>();
  const up: string[] = [...conflicted];
  while (up.length > 0) {
    const id = up.pop()!;
    for (const parent of citedBy.get(id) ?? []) {
      if (above.has(parent)) continue;
      above.add(parent);
      up.push(parent);
    }
  }

  const out = new Set<string>();
  // Every walked event was reached from a conflicted one (or is one), so those that also
  // reach one are on a path; a conflicted event reached from another is a path's end.
  for (const id of above) out.add(id);
  for (const id of conflicted) if (below.has(id)) out.add(id);
  return out;
}
