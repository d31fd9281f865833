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
  size: number;
}

export class LazyMemberCache {
  readonly #devices = new Map<string, DeviceRecord>();

  /** The record for a sync of `deviceId` from `since` (empty unless it continues the last response). */
  begin(deviceId: string, since: string | undefined): LazyMemberSession {
    const prev = this.#devices.get(deviceId);
    const rooms = prev && since !== undefined && prev.token === since ? prev.rooms : new Map<string, Set<string>>();
    const size = rooms === prev?.rooms ? prev.size : 0;
    return new LazyMemberSession(rooms, size, (token, r, n) => {
      if (n > MAX_REMEMBERED_MEMBERS) this.#devices.delete(deviceId);
      else this.#devices.set(deviceId, { token, rooms: r, size: n });
    });
  }

  forget(deviceId: string): void {
    this.#devices.delete(deviceId);
  }
}

export class LazyMemberSession {
  // Copy-on-write per room: an abandoned session never alters the stored record.
  readonly #rooms: Map<string, Set<string>>;
  #size: number;

  constructor(
    rooms: Map<string, Set<string>>,
    size: number,
    private readonly commitFn: (token: string, rooms: Map<string, Set<string>>, size: number) => void,
  ) {
    this.#rooms = new Map(rooms);
    this.#size = size;
  }

  /** Keeps the member events not sent before (all of them when `includeRedundant`) and records them as sent. */
  filter<E extends { event_id: string }>(roomId: string, events: readonly E[], includeRedundant: boolean): E[] {
    const had = this.#rooms.get(roomId);
    const sent = new Set(had);
    const out = events.filter((e) => includeRedundant || !sent.has(e.event_id));
    for (const e of out) {
      if (!sent.has(e.event_id)) {
        sent.add(e.event_id);
        this.#size++;
      }
    }
    this.#rooms.set(roomId, sent);
    return out;
  }

  /** Records members sent by other means (state, timeline) so they count as known. */
  note(roomId: string, eventIds: Iterable<string>): void {
    const sent = new Set(this.#rooms.get(roomId));
    for (const id of eventIds) {
      if (!sent.has(id)) {
        sent.add(id);
        this.#size++;
      }
    }
    this.#rooms.set(roomId, sent);
  }

  /** A room the client must rebuild (newly joined, full state): nothing of it counts as sent. */
  reset(roomId: string): void {
    const had = this.#rooms.get(roomId);
    if (had) this.#size -= had.size;
    this.#rooms.delete(roomId);
  }

  /** The response carrying `token` was produced: the record now describes it. */
  commit(token: string): void {
    this.commitFn(token, this.#rooms, this.#size);
  }
}
