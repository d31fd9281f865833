/**
 * The room summary of a /sync joined-room entry: heroes and member counts.
 * https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3sync (RoomSummary)
 *
 * Heroes: "the first 5 members of the room, ordered by stream ordering, which are joined
 * or invited", never the syncing user; when there are none, the banned and left users.
 * Required when the room has no (non-empty) m.room.name and m.room.canonical_alias.
 */

export const MAX_HEROES = 5;

export interface SummaryInput {
  userId: string;
  joinedCount: number;
  invitedCount: number;
  /** Joined or invited members in stream order of their member events (a few more than MAX_HEROES suffice). */
  joinedOrInvited: readonly string[];
  /** Left or banned members in stream order, used only when joinedOrInvited has nobody else. */
  leftOrBanned: readonly string[];
  /** Whether the room has a non-empty name or canonical alias. */
  named: boolean;
}

export interface RoomSummary {
  "m.heroes"?: string[];
  "m.joined_member_count": number;
  "m.invited_member_count": number;
}

export function pickHeroes(userId: string, joinedOrInvited: readonly string[], leftOrBanned: readonly string[]): string[] {
  const others = (list: readonly string[]) => list.filter((u) => u !== userId).slice(0, MAX_HEROES);
  const first = others(joinedOrInvited);
  return first.length > 0 ? first : others(leftOrBanned);
}

export function roomSummary(i: SummaryInput): RoomSummary {
  const s: RoomSummary = { "m.joined_member_count": i.joinedCount, "m.invited_member_count": i.invitedCount };
  if (!i.named) s["m.heroes"] = pickHeroes(i.userId, i.joinedOrInvited, i.leftOrBanned);
  return s;
}

/** Whether name / canonical alias content makes the room named (an empty name does not). */
export function isNamed(nameContent: Record<string, unknown> | undefined, aliasContent: Record<string, unknown> | undefined): boolean {
  const name = nameContent?.name;
  const alias = aliasContent?.alias;
  return (typeof name === "string" && name !== "") || (typeof alias === "string" && alias !== "");
}
