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
import { isAhead, mergePosition, streamsOf, type PublishedPosition, type RoomPosition } from "./position.ts";
import { entriesAfter, eventsAfter, type HubRoomDelta, type SharedEvent, type SharedReceipt } from "./shared-event.ts";

/** Entries not refreshed by a publish or a seed for this long are dropped (see the design's failure modes). */
export const HUB_ENTRY_TTL_MS = 60 * 60 * 1000;
/**
 * Newest events kept per room for the fast path: a listener of a room at 100 msg/s that
 * is a few seconds behind under load still gets its events from here (past it, its sync
 * goes to the room, which is then busiest).
 */
export const MAX_BUFFERED_EVENTS = 1024;
/** Events kept over all rooms of a shard (≈ 0.5 KB each); the least recently active rooms lose theirs first. */
export const MAX_BUFFERED_TOTAL = 65_536;
/** Rooms whose events are kept at once; the least recently active lose theirs first. */
export const MAX_BUFFERED_ROOMS = 4096;
/** Newest receipts kept per room for the fast path. */
export const MAX_BUFFERED_RECEIPTS = 256;

/** What a room publishes besides its position: the events committed since its last publish. */
export interface PublishBatch {
  /** Stream position right before the first event (the room's position at its previous publish). */
  from: number;
  events: SharedEvent[];
  /** The typing set at the published `t`. */
  typing?: string[];
  /** Stream of the room's newest state event at the published `s`. */
  stateStream?: number;
  /** Receipts written since the last publish, and the receipt position before the first. */
  receipts?: { from: number; entries: SharedReceipt[] };
}

interface Buffer {
  /** Stream position before events[0]. */
  from: number;
  events: SharedEvent[];
  /** Stream of the newest state event up to the buffer's end (undefined: not known). */
  stateStream?: number;
}

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
  /** Rooms whose published position is ahead of what the user has, with the events when the shard has them all. */
  changed: HubRoomDelta[];
  /** Rooms this shard knows nothing about: ask the room. */
  unknown: string[];
  /** Whether the user is now armed. */
  armed: boolean;
}

export class HubState {
  readonly #positions = new Map<string, Entry>();
  readonly #armed = new Map<string, Armed>();
  readonly #byRoom = new Map<string, Set<string>>();
  readonly #buffers = new Map<string, Buffer>();
  /** Events held in #buffers. */
  #bufferedTotal = 0;
  readonly #typing = new Map<string, { t: number; users: string[] }>();
  readonly #receipts = new Map<string, { from: number; entries: SharedReceipt[] }>();

