/**
 * Who may change the alias index and the published room directory. The spec leaves these
 * checks to servers ("servers may choose to implement additional access control checks");
 * Parley follows Synapse:
 *   - create an alias: a joined member of the room (server admins and appservices, whose
 *     namespace is checked separately, need not be);
 *   - delete an alias: its creator, a server admin, or a joined member with the power to
 *     send m.room.canonical_alias;
 *   - list a room's aliases: a joined member, anyone when the room is world_readable, or
 *     a server admin;
 *   - publish or unpublish a room: a server admin, or a joined member with the power to
 *     send m.room.canonical_alias.
 * https://spec.matrix.org/v1.19/client-server-api/#room-aliases,
 * https://spec.matrix.org/v1.19/client-server-api/#listing-rooms
 */
import { forbidden, MatrixError, notFound } from "../errors.ts";

/** What the room tells about one user, read from its current state. */
export interface RoomAccessFacts {
  /** The user's membership now; "leave" when they have none. */
  membership: string;
  /** m.room.history_visibility is world_readable. */
  worldReadable: boolean;
  /** The user's power level reaches the level required to send m.room.canonical_alias. */
  mayEditCanonicalAlias: boolean;
}

export interface DirectoryCaller {
  userId: string;
  admin: boolean;
  /** The request carries an appservice's as_token. */
  appservice: boolean;
}

/** `facts` is null when the room does not exist here. */
export function checkMayCreateAlias(caller: DirectoryCaller, facts: RoomAccessFacts | null): void {
  if (caller.admin || caller.appservice) {
    if (!facts) throw notFound("Room not found");
    return;
  }
  // A room that does not exist and one the user is not in answer alike (no probing).
  if (facts?.membership !== "join") throw forbidden("You must be in the room to create an alias for it");
}

export function checkMayDeleteAlias(caller: DirectoryCaller, creator: string, facts: RoomAccessFacts | null): void {
  if (caller.userId === creator || caller.admin || caller.appservice) return;
  if (facts?.membership === "join" && facts.mayEditCanonicalAlias) return;
  throw forbidden("You don't have permission to delete the alias");
}

export function checkMayListAliases(caller: DirectoryCaller, facts: RoomAccessFacts | null): void {
  if (caller.admin) return;
  if (facts && (facts.membership === "join" || facts.worldReadable)) return;
  throw forbidden("You are not a member of the room");
}

export function checkMayChangeVisibility(caller: DirectoryCaller, facts: RoomAccessFacts | null): void {
  if (!facts) throw notFound("Room not found");
  if (caller.admin) return;
  if (facts.membership === "join" && facts.mayEditCanonicalAlias) return;
  throw new MatrixError("M_FORBIDDEN", 403, "You are not permitted to change this room's visibility in the directory");
}
