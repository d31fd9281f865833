/**
 * Which lazy-loaded member events a client already has, so they are not sent again.
 * https://spec.matrix.org/v1.19/client-server-api/#lazy-loading-room-members
 *
 * The record is per device and lives in memory. It is only trusted for a sync that
 * continues from the token the previous response of that device carried: a client that
 * retries an older token (its response was lost) or restarts gets a fresh record, so it
 * is sent members again — redundant, which the spec allows, never missing.
 */

/** Rooms × members remembered per device at most; beyond it the record starts over. */
export const MAX_REMEMBERED_MEMBERS = 50_000;

interface DeviceRecord {
  /** The next_batch of the response the record describes. */
  token: string;
  /** room ID → member event IDs sent. */
  rooms: Map<string, Set<string>>;
  /** room ID → users whose current member event was sent. */
  users: Map<string, Set<string>>;
  size: number;
}

export class LazyMemberCache {
  readonly #devices = new Map<string, DeviceRecord>();

  /** The record for a sync of `deviceId` from `since` (empty unless it continues the last response). */
  begin(deviceId: string, since: string | undefined): LazyMemberSession {
    const prev = this.#devices.get(deviceId);
    const continues = prev !== undefined && since !== undefined && prev.token === since;
    return new LazyMemberSession(continues ? prev.rooms : new Map(), continues ? prev.users : new Map(), continues ? prev.size : 0, (token, r, u, n) => {
      if (n > MAX_REMEMBERED_MEMBERS) this.#devices.delete(deviceId);
      else this.#devices.set(deviceId, { token, rooms: r, users: u, size: n });
    });
  }

  forget(deviceId: string): void {
    this.#devices.delete(deviceId);
  }
}

export class LazyMemberSession {
  // Copy-on-write per room: an abandoned session never alters the stored record.
  readonly #rooms: Map<string, Set<string>>;
  readonly #users: Map<string, Set<string>>;
  #size: number;

  constructor(
    rooms: Map<string, Set<string>>,
    users: Map<string, Set<string>>,
    size: number,
    private readonly commitFn: (token: string, rooms: Map<string, Set<string>>, users: Map<string, Set<string>>, size: number) => void,
  ) {
    this.#rooms = new Map(rooms);
    this.#users = new Map(users);
    this.#size = size;
  }

  /** Keeps the member events not sent before (all of them when `includeRedundant`) and records them as sent. */
  filter<E extends { event_id: string; state_key?: string }>(roomId: string, events: readonly E[], includeRedundant: boolean): E[] {
    const sent = new Set(this.#rooms.get(roomId));
    const out = events.filter((e) => includeRedundant || !sent.has(e.event_id));
    for (const e of out) {
      if (!sent.has(e.event_id)) {
        sent.add(e.event_id);
        this.#size++;
      }
    }
    this.#rooms.set(roomId, sent);
    this.noteUsers(roomId, events.map((e) => e.state_key ?? ""));
    return out;
  }

  /** Users whose current member event the client now has (sent in state, lazily or in the timeline). */
  noteUsers(roomId: string, userIds: Iterable<string>): void {
    let users: Set<string> | undefined;
    for (const u of userIds) {
      if (u === "" || this.#users.get(roomId)?.has(u)) continue;
      users ??= new Set(this.#users.get(roomId));
      users.add(u);
      this.#size++;
    }
    if (users) this.#users.set(roomId, users);
  }

  /** Whether the client has `userId`'s current member event in the room (as far as this record knows). */
  knowsUser(roomId: string, userId: string): boolean {
    return this.#users.get(roomId)?.has(userId) ?? false;
  }

  /** A room the client must rebuild (newly joined, full state): nothing of it counts as sent. */
  reset(roomId: string): void {
    this.#size -= (this.#rooms.get(roomId)?.size ?? 0) + (this.#users.get(roomId)?.size ?? 0);
    this.#rooms.delete(roomId);
    this.#users.delete(roomId);
  }

  /** The response carrying `token` was produced: the record now describes it. */
  commit(token: string): void {
    this.commitFn(token, this.#rooms, this.#users, this.#size);
  }
}
