/**
 * The state of one sync hub shard, as pure data: the newest published position of each
 * room of the shard, and the users armed to be woken when one of their rooms moves.
 * The actor (party/sync-hub.ts) only feeds it RPCs and sends the wakes it returns.
 * Design and cost model: docs/design/sync.md.
 *
 * Everything here is a cache of the rooms' truth: an entry absent (never published,
 * expired, or lost with the actor's memory) is answered as "unknown", and the user asks
 * the room itself.
 */
import { isAhead, mergePosition, type PublishedPosition, type RoomPosition } from "./position.ts";

/** Entries not refreshed by a publish or a seed for this long are dropped (see the design's failure modes). */
export const HUB_ENTRY_TTL_MS = 60 * 60 * 1000;

interface Entry {
  pos: PublishedPosition;
  refreshed: number;
}

interface Armed {
  /** The positions the user has of its rooms in this shard. */
  rooms: Map<string, RoomPosition>;
  until: number;
}

export interface Wake {
  userId: string;
  rooms: Array<[roomId: string, pos: PublishedPosition]>;
}

export interface PollResult {
  /** Rooms whose published position is ahead of what the user has. */
  changed: Array<[roomId: string, pos: PublishedPosition]>;
  /** Rooms this shard knows nothing about: ask the room. */
  unknown: string[];
  /** Whether the user is now armed (only when nothing changed). */
  armed: boolean;
}

export class HubState {
  readonly #positions = new Map<string, Entry>();
  readonly #armed = new Map<string, Armed>();
  readonly #byRoom = new Map<string, Set<string>>();

  /** A room's new position; returns the users to wake (each disarmed). */
  publish(roomId: string, pos: PublishedPosition, now: number): Wake[] {
    const merged = this.#merge(roomId, pos, now);
    const listeners = this.#byRoom.get(roomId);
    if (!listeners) return [];
    const wakes: Wake[] = [];
    for (const userId of [...listeners]) {
      const a = this.#armed.get(userId);
      if (!a || a.until <= now) {
        this.#disarm(userId);
        continue;
      }
      const known = a.rooms.get(roomId);
      if (known && !isAhead(merged, known)) continue;
      wakes.push({ userId, rooms: [[roomId, merged]] });
      this.#disarm(userId);
    }
    return wakes;
  }

  /**
   * A user's sync asks which of its rooms moved. `seeds` are positions the user learned
   * from rooms directly (after an "unknown"): merged first, as a publish would be. When
   * nothing changed, the user is armed until `armUntil` (0: do not arm) in the same step,
   * so no publish can slip between the answer and the arming.
   */
  poll(
    userId: string,
    known: ReadonlyArray<[roomId: string, pos: RoomPosition]>,
    seeds: ReadonlyArray<[roomId: string, pos: PublishedPosition]>,
    armUntil: number,
    now: number,
  ): PollResult {
    for (const [roomId, pos] of seeds) this.#merge(roomId, pos, now);
    const changed: PollResult["changed"] = [];
    const unknown: string[] = [];
    for (const [roomId, pos] of known) {
      const e = this.#live(roomId, now);
      if (!e) unknown.push(roomId);
      else if (isAhead(e.pos, pos)) changed.push([roomId, e.pos]);
    }
    const arm = changed.length === 0 && armUntil > now;
    this.#disarm(userId);
    if (arm) {
      this.#armed.set(userId, { rooms: new Map(known), until: armUntil });
      for (const [roomId] of known) {
        let set = this.#byRoom.get(roomId);
        if (!set) this.#byRoom.set(roomId, (set = new Set()));
        set.add(userId);
      }
    }
    return { changed, unknown, armed: arm };
  }

  /** The positions of the given rooms that this shard knows (for recency ordering). */
  positions(roomIds: readonly string[], now: number): Map<string, PublishedPosition> {
    const out = new Map<string, PublishedPosition>();
    for (const id of roomIds) {
      const e = this.#live(id, now);
      if (e) out.set(id, e.pos);
    }
    return out;
  }

  /** Drops expired entries and arms; returns how many were dropped. */
  sweep(now: number): number {
    let n = 0;
    for (const [id, e] of this.#positions) {
      if (e.refreshed + HUB_ENTRY_TTL_MS <= now) {
        this.#positions.delete(id);
        n++;
      }
    }
    for (const [userId, a] of this.#armed) {
      if (a.until <= now) {
        this.#disarm(userId);
        n++;
      }
    }
    return n;
  }

  stats(): { rooms: number; armed: number } {
    return { rooms: this.#positions.size, armed: this.#armed.size };
  }

  #merge(roomId: string, pos: PublishedPosition, now: number): PublishedPosition {
    const e = this.#live(roomId, now);
    const merged = e ? mergePosition(e.pos, pos) : pos;
    this.#positions.set(roomId, { pos: merged, refreshed: now });
    return merged;
  }

  #live(roomId: string, now: number): Entry | undefined {
    const e = this.#positions.get(roomId);
    if (e && e.refreshed + HUB_ENTRY_TTL_MS <= now) {
      this.#positions.delete(roomId);
      return undefined;
    }
    return e;
  }

  #disarm(userId: string): void {
    const a = this.#armed.get(userId);
    if (!a) return;
    this.#armed.delete(userId);
    for (const roomId of a.rooms.keys()) {
      const set = this.#byRoom.get(roomId);
      set?.delete(userId);
      if (set?.size === 0) this.#byRoom.delete(roomId);
    }
  }
}

/** FNV-1a (32 bit) of a room ID: a stable shard choice, identical in every isolate. */
export function shardOf(roomId: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < roomId.length; i++) {
    h ^= roomId.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % shards;
}
