/**
 * Sliding sync list maths (MSC4186): the user's rooms sorted by recency, each list's
 * filters, its `count`, the rooms its ranges select, and the combined room config of a
 * room that several lists and subscriptions select.
 * https://github.com/matrix-org/matrix-spec-proposals/pull/4186 ("Lists", "Combining room configs")
 */
import type { SyncMembership } from "../position.ts";
import type { ListFilters, ListRequest, RequiredState, RoomConfig, StatePattern } from "./request.ts";

/** What the lists need to know about one of the user's rooms. */
export interface ListRoom {
  roomId: string;
  membership: SyncMembership;
  /** Recency: the bump stamp for joined rooms, the membership's time otherwise (ms). */
  recency: number;
  isDm: boolean;
  tags: readonly string[];
  /** Undefined when not known (only needed by is_encrypted / room type filters). */
  encrypted?: boolean;
  roomType?: string | null;
}

/** Whether a list's filters need a room's encryption or type (which only the room knows). */
export function needsRoomMeta(f: ListFilters): boolean {
  return f.isEncrypted !== undefined || f.roomTypes !== undefined || f.notRoomTypes !== undefined;
}

export function matchesFilters(r: ListRoom, f: ListFilters): boolean {
  if (f.isDm !== undefined && r.isDm !== f.isDm) return false;
  if (f.isInvite !== undefined && (r.membership === "invite") !== f.isInvite) return false;
  if (f.isEncrypted !== undefined && (r.encrypted ?? false) !== f.isEncrypted) return false;
  const type = r.roomType ?? null;
  if (f.notRoomTypes?.includes(type)) return false;
  if (f.roomTypes && !f.roomTypes.includes(type)) return false;
  if (f.notTags?.some((t) => r.tags.includes(t))) return false;
  if (f.tags && !f.tags.some((t) => r.tags.includes(t))) return false;
  // `spaces` without the server's answer matches nothing (the server always sets `inRooms` for it).
  if (f.spaces && !f.inRooms?.has(r.roomId)) return false;
  return true;
}

/** Most recent first; ties by room ID so that every response orders them alike. */
export function sortByRecency(rooms: readonly ListRoom[]): ListRoom[] {
  return [...rooms].sort((a, b) => b.recency - a.recency || (a.roomId < b.roomId ? -1 : a.roomId > b.roomId ? 1 : 0));
}

export interface ListResult {
  /** Rooms matching the filters, ignoring the ranges. */
  count: number;
  /** Rooms inside the ranges, in list order. */
  roomIds: string[];
}

/** One list over rooms already sorted by recency. */
export function applyList(sorted: readonly ListRoom[], list: Pick<ListRequest, "filters" | "ranges">): ListResult {
  const matching = sorted.filter((r) => matchesFilters(r, list.filters));
  if (!list.ranges) return { count: matching.length, roomIds: matching.map((r) => r.roomId) };
  const picked = new Set<number>();
  for (const [a, b] of list.ranges) {
    for (let i = a; i <= Math.min(b, matching.length - 1); i++) picked.add(i);
  }
  return { count: matching.length, roomIds: [...picked].sort((x, y) => x - y).map((i) => matching[i]!.roomId) };
}

/** The superset of several room configs: the longest timeline, the union of required state. */
export function combineConfigs(configs: readonly RoomConfig[]): RoomConfig {
  const out: RoomConfig = { timelineLimit: 0, requiredState: { include: [], exclude: [], lazyMembers: false } };
  const seen = new Set<string>();
  for (const c of configs) {
    out.timelineLimit = Math.max(out.timelineLimit, c.timelineLimit);
    out.requiredState.lazyMembers ||= c.requiredState.lazyMembers;
    for (const p of c.requiredState.include) {
      const k = patternKey(p);
      if (!seen.has(k)) {
        seen.add(k);
        out.requiredState.include.push(p);
      }
    }
  }
  // An exclusion survives only if every config excludes it (a union must not lose what one config asks for).
  const excluded = configs.length === 0 ? [] : configs[0]!.requiredState.exclude;
  out.requiredState.exclude = excluded.filter((p) => configs.every((c) => c.requiredState.exclude.some((q) => patternKey(q) === patternKey(p))));
  return out;
}

function patternKey(p: StatePattern): string {
  return JSON.stringify([p.type ?? null, p.stateKey ?? null]);
}

/** A stable text of a required-state config, to tell whether it changed between responses. */
export function requiredStateKey(rs: RequiredState): string {
  const inc = rs.include.map(patternKey).sort();
  const exc = rs.exclude.map(patternKey).sort();
  return JSON.stringify([inc, exc, rs.lazyMembers]);
}

/**
 * Whether `now` may select state that `before` did not (then the room is sent again
 * whole): any include pattern not already covered, lazy members switched on, or an
 * exclusion dropped.
 */
export function requiredStateExpanded(before: RequiredState, now: RequiredState): boolean {
  if (now.lazyMembers && !before.lazyMembers) return true;
  const covered = (p: StatePattern) =>
    before.include.some((q) => (q.type === undefined || q.type === p.type) && (q.stateKey === undefined || q.stateKey === p.stateKey));
  if (!now.include.every(covered)) return true;
  const kept = new Set(now.exclude.map(patternKey));
  return before.exclude.some((p) => !kept.has(patternKey(p)));
}
