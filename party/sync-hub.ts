/**
 * SyncHub actor: one of K shards (`sync-hub-<i>`), each holding, in memory only, the
 * newest position of the rooms that hash to it and the users armed to be woken when one
 * of their rooms moves. Rooms publish here after commit; users poll here when they sync.
 * The rooms stay the truth: a shard that lost its memory answers "unknown".
 * Design and cost model: docs/design/sync.md; the logic is lib/sync/hub.ts.
 */
import { Server } from "partyserver";
import { HubState, type PublishBatch } from "../lib/sync/hub.ts";
import type { PublishedPosition, RoomPosition } from "../lib/sync/position.ts";
import type { HubRoomDelta } from "../lib/sync/shared-event.ts";
import type { Env } from "./env.ts";
import { userActor } from "./stubs.ts";

/** Expired entries are swept at most this often. */
const SWEEP_INTERVAL_MS = 60_000;

export class SyncHub extends Server<Env> {
  readonly #state = new HubState();
  #lastSweep = Date.now();
  /** Wakes sent (tests and the cost figures). */
  #wakes = 0;

  /** A room's new position and the events since its last publish (from the room's publisher, after commit). */
  async publish(roomId: string, pos: PublishedPosition, batch?: PublishBatch): Promise<void> {
    const now = Date.now();
    for (const w of this.#state.publish(roomId, pos, now, batch)) {
      this.#wakes++;
      // Not awaited: the publishing room must not wait for its listeners.
      userActor(this.env, w.userId)
        .syncWake(w.rooms)
        .catch((e: unknown) => console.error(`sync wake of ${w.userId} failed`, e));
    }
    this.#sweep(now);
  }

  /**
   * A user's sync: which of these rooms moved since the given positions — with their new
   * events when this shard holds them all and they are at most `maxEvents` — and arm the
   * user if none did.
   */
  async poll(
    userId: string,
    known: Array<[string, RoomPosition]>,
    seeds: Array<[string, PublishedPosition]>,
    armUntil: number,
    maxEvents: number,
    armAhead: boolean,
  ): Promise<{ changed: HubRoomDelta[]; unknown: string[]; armed: boolean }> {
    const now = Date.now();
    this.#sweep(now);
    return this.#state.poll(userId, known, seeds, armUntil, now, maxEvents, armAhead);
  }

  /** Known positions (bump stamps for recency order); absent rooms are unknown here. */
  async positions(roomIds: string[]): Promise<Array<[string, PublishedPosition]>> {
    return [...this.#state.positions(roomIds, Date.now())];
  }

  async stats(): Promise<{ rooms: number; armed: number; wakes: number }> {
    return { ...this.#state.stats(), wakes: this.#wakes };
  }

  #sweep(now: number): void {
    if (now - this.#lastSweep < SWEEP_INTERVAL_MS) return;
    this.#lastSweep = now;
    this.#state.sweep(now);
  }
}
