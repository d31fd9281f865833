/**
 * The Room actor's side of change notification: after each commit (never inside the
 * write transaction), after a typing change and after a receipt, the room's position
 * goes to its hub shard. Design: docs/design/sync.md ("The notification path").
 *
 * Coalescing by backpressure: at most one publish is in flight per room; changes that
 * arrive meanwhile only mark the position dirty, and the next publish (sent when the
 * current one returns) carries the newest position. The first change after a quiet
 * period goes out at once, so a lone message costs no added latency.
 *
 * Each publish also carries the events committed since the previous one, serialised once
 * (lib/sync/shared-event.ts), and the typing set when it changed: the hub serves them to
 * listeners without a call back to this room.
 */
import { shardOf, type PublishBatch } from "../../lib/sync/hub.ts";
import { BUMP_EVENT_TYPES, type PublishedPosition } from "../../lib/sync/position.ts";
import type { SharedEvent, SharedReceipt } from "../../lib/sync/shared-event.ts";
import type { Env } from "../env.ts";
import { syncHubActor, syncHubShards } from "../stubs.ts";

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 30_000;

export interface RoomHeadView {
  /** The newest event's stream ordering. */
  readonly stream: number;
}

export class RoomPublisher {
  readonly #env: Env;
  readonly #roomId: string;
  readonly #head: RoomHeadView;
  readonly #receiptPosition: () => number;
  readonly #findBump: () => number;
  readonly #typingUsers: () => string[];
  readonly #findStateStream: () => number;
  readonly #receiptsAfter: (pos: number) => SharedReceipt[];
  readonly #deviceListPosition: () => number;
  readonly #presencePosition: () => number;
  /** Receipt position of the last publish (undefined: none yet — its receipts are not sent). */
  #publishedReceipts: number | undefined;
  #bump: number | undefined;
  #stateStream: number | undefined;
  #typing = 0;
  #publishedTyping = 0;
  /** Events committed and not yet published, and the stream position before the first. */
  #pending: SharedEvent[] = [];
  #pendingFrom = 0;
  #inFlight = false;
  #dirty = false;
  #retryMs = RETRY_MIN_MS;
  /** Publishes sent (tests and the cost figures). */
  published = 0;

  constructor(
    env: Env,
    roomId: string,
    head: RoomHeadView,
    receiptPosition: () => number,
    findBump: () => number,
    typingUsers: () => string[],
    findStateStream: () => number,
    receiptsAfter: (pos: number) => SharedReceipt[],
    deviceListPosition: () => number = () => 0,
    presencePosition: () => number = () => 0,
  ) {
    this.#env = env;
    this.#roomId = roomId;
    this.#head = head;
    this.#receiptPosition = receiptPosition;
    this.#findBump = findBump;
    this.#typingUsers = typingUsers;
    this.#findStateStream = findStateStream;
    this.#receiptsAfter = receiptsAfter;
    this.#deviceListPosition = deviceListPosition;
    this.#presencePosition = presencePosition;
  }

  /** The room's position now. */
  position(): PublishedPosition {
    this.#bump ??= this.#findBump();
    const pos: PublishedPosition = { s: this.#head.stream, r: this.#receiptPosition(), t: this.#typing, b: this.#bump };
    const d = this.#deviceListPosition();
    if (d > 0) pos.d = d;
    const p = this.#presencePosition();
    if (p > 0) pos.p = p;
    return pos;
  }

  /** Events were committed (their stream orderings are in the head already), in stream order. */
  eventsCommitted(events: readonly SharedEvent[]): void {
    if (events.length === 0) return;
    this.#stateStream ??= this.#findStateStream();
    for (const e of events) {
      if (BUMP_EVENT_TYPES.has(e.type)) this.#bump = Math.max(this.#bump ?? 0, e.originServerTs);
      if (e.stateKey !== undefined && e.stream > this.#stateStream) this.#stateStream = e.stream;
    }
    if (this.#pending.length === 0) this.#pendingFrom = events[0]!.stream - 1;
    this.#pending.push(...events);
    this.changed();
  }

  /**
   * The typing set changed. The serial is time-based so that it keeps growing across
   * restarts of the room (an in-memory counter would start again at 0 below what clients hold).
   */
  typingChanged(): void {
    this.#typing = Math.max(this.#typing + 1, Date.now());
    this.changed();
  }

  /** Something changed: publish now, or right after the publish in flight. */
  changed(): void {
    this.#dirty = true;
    if (!this.#inFlight) void this.#run();
  }

  async #run(): Promise<void> {
    this.#inFlight = true;
    try {
      while (this.#dirty) {
        this.#dirty = false;
        const pos = this.position();
        const batch: PublishBatch = { from: this.#pendingFrom, events: this.#pending, stateStream: (this.#stateStream ??= this.#findStateStream()) };
        if (pos.t !== this.#publishedTyping) batch.typing = this.#typingUsers();
        const fromReceipt = this.#publishedReceipts;
        if (fromReceipt !== undefined && pos.r > fromReceipt) batch.receipts = { from: fromReceipt, entries: this.#receiptsAfter(fromReceipt) };
        this.#pending = [];
        try {
          const hub = syncHubActor(this.#env, shardOf(this.#roomId, syncHubShards(this.#env)));
          await hub.publish(this.#roomId, pos, batch);
          this.published++;
          this.#publishedTyping = pos.t;
          this.#publishedReceipts = pos.r;
          this.#retryMs = RETRY_MIN_MS;
        } catch (e) {
          // Not delivered: its events go out again with the next try, before any newer ones.
          if (this.#pending.length > 0) this.#pendingFrom = batch.from;
          this.#pending = batch.events.concat(this.#pending);
          // Positions are absolute: a retry sends whatever is newest by then.
          console.error(`sync publish of ${this.#roomId} failed; retrying in ${this.#retryMs} ms`, e);
          this.#dirty = true;
          await new Promise((r) => setTimeout(r, this.#retryMs));
          this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS);
        }
      }
    } finally {
      this.#inFlight = false;
    }
  }
}

/** The stream of the newest accepted state event (SQL on the room's events; the events_state index). */
export function newestStateStream(sql: SqlStorage): number {
  return sql.exec<{ s: number | null }>("SELECT MAX(stream) AS s FROM events WHERE state_key IS NOT NULL AND rejection IS NULL").one().s ?? 0;
}

/** The bump stamp: origin_server_ts of the newest event that counts for recency (SQL on the room's events). */
export function newestBumpStamp(sql: SqlStorage): number {
  const types = [...BUMP_EVENT_TYPES];
  const row = sql
    .exec<{ ts: number }>(
      `SELECT origin_server_ts AS ts FROM events WHERE rejection IS NULL AND type IN (${types.map(() => "?").join(", ")}) ORDER BY stream DESC LIMIT 1`,
      ...types,
    )
    .toArray()[0];
  return row?.ts ?? 0;
}
