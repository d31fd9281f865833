/**
 * Which appservices an event concerns. An appservice is interested in an event when
 * its sender or (for a member event) its target is the appservice's sender or in its
 * user namespace, when the room ID is in its room namespace, when one of the room's
 * aliases is in its alias namespace, or when one of its users is a joined member of
 * the room. https://spec.matrix.org/v1.19/application-service-api/#registration
 *
 * `RoomInterest` is the per-room form a Room actor keeps in memory: the registrations'
 * compiled regexes plus, per appservice, the set of its users joined to the room (built
 * once from the member list, then kept by membership changes), so deciding an event
 * costs a few regex tests and set sizes, never a scan of the member list.
 */
import { matches, senderOf, type AppserviceRegistry } from "./registry.ts";
import type { Registration } from "./registration.ts";

/** What interest depends on, read from one event and its room. */
export interface EventFacts {
  roomId: string;
  sender: string;
  type: string;
  stateKey?: string;
  /** The room's aliases (m.room.canonical_alias `alias` and `alt_aliases`). */
  aliases: readonly string[];
}

/** Whether `userId` is the appservice's sender or in its user namespace. */
export function isAppserviceUser(r: Registration, userId: string, serverName: string): boolean {
  return userId === senderOf(r, serverName) || matches(r.namespaces.users, userId, false);
}

/** Interest that depends on the event alone, not on who is joined. */
export function interestedInEvent(r: Registration, e: EventFacts, serverName: string): boolean {
  if (isAppserviceUser(r, e.sender, serverName)) return true;
  if (e.type === "m.room.member" && e.stateKey !== undefined && isAppserviceUser(r, e.stateKey, serverName)) return true;
  if (matches(r.namespaces.rooms, e.roomId, false)) return true;
  return e.aliases.some((a) => matches(r.namespaces.aliases, a, false));
}

/** Membership changes not yet committed (earlier events of the same batch), by user. */
export type PendingMembership = ReadonlyMap<string, string>;

export class RoomInterest {
  readonly #registry: AppserviceRegistry;
  readonly #serverName: string;
  /** Per appservice id: its users joined to the room, as committed. */
  readonly #joined = new Map<string, Set<string>>();

  /** `joinedMembers`: the room's joined members as committed (read once). */
  constructor(registry: AppserviceRegistry, serverName: string, joinedMembers: Iterable<string>) {
    this.#registry = registry;
    this.#serverName = serverName;
    for (const r of registry.all) this.#joined.set(r.id, new Set());
    for (const u of joinedMembers) this.noteMembership(u, "join");
  }

  /** After commit: a member event for `userId` with this membership. */
  noteMembership(userId: string, membership: string): void {
    for (const r of this.#registry.all) {
      if (!isAppserviceUser(r, userId, this.#serverName)) continue;
      const set = this.#joined.get(r.id)!;
      if (membership === "join") set.add(userId);
      else set.delete(userId);
    }
  }

  /** Whether one of the appservice's users is joined, given the batch's pending changes. */
  #hasJoinedUser(r: Registration, pending: PendingMembership): boolean {
    const joined = this.#joined.get(r.id)!;
    let left = 0;
    for (const [u, m] of pending) {
      if (!isAppserviceUser(r, u, this.#serverName)) continue;
      if (m === "join") return true;
      if (joined.has(u)) left++;
    }
    return joined.size > left;
  }

  /**
   * Ids of the appservices interested in the room as such (its ID or aliases in their
   * namespaces, or one of their users joined): who gets its typing and receipts.
   * https://spec.matrix.org/v1.19/application-service-api/#pushing-ephemeral-data
   */
  interestedInRoom(roomId: string, aliases: readonly string[]): string[] {
    const out: string[] = [];
    for (const r of this.#registry.all) {
      const byName = matches(r.namespaces.rooms, roomId, false) || aliases.some((a) => matches(r.namespaces.aliases, a, false));
      if (byName || this.#joined.get(r.id)!.size > 0) out.push(r.id);
    }
    return out;
  }

  /** Ids of the appservices with at least one user joined to the room (who share it with its members). */
  withJoinedUsers(): string[] {
    return this.#registry.all.filter((r) => this.#joined.get(r.id)!.size > 0).map((r) => r.id);
  }

  /** Ids of the appservices interested in the event, in registration order. */
  interested(e: EventFacts, pending: PendingMembership = new Map()): string[] {
    const out: string[] = [];
    for (const r of this.#registry.all) {
      if (interestedInEvent(r, e, this.#serverName) || this.#hasJoinedUser(r, pending)) out.push(r.id);
    }
    return out;
  }
}