  /** A room's new position (and events); returns the users to wake (each disarmed). */
  publish(roomId: string, pos: PublishedPosition, now: number, batch?: PublishBatch): Wake[] {
    const merged = this.#merge(roomId, pos, now);
    if (batch) this.#buffer(roomId, batch, pos);
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
   * so no publish can slip between the answer and the arming. With `armAhead`, the user is
   * armed even when rooms changed, at the positions this answer gives it: the answer is
   * what the user will have, so the next change after it wakes the user.
   */
  poll(
    userId: string,
    known: ReadonlyArray<[roomId: string, pos: RoomPosition]>,
    seeds: ReadonlyArray<[roomId: string, pos: PublishedPosition]>,
    armUntil: number,
    now: number,
    maxEvents = 0,
    armAhead = false,
  ): PollResult {
    for (const [roomId, pos] of seeds) this.#merge(roomId, pos, now);
    const changed: PollResult["changed"] = [];
    const unknown: string[] = [];
    for (const [roomId, pos] of known) {
      const e = this.#live(roomId, now);
      if (!e) unknown.push(roomId);
      else if (isAhead(e.pos, pos)) changed.push(this.#delta(roomId, e.pos, pos, maxEvents));
    }
    const arm = (changed.length === 0 || armAhead) && armUntil > now;
    this.#disarm(userId);
    if (arm) {
      const rooms = new Map<string, RoomPosition>(known);
      for (const d of changed) rooms.set(d.roomId, streamsOf(d.pos));
      this.#armed.set(userId, { rooms, until: armUntil });
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
        this.#bufferedTotal -= this.#buffers.get(id)?.events.length ?? 0;
        this.#buffers.delete(id);
        this.#typing.delete(id);
        this.#receipts.delete(id);
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

  /** The events after `known.s` up to `pos.s` if this shard holds all of them (and not more than `max`). */
  #delta(roomId: string, pos: PublishedPosition, known: RoomPosition, max: number): HubRoomDelta {
    const d: HubRoomDelta = { roomId, pos };
    const typing = this.#typing.get(roomId);
    if (typing && typing.t === pos.t) d.typing = typing.users;
    const receipts = this.#receipts.get(roomId);
    const lastReceipt = receipts && (receipts.entries.length > 0 ? receipts.entries[receipts.entries.length - 1]!.pos : receipts.from);
    if (pos.r > known.r && receipts && receipts.from <= known.r && lastReceipt === pos.r) {
      d.receipts = entriesAfter(receipts.entries, known.r, (r) => r.pos);
    }
    const buf = this.#buffers.get(roomId);
    if (!buf || pos.s <= known.s) {
      if (pos.s <= known.s) d.events = [];
      return d;
    }
    const last = buf.events.length > 0 ? buf.events[buf.events.length - 1]!.stream : buf.from;
    if (last !== pos.s || max <= 0) return d;
    if (buf.from <= known.s && pos.s - known.s <= max) {
      d.events = eventsAfter(buf.events, known.s);
      return d;
    }
    // A gap, but no state changed in it: the newest `max` events and `limited` say it all
    // (the state delta a gappy sync needs is empty).
    if (buf.stateStream !== undefined && buf.stateStream <= known.s && buf.events.length >= max) {
      d.events = buf.events.slice(buf.events.length - max);
      d.limited = true;
    }
    return d;
  }

  #buffer(roomId: string, batch: PublishBatch, pos: PublishedPosition): void {
    if (batch.typing) this.#typing.set(roomId, { t: pos.t, users: batch.typing });
    if (batch.receipts && batch.receipts.entries.length > 0) this.#bufferReceipts(roomId, batch.receipts);
    if (batch.events.length === 0) return;
    const buf = this.#buffers.get(roomId);
    const last = buf ? (buf.events.length > 0 ? buf.events[buf.events.length - 1]!.stream : buf.from) : undefined;
    // Contiguous with what is held: append; otherwise (a publish was lost, the shard restarted) start over.
    const next: Buffer = buf && last === batch.from ? { from: buf.from, events: buf.events.concat(batch.events) } : { from: batch.from, events: batch.events };
    next.stateStream = batch.stateStream;
    if (next.events.length > MAX_BUFFERED_EVENTS) {
      const drop = next.events.length - MAX_BUFFERED_EVENTS;
      next.from = next.events[drop - 1]!.stream;
      next.events = next.events.slice(drop);
    }
    // Re-inserted so that Map order is recency order.
    this.#bufferedTotal -= buf?.events.length ?? 0;
    this.#buffers.delete(roomId);
    this.#buffers.set(roomId, next);
    this.#bufferedTotal += next.events.length;
    for (const [id, b] of this.#buffers) {
      if (this.#buffers.size <= MAX_BUFFERED_ROOMS && this.#bufferedTotal <= MAX_BUFFERED_TOTAL) break;
      if (id === roomId) break;
      this.#bufferedTotal -= b.events.length;
      this.#buffers.delete(id);
    }
  }

  #bufferReceipts(roomId: string, batch: { from: number; entries: SharedReceipt[] }): void {
    const held = this.#receipts.get(roomId);
    const last = held && (held.entries.length > 0 ? held.entries[held.entries.length - 1]!.pos : held.from);
    const next = held && last === batch.from ? { from: held.from, entries: held.entries.concat(batch.entries) } : { from: batch.from, entries: batch.entries };
    if (next.entries.length > MAX_BUFFERED_RECEIPTS) {
      const drop = next.entries.length - MAX_BUFFERED_RECEIPTS;
      next.from = next.entries[drop - 1]!.pos;
      next.entries = next.entries.slice(drop);
    }
    this.#receipts.set(roomId, next);
    // Bounded like the event buffers (rooms with receipts but no buffered events are rare).
    if (this.#receipts.size > MAX_BUFFERED_ROOMS) this.#receipts.delete(this.#receipts.keys().next().value!);
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
