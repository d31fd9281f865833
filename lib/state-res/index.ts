/** State resolution v2 / v2.1: the entry point and the pieces a room actor may want on their own. */
export { resolveState, type ResolveOptions } from "./resolve.ts";
export { splitConflicted, conflictedEventIds, type SplitState } from "./split-conflicted.ts";
export { authDifference, fullAuthChains } from "./auth-difference.ts";
export { conflictedSubgraph } from "./conflicted-subgraph.ts";
export { isPowerEvent, reverseTopologicalPowerSort, sortPowerEvents, type PowerSortKey } from "./power-sort.ts";
export { mainline, mainlineSort, MainlinePositions } from "./mainline-sort.ts";
export { iterativeAuthChecks, authStateFor, type OnRejected } from "./iterative-auth.ts";
