/**
 * The User actor's presence (schema/user.sql migration 7, lib/presence.ts for the rules):
 * PUT /presence, /sync's set_presence, activity from the edge, and the timed transitions
 * (idle, offline) run by the actor's alarm. A visible change (state, status message,
 * currently_active) gets the next serial and goes once to each joined room through the
 * outbox (kind `presence`), in the change's transaction; the rooms publish it to their
 * readers. Activity alone changes only memory, until last_active_ts is PRESENCE_ACTIVE_MS
 * past the published copy's. Design and costs: docs/design/presence.md.
 */
import {
  afterActivity,
  afterPut,
  afterSyncStart,
  afterTimers,
  INITIAL_PRESENCE,
  needsPublish,
  nextDeadline,
  presenceContent,
  type PresenceRecord,
  type PresenceState,
} from "../../lib/presence.ts";
import type { JsonObject } from "../../lib/json.ts";
import type { PresenceConfig } from "../env.ts";

export const PRESENCE_OUTBOX = "presence";

/** Per-isolate counts for the cost tests and docs/design/presence.md (no behaviour depends on them). */
export const PRESENCE_COUNTERS = {
  /** Changes published (a serial taken, the row written, one outbox row per joined room). */
  published: 0,
  /** User → Room `presenceChanged` deliveries. */
  roomNotices: 0,
};

/** The clock presence runs on (tests move it forward to reach the idle and offline timers). */
export const presenceClock = { now: (): number => Date.now() };

export interface PresenceHost {
  storage: DurableObjectStorage;
  config: () => PresenceConfig;
  /** The user's joined rooms (local table). */
  joinedRooms: () => string[];
  /** Queues one outbox row; called inside the change's transaction. */
  queue: (roomId: string, rec: PresenceRecord) => void;
  /** Delivers queued outbox rows (never throws). */
  deliver: () => Promise<void>;
  /** Wakes this user's own waiting syncs. */
  notify: () => void;
}

type Row = { presence: string; status_msg: string | null; last_active_ts: number; currently_active: number; serial: number; last_sync_ts: number };

export class UserPresence {
  #rec: PresenceRecord | undefined;
  /** The record as last published (stored, and held by the rooms). */
  #published: PresenceRecord | undefined;
  #lastSyncTs = 0;
  /** Syncs that affect presence in progress (memory: a running request keeps the instance alive). */
  #syncing = 0;

  constructor(private readonly host: PresenceHost) {}

  get enabled(): boolean {
    return this.host.config().enabled;
  }

  /** The current record (loaded once per instance). */
  current(): PresenceRecord {
    if (!this.#rec) {
      const r = this.host.storage.sql
        .exec<Row>("SELECT presence, status_msg, last_active_ts, currently_active, serial, last_sync_ts FROM presence WHERE id = 1")
        .toArray()[0];
      this.#rec = r
        ? { presence: r.presence as PresenceState, status_msg: r.status_msg, last_active_ts: r.last_active_ts, currently_active: r.currently_active === 1, serial: r.serial }
        : { ...INITIAL_PRESENCE };
      this.#published = this.#rec;
      this.#lastSyncTs = Math.max(this.#lastSyncTs, r?.last_sync_ts ?? 0);
    }
    return this.#rec;
  }

  /** GET /presence/{userId}/status: the record with any transition already due applied (the alarm may lag). */
  status(now = presenceClock.now()): JsonObject {
    if (!this.enabled) return { presence: "offline" };
    const rec = afterTimers(this.current(), { now, lastSyncTs: this.#lastSyncTs, syncing: this.#syncing }, this.host.config());
    return presenceContent(rec, now);
  }

  /** PUT /presence/{userId}/status (the edge checked the body). Counts as a sync for the offline timer. */
  async put(presence: PresenceState, statusMsg: string | null): Promise<void> {
    if (!this.enabled) return;
    const now = presenceClock.now();
    this.#lastSyncTs = Math.max(this.#lastSyncTs, now);
    await this.#apply(afterPut(this.current(), presence, statusMsg, now));
  }

  /** The user sent something (from the edge, throttled there). */
  async activity(): Promise<void> {
    if (!this.enabled) return;
    await this.#apply(afterActivity(this.current(), presenceClock.now()));
  }

  /** A /sync with `set_presence` (default online) begins; call syncEnded when it answers. */
  async syncStarted(setPresence: PresenceState): Promise<boolean> {
    if (!this.enabled || setPresence === "offline") return false;
    this.#syncing++;
    await this.#apply(afterSyncStart(this.current(), setPresence, presenceClock.now()));
    return true;
  }

  async syncEnded(): Promise<void> {
    this.#syncing = Math.max(0, this.#syncing - 1);
    this.#lastSyncTs = presenceClock.now();
    await this.#arm();
  }

  /** The actor's alarm fired: run the transitions due and arm for the next. */
  async alarm(): Promise<void> {
    if (!this.enabled) return;
    await this.#apply(afterTimers(this.current(), { now: presenceClock.now(), lastSyncTs: this.#lastSyncTs, syncing: this.#syncing }, this.host.config()));
  }

  /**
   * The user joined a room: the published record goes there too (outbox row, delivered
   * without waiting), so members already in the room learn it without a new change.
   */
  joinedRoom(roomId: string): void {
    if (!this.enabled) return;
    const rec = this.#published ?? this.current();
    if (rec.serial === 0) return; // nothing published yet: the room's readers assume offline
    this.host.storage.transactionSync(() => this.host.queue(roomId, rec));
    void this.host.deliver();
  }

  /** The user's own record when the client's serial is behind it (own presence in /sync). */
  ownSince(serial: number): PresenceRecord | undefined {
    if (!this.enabled) return undefined;
    const rec = this.current();
    return rec.serial > serial ? rec : undefined;
  }

  async #apply(next: PresenceRecord): Promise<void> {
    const cur = this.current();
    if (!needsPublish(this.#published ?? cur, next, this.host.config().activeMs)) {
      this.#rec = next; // a newer last_active_ts within PRESENCE_ACTIVE_MS: memory only
      await this.#arm();
      return;
    }
    const rec = { ...next, serial: cur.serial + 1 };
    PRESENCE_COUNTERS.published++;
    this.host.storage.transactionSync(() => {
      this.host.storage.sql.exec(
        `INSERT INTO presence (id, presence, status_msg, last_active_ts, currently_active, serial, last_sync_ts) VALUES (1, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET presence = excluded.presence, status_msg = excluded.status_msg, last_active_ts = excluded.last_active_ts,
           currently_active = excluded.currently_active, serial = excluded.serial, last_sync_ts = excluded.last_sync_ts`,
        rec.presence,
        rec.status_msg,
        rec.last_active_ts,
        rec.currently_active ? 1 : 0,
        rec.serial,
        this.#lastSyncTs,
      );
      for (const roomId of this.host.joinedRooms()) this.host.queue(roomId, rec);
    });
    this.#rec = rec;
    this.#published = rec;
    this.host.notify();
    await this.#arm();
    await this.host.deliver();
  }

  /** Sets the actor's one alarm for the next transition unless an earlier one is set (others share it). */
  async #arm(): Promise<void> {
    const want = nextDeadline(this.current(), { lastSyncTs: this.#lastSyncTs, syncing: this.#syncing }, this.host.config());
    if (want === null) return;
    const now = Date.now(); // the alarm runs on real time
    const at = now + Math.max(10, want - presenceClock.now());
    const current = await this.host.storage.getAlarm();
    if (current === null || current > at || current < now) await this.host.storage.setAlarm(at);
  }
}
