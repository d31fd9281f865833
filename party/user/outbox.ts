/**
 * The User actor's outbox (schema/user.sql `user_outbox`): effects of a change to the
 * user's own data that must reach another actor or D1 even if this actor stops right
 * after the change — a new displayname or avatar for every joined room, the cross-user
 * pusher index in D1, the removal of other users' pushers (`append: false`).
 *
 * A row is written in the same transaction as the change (by the caller, or by a SQLite
 * trigger on `pushers`), delivered right after by the same request, and retried with
 * backoff by the actor's alarm. One row per (kind, target): a newer change replaces a
 * waiting row (INSERT OR REPLACE gives it a new id), and a delivered row is deleted by
 * its id, so a change made while its older row was being delivered is not lost.
 * Handlers read the current data when they run (the latest wins) and are idempotent.
 */
import type { JsonObject } from "../../lib/json.ts";

/** Delivers one row; throws to be retried. */
export type OutboxHandler = (target: string, payload: JsonObject) => Promise<void>;

const MAX_BACKOFF_MS = 10 * 60 * 1000;
const backoff = (attempts: number) => Math.min(MAX_BACKOFF_MS, 1000 * 2 ** attempts);
/** If this instance stops before a pass ends, the alarm brings the actor back this much later. */
const BACKSTOP_MS = 5_000;

type OutboxRow = { id: number; kind: string; target: string; payload: string; attempts: number };

export class UserOutbox {
  #pass: Promise<void> = Promise.resolve();

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly handlers: Readonly<Record<string, OutboxHandler>>,
  ) {}

  /** Queues (or replaces) the row for (kind, target). Call inside the change's transaction. */
  add(kind: string, target: string, payload: JsonObject = {}): void {
    this.storage.sql.exec(
      "INSERT OR REPLACE INTO user_outbox (kind, target, payload, next_ts, attempts) VALUES (?, ?, ?, 0, 0)",
      kind,
      target,
      JSON.stringify(payload),
    );
  }

  /**
   * Delivers what is due now, one pass at a time (a call during a pass runs another after
   * it). Before delivering it sets the backstop alarm; after, an alarm for the next retry.
   * Never throws: failures stay queued.
   */
  deliver(): Promise<void> {
    const next = this.#pass.then(() => this.#once());
    this.#pass = next.catch((e: unknown) => console.error("user outbox", e));
    return this.#pass;
  }

  async #once(): Promise<void> {
    const now = Date.now();
    const due = this.storage.sql
      .exec<OutboxRow>("SELECT id, kind, target, payload, attempts FROM user_outbox WHERE next_ts <= ? ORDER BY id LIMIT 100", now)
      .toArray();
    if (due.length > 0) await this.storage.setAlarm(now + BACKSTOP_MS);
    for (const row of due) {
      const handler = this.handlers[row.kind];
      try {
        if (!handler) throw new Error(`unknown user outbox kind ${row.kind}`);
        await handler(row.target, JSON.parse(row.payload) as JsonObject);
        this.storage.sql.exec("DELETE FROM user_outbox WHERE id = ?", row.id);
      } catch (e) {
        console.error(`user outbox: ${row.kind} to ${row.target} failed (attempt ${row.attempts + 1})`, e);
        this.storage.sql.exec("UPDATE user_outbox SET attempts = attempts + 1, next_ts = ? WHERE id = ?", now + backoff(row.attempts), row.id);
      }
    }
    const next = this.storage.sql.exec<{ t: number | null }>("SELECT MIN(next_ts) AS t FROM user_outbox").one().t;
    if (next === null) return;
    // The alarm is shared (sockets, presence): a later retry must not push an earlier alarm back.
    const want = Math.max(next, Date.now() + 100);
    const current = await this.storage.getAlarm();
    if (current === null || current > want || current < Date.now()) await this.storage.setAlarm(want);
  }
}
