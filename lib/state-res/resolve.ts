/**
 * State resolution v2 (room versions 2–11, https://spec.matrix.org/v1.19/rooms/v2/#state-resolution)
 * and v2.1 (room version 12, MSC4297). v2.1 differs in two places: the power-event pass starts
 * from the empty state instead of the unconflicted state map, and the conflicted state subgraph
 * joins the full conflicted set.
 */
import type { EventStore } from "../auth-chain.ts";
import { stateKey, type StateMap } from "../pdu.ts";
import type { RoomVersionRules } from "../room-versions.ts";
import { authDifference, fullAuthChains } from "./auth-difference.ts";
import { conflictedSubgraph } from "./conflicted-subgraph.ts";
import { iterativeAuthChecks, type OnRejected } from "./iterative-auth.ts";
import { mainlineSort } from "./mainline-sort.ts";
import { sortPowerEvents } from "./power-sort.ts";
import { conflictedEventIds, splitConflicted } from "./split-conflicted.ts";

export interface ResolveOptions {
  /** Told about every event the iterative auth checks leave out, and why. */
  onRejected?: OnRejected;
}

export function resolveState(
  stateMaps: readonly StateMap[],
  store: EventStore,
  rules: RoomVersionRules,
  options: ResolveOptions = {},
): StateMap {
  const algorithm = rules.stateResolution;
  if (algorithm !== "v2" && algorithm !== "v2.1") {
    throw new Error(`state resolution ${algorithm} (room version ${rules.id}) is not implemented; only v2 and v2.1 are`);
  }
  const v21 = algorithm === "v2.1";

  const { unconflicted, conflicted } = splitConflicted(stateMaps);
  if (conflicted.size === 0) return unconflicted;

  const conflictedIds = conflictedEventIds(conflicted);
  const full = authDifference(fullAuthChains(stateMaps, store));
  for (const id of conflictedIds) full.add(id);
  if (v21) for (const id of conflictedSubgraph(conflictedIds, store)) full.add(id);
  // Events we do not hold cannot be checked, so they take no part.
  for (const id of full) if (!store.getEvent(id)) full.delete(id);

  // 1–2. Power events (with their conflicted auth ancestry) first, authorized in power order.
  const powerSorted = sortPowerEvents(full, store, rules);
  const partial = iterativeAuthChecks(powerSorted, v21 ? new Map() : unconflicted, store, rules, options.onRejected);

  // 3–4. Everything else, ordered against the mainline of the power levels just resolved.
  const inPowerPass = new Set(powerSorted);
  const rest = [...full].filter((id) => !inPowerPass.has(id));
  const sortedRest = mainlineSort(rest, partial.get(stateKey("m.room.power_levels", "")), store);
  const resolved = iterativeAuthChecks(sortedRest, partial, store, rules, options.onRejected);

  // 5. The unconflicted state map has the last word.
  for (const [k, id] of unconflicted) resolved.set(k, id);
  return resolved;
}
