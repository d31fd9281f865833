/**
 * Auth difference (https://spec.matrix.org/v1.19/rooms/v2/#definitions): with Cᵢ the full
 * auth chain of state map Sᵢ (the union of the auth chains of its events), the auth difference
 * is ∪Cᵢ − ∩Cᵢ.
 */
import { authChainOfEvents, type EventStore } from "../auth-chain.ts";
import type { StateMap } from "../pdu.ts";

/** Cᵢ for each state map, in order. */
export function fullAuthChains(stateMaps: readonly StateMap[], store: EventStore): Set<string>[] {
  return stateMaps.map((m) => authChainOfEvents(m.values(), store));
}

export function authDifference(chains: readonly ReadonlySet<string>[]): Set<string> {
  // Counting occurrences is linear in the total size of the chains, whatever their number.
  const counts = new Map<string, number>();
  for (const c of chains) for (const id of c) counts.set(id, (counts.get(id) ?? 0) + 1);
  const out = new Set<string>();
  for (const [id, n] of counts) if (n < chains.length) out.add(id);
  return out;
}
