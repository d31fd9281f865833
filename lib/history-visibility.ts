/**
 * History visibility: may user U see event E?
 * https://spec.matrix.org/v1.19/client-server-api/#history-visibility (server behaviour)
 *
 * The decision depends only on facts about the room at E, which the caller (the Room
 * actor) looks up from its state store:
 *   1. history_visibility world_readable → allow;
 *   2. U's membership was join → allow;
 *   3. shared, and U joined the room at any point after E → allow;
 *   4. U's membership was invite and the visibility invited → allow;
 *   5. otherwise deny.
 * "Was" is the state at E. Two events change what they are judged by: an
 * m.room.history_visibility event is visible if the visibility before OR after it allows
 * it, and U's own m.room.member event is visible if U's membership before OR after it
 * allows it (so a user always sees their own join, and their own leave from a room they
 * were joined to, even under `joined`).
 */
import type { JsonObject } from "./json.ts";

export type HistoryVisibility = "world_readable" | "shared" | "invited" | "joined";
export type Membership = "join" | "invite" | "knock" | "leave" | "ban";

const VISIBILITIES: ReadonlySet<string> = new Set(["world_readable", "shared", "invited", "joined"]);
const MEMBERSHIPS: ReadonlySet<string> = new Set(["join", "invite", "knock", "leave", "ban"]);

/**
 * The visibility an m.room.history_visibility content sets. Absent event, missing or
 * unknown value → `shared`, as the spec prescribes.
 */
export function historyVisibilityOf(content: JsonObject | undefined): HistoryVisibility {
  const v = content?.history_visibility;
  return typeof v === "string" && VISIBILITIES.has(v) ? (v as HistoryVisibility) : "shared";
}

/** The membership an m.room.member content sets; anything unknown counts as no membership. */
export function membershipOf(content: JsonObject | undefined): Membership | undefined {
  const m = content?.membership;
  return typeof m === "string" && MEMBERSHIPS.has(m) ? (m as Membership) : undefined;
}

/** What the rules need to know about one (user, event) pair. */
export interface VisibilityFacts {
  /** history_visibility in the state before the event. */
  visibilityBefore: HistoryVisibility;
  /** history_visibility after the event (differs only for an m.room.history_visibility event). */
  visibilityAfter: HistoryVisibility;
  /** The user's membership in the state before the event (undefined: never a member). */
  membershipBefore: Membership | undefined;
  /** The user's membership after the event (differs only for the user's own member event). */
  membershipAfter: Membership | undefined;
  /** Whether the user joined the room at any point after the event. */
  joinedLater: boolean;
}

function allowedBy(visibility: HistoryVisibility, membership: Membership | undefined, joinedLater: boolean): boolean {
  if (visibility === "world_readable") return true;
  if (membership === "join") return true;
  if (visibility === "shared" && joinedLater) return true;
  if (visibility === "invited" && membership === "invite") return true;
  return false;
}

/** The spec's rules over the facts: allowed if the state before or after the event allows it. */
export function userMaySeeEvent(f: VisibilityFacts): boolean {
  return (
    allowedBy(f.visibilityBefore, f.membershipBefore, f.joinedLater) ||
    allowedBy(f.visibilityAfter, f.membershipAfter, f.joinedLater)
  );
}

/** The state-before facts of an event, as the actor looks them up. */
export interface StateBeforeFacts {
  visibility: HistoryVisibility;
  membership: Membership | undefined;
  joinedLater: boolean;
}

/**
 * The facts for `userId` and an event, given the state before it: the "after" side is
 * the same unless the event itself changes the visibility or the user's membership.
 */
export function visibilityFacts(
  userId: string,
  event: { type: string; state_key?: string; content: JsonObject },
  before: StateBeforeFacts,
): VisibilityFacts {
  let visibilityAfter = before.visibility;
  let membershipAfter = before.membership;
  if (event.type === "m.room.history_visibility" && event.state_key === "") {
    visibilityAfter = historyVisibilityOf(event.content);
  } else if (event.type === "m.room.member" && event.state_key === userId) {
    membershipAfter = membershipOf(event.content);
  }
  return {
    visibilityBefore: before.visibility,
    visibilityAfter,
    membershipBefore: before.membership,
    membershipAfter,
    joinedLater: before.joinedLater,
  };
}

/** Shorthand: may `userId` see `event`, given the state before it. */
export function userMaySee(
  userId: string,
  event: { type: string; state_key?: string; content: JsonObject },
  before: StateBeforeFacts,
): boolean {
  return userMaySeeEvent(visibilityFacts(userId, event, before));
}

/**
 * Whether events after every state change the user can still see are hidden: a user who
 * is not joined and not entitled by `invited` sees nothing sent after both their last
 * membership change and the last visibility change, unless the room is world_readable.
 * Lets a reader stop scanning forward at that point instead of at the end of the room.
 */
export function nothingVisibleAfterLastChange(current: { visibility: HistoryVisibility; membership: Membership | undefined }): boolean {
  if (current.visibility === "world_readable") return false;
  if (current.membership === "join") return false;
  if (current.visibility === "invited" && current.membership === "invite") return false;
  return true;
}
