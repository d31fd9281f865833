/**
 * Which rooms one sync must ask, from the user's memberships and the views the client's
 * token records. https://spec.matrix.org/v1.19/client-server-api/#syncing
 *
 * A room whose membership changed since the token is fetched; a joined room whose
 * membership did not change is fetched only if its hub shard (or the room itself) says
 * it moved — those are returned as `poll`. A room is fetched with the client's position
 * in it (`since`) or with null when the client must get it whole: newly joined (also
 * after an invite or a leave), or any room of an initial sync.
 */
import type { RoomPosition, RoomView, SyncMembership } from "./position.ts";

export interface MembershipRow {
  roomId: string;
  membership: SyncMembership;
  /** Stream ordering of the member event in the room. */
  memberStream: number;
}

export interface PlanInput {
  rows: readonly MembershipRow[];
  /** The token's views by room ID; undefined for an initial sync. */
  views: ReadonlyMap<string, RoomView> | undefined;
  includeLeave: boolean;
  fullState: boolean;
  /** The filter's room selection (`room.rooms`/`room.not_rooms`). */
  roomAllowed: (roomId: string) => boolean;
}

export interface SyncPlan {
  /** Rooms to ask, with the client's position in each (null: send it whole). */
  fetch: Map<string, RoomPosition | null>;
  /** Joined rooms to ask only if they moved past the client's view. */
  poll: Array<[roomId: string, view: RoomView]>;
}

const present = (m: SyncMembership) => m === "join" || m === "invite" || m === "knock";

/** The position to continue from when membership went from `was` to `now`; null: send whole. */
export function continueFrom(view: RoomView, now: SyncMembership): RoomPosition | null {
  if (view.m === "join") return now === "join" || now === "leave" || now === "ban" ? view : null;
  if ((view.m === "leave" || view.m === "ban") && (now === "leave" || now === "ban")) return view;
  return null;
}

export function planSync(i: PlanInput): SyncPlan {
  const fetch = new Map<string, RoomPosition | null>();
  const poll: SyncPlan["poll"] = [];
  for (const row of i.rows) {
    if (!i.roomAllowed(row.roomId)) continue;
    const v = i.views?.get(row.roomId);
    if (!v) {
      // A room the client never heard of: shown if the user is in it (or, with
      // include_leave, was); a stranger's departure from it means nothing to the client.
      if (present(row.membership) || i.includeLeave) fetch.set(row.roomId, null);
      continue;
    }
    if (v.m !== row.membership || v.ms < row.memberStream) {
      fetch.set(row.roomId, continueFrom(v, row.membership));
    } else if (row.membership === "join") {
      if (i.fullState) fetch.set(row.roomId, v);
      else poll.push([row.roomId, v]);
    }
  }
  return { fetch, poll };
}
