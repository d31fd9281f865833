/**
 * Unconflicted state map and conflicted state set
 * (https://spec.matrix.org/v1.19/rooms/v2/#definitions): a (type, state_key) pair present in
 * every state map with the same event is unconflicted; every other (key, event) pair is conflicted.
 */
import type { StateKey, StateMap } from "../pdu.ts";

export interface SplitState {
  unconflicted: StateMap;
  /** key → the distinct events the state maps disagree on (a key missing from some map counts). */
  conflicted: Map<StateKey, Set<string>>;
}

export function splitConflicted(stateMaps: readonly StateMap[]): SplitState {
  const unconflicted: StateMap = new Map();
  const conflicted = new Map<StateKey, Set<string>>();
  if (stateMaps.length === 0) return { unconflicted, conflicted };

  // A key is unconflicted only if the first map has it, so walk the first map for those and
  // every map for the rest; each (key, event) pair is touched once per map.
  const [first, ...rest] = stateMaps as [StateMap, ...StateMap[]];
  for (const [key, id] of first) {
    if (rest.every((m) => m.get(key) === id)) unconflicted.set(key, id);
  }
  for (const map of stateMaps) {
    for (const [key, id] of map) {
      if (unconflicted.has(key)) continue;
      let ids = conflicted.get(key);
      if (!ids) conflicted.set(key, (ids = new Set()));
      ids.add(id);
    }
  }
  return { unconflicted, conflicted };
}

/** Every event of the conflicted state set. */
export function conflictedEventIds(conflicted: ReadonlyMap<StateKey, ReadonlySet<string>>): Set<string> {
  const out = new Set<string>();
  for (const ids of conflicted.values()) for (const id of ids) out.add(id);
  return out;
}
