/**
 * State at every event without state-group bloat: numbered state versions, each its
 * parent plus a delta, with some versions stored whole (snapshots). The actor stores
 * them (schema/room.sql); this file holds the policy and the arithmetic.
 *
 * Snapshot policy: a version is stored whole once the deltas since the last snapshot
 * reach max(MIN_SNAPSHOT_INTERVAL, size / SNAPSHOT_SIZE_DIVISOR). Writes per state change
 * are then at most SNAPSHOT_SIZE_DIVISOR rows amortised, even in a 10,000-member room,
 * and reading a state costs its size plus at most that many deltas (≤ 1/8 more).
 * Messages create no version and write no state rows.
 */
import { stateKey, type StateMap } from "./pdu.ts";

export const MIN_SNAPSHOT_INTERVAL = 64;
export const SNAPSHOT_SIZE_DIVISOR = 8;

/** One (type, state_key) → event ID change of a version against its parent. */
export interface StateDelta {
  type: string;
  stateKey: string;
  eventId: string;
}

/** What the store keeps per version. */
export interface StateVersionInfo {
  version: number;
  parent: number | null;
  /** Stored whole. */
  snapshot: boolean;
  /** Deltas applied since the nearest snapshot ancestor (0 for a snapshot). */
  sinceSnapshot: number;
  /** Number of entries in the state. */
  size: number;
}

/** Whether a new version `sinceSnapshot` deltas past its nearest snapshot, of `size` entries, is stored whole. */
export function shouldSnapshot(sinceSnapshot: number, size: number): boolean {
  return sinceSnapshot >= Math.max(MIN_SNAPSHOT_INTERVAL, Math.ceil(size / SNAPSHOT_SIZE_DIVISOR));
}

/**
 * The info of a version made from `parent` (undefined: from the empty state) by `deltas`,
 * where `added` of them set keys the parent did not have.
 */
export function nextVersion(version: number, parent: StateVersionInfo | undefined, deltaCount: number, added: number): StateVersionInfo {
  const size = (parent?.size ?? 0) + added;
  const since = (parent ? (parent.snapshot ? 0 : parent.sinceSnapshot) : 0) + deltaCount;
  const snapshot = parent === undefined || shouldSnapshot(since, size);
  return { version, parent: parent?.version ?? null, snapshot, sinceSnapshot: snapshot ? 0 : since, size };
}

/**
 * The versions to read for `version`: its nearest snapshot ancestor, then the versions
 * whose deltas apply, oldest first. `info` looks a version up.
 */
export function readPlan(version: number, info: (v: number) => StateVersionInfo | undefined): { snapshot: number | null; deltas: number[] } {
  const deltas: number[] = [];
  let at: StateVersionInfo | undefined = info(version);
  while (at && !at.snapshot) {
    deltas.push(at.version);
    at = at.parent === null ? undefined : info(at.parent);
  }
  return { snapshot: at?.version ?? null, deltas: deltas.reverse() };
}

/** Applies deltas, in order, to a state map (mutating it). */
export function applyDeltas(state: StateMap, deltas: Iterable<StateDelta>): StateMap {
  for (const d of deltas) state.set(stateKey(d.type, d.stateKey), d.eventId);
  return state;
}
