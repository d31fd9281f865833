/**
 * Appservice actor, one per registration id: the ordered, durable queue of everything
 * owed to one appservice, and its delivery as transactions.
 * https://spec.matrix.org/v1.19/application-service-api/#pushing-events
 *
 * Rooms (events after their commit; typing and receipts after the change), DeviceKeys
 * actors (to-device messages, MSC3202 key counts) and rooms again (MSC3202 device-list
 * changes) call `enqueue`; the items are written to SQLite before the call returns, in
 * arrival order. One
 * transaction is in flight at a time — the next never overtakes an unacknowledged one —
 * made of up to MAX_TRANSACTION_ITEMS queued items and a txnId that only grows. It is
 * retried unchanged (same txnId, same items) with exponential backoff driven by the
 * Durable Object alarm until the appservice answers 2xx, across restarts of this actor.
 * So an appservice that was down for an hour receives its whole backlog, in order, and
 * sees an item twice only inside a transaction with the same txnId.
 */
import { Server } from "partyserver";
import type { Registration } from "../lib/appservice/registration.ts";
import {
  MAX_TRANSACTION_ITEMS,
  retryDelayMs,
  transactionAccepted,
  transactionBody,
  type QueueKind,
} from "../lib/appservice/transaction.ts";
import type { JsonObject } from "../lib/json.ts";
import { AppserviceUnreachable, callAppservice } from "./appservice/client.ts";
import { loadAppservices, type Env } from "./env.ts";
import { migrateOnStart } from "./migrations.ts";
import schema from "../schema/appservice.sql";
import { recordActorName } from "./actor-name.ts";

/** One item to deliver. `json` crosses RPC as text (see UiaReply in user.ts on recursive JSON types). */
export interface EnqueueItem {
  kind: QueueKind;
  json: string;
  /** Idempotency key (an event ID): an item whose key is already queued is not added again. */
  dedupe?: string;
}

export interface DeliveryStatus {
  /** Items waiting, including those of the transaction in flight. */
  queued: number;
  ackedSeq: number;
  /** The transaction being delivered (and retried), if any. */
  inFlightTxnId: number | null;
  nextTxnId: number;
  failures: number;
  nextTs: number;
  lastError: string | null;
  deliveredTxns: number;
}

/** An attempt that gets no answer within this long is abandoned and retried with the same txnId. */
export const TRANSACTION_TIMEOUT_MS = 60_000;
/** Acknowledged rows are kept this long, so that late duplicate enqueues still meet their key. */
const DEDUPE_WINDOW_MS = 10 * 60 * 1000;

interface DeliveryRow extends Record<string, SqlStorageValue> {
  acked_seq: number;
  next_txn_id: number;
  txn_id: number | null;
  txn_last_seq: number | null;
  failures: number;
  next_ts: number;
  last_error: string | null;
  delivered_txns: number;
}

export class Appservice extends Server<Env> {
  #pump: Promise<void> | undefined;
  #again = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    recordActorName(ctx);
    migrateOnStart(ctx, schema);
  }

  /** Appends items in order (skipping keys already queued); returns how many were new. Delivery starts at once. */
  async enqueue(items: EnqueueItem[]): Promise<number> {
    const now = Date.now();
    let added = 0;
    this.ctx.storage.transactionSync(() => {
      for (const it of items) {
        added += this.ctx.storage.sql
          .exec(
            "INSERT INTO queue (kind, json, dedupe, enqueued_ts) VALUES (?, ?, ?, ?) ON CONFLICT (dedupe) DO NOTHING RETURNING seq",
            it.kind,
            it.json,
            it.dedupe ?? null,
            now,
          )
          .toArray().length;
      }
    });
    // A backstop: if this instance goes away before delivering, the alarm brings it back.
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(now + 1000);
    void this.#deliver().catch((e) => console.error(`appservice ${this.name}: delivery failed`, e));
    return added;
  }

  /** Retry now instead of waiting out the backoff (e.g. the appservice just answered a ping). */
  async kick(): Promise<void> {
    this.ctx.storage.sql.exec("UPDATE delivery SET next_ts = 0 WHERE id = 1");
    await this.#deliver();
  }

  /** Delivers until the queue is empty or an attempt fails; resolves when this pass is over. */
  async flush(): Promise<DeliveryStatus> {
    await this.#deliver();
    return this.status();
  }

  async status(): Promise<DeliveryStatus> {
    const d = this.#state();
    const queued = this.ctx.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM queue WHERE seq > ?", d.acked_seq).one().n;
    return {
      queued,
      ackedSeq: d.acked_seq,
      inFlightTxnId: d.txn_id,
      nextTxnId: d.next_txn_id,
      failures: d.failures,
      nextTs: d.next_ts,
      lastError: d.last_error,
      deliveredTxns: d.delivered_txns,
    };
  }

  override async onAlarm(): Promise<void> {
    await this.#deliver();
  }

  // ---- delivery ---------------------------------------------------------------------

  /** One delivery loop at a time; a call during a loop makes it look again before stopping. */
  #deliver(): Promise<void> {
    if (this.#pump) {
      this.#again = true;
      return this.#pump;
    }
    this.#pump = (async () => {
      try {
        do {
          this.#again = false;
          while (await this.#step());
        } while (this.#again);
      } finally {
        this.#pump = undefined;
      }
    })();
    return this.#pump;
  }

  /** Sends the transaction in flight (making one if none); true when another may follow at once. */
  async #step(): Promise<boolean> {
    const reg = this.#registration();
    if (!reg || reg.url === null) return false; // removed from config, or wants no traffic: keep the queue
    const d = this.#state();
    const now = Date.now();
    if (d.txn_id === null && !this.#openTransaction(d)) return false;
    const st = this.#state();
    if (st.next_ts > now) {
      await this.ctx.storage.setAlarm(st.next_ts);
      return false;
    }
    // If this instance dies mid-attempt, the alarm retries the same transaction.
    await this.ctx.storage.setAlarm(now + TRANSACTION_TIMEOUT_MS + retryDelayMs(st.failures + 1));
    const rows = this.ctx.storage.sql
      .exec<{ kind: string; json: string }>("SELECT kind, json FROM queue WHERE seq > ? AND seq <= ? ORDER BY seq", st.acked_seq, st.txn_last_seq!)
      .toArray();
    const body = JSON.stringify(transactionBody(rows.map((r) => ({ kind: r.kind as QueueKind, json: JSON.parse(r.json) as JsonObject }))));
    let error: string | null = null;
    try {
      const reply = await callAppservice(reg, "PUT", `/_matrix/app/v1/transactions/${st.txn_id}`, { body, timeoutMs: TRANSACTION_TIMEOUT_MS });
      if (!transactionAccepted(reply.status)) error = `HTTP ${reply.status}: ${reply.text.slice(0, 200)}`;
    } catch (e) {
      if (!(e instanceof AppserviceUnreachable)) throw e;
      error = e.message;
    }
    if (error === null) {
      this.ctx.storage.transactionSync(() => {
        this.ctx.storage.sql.exec(
          "UPDATE delivery SET acked_seq = ?, txn_id = NULL, txn_last_seq = NULL, failures = 0, next_ts = 0, last_error = NULL, delivered_txns = delivered_txns + 1 WHERE id = 1",
          st.txn_last_seq!,
        );
        this.ctx.storage.sql.exec("DELETE FROM queue WHERE seq <= ? AND enqueued_ts < ?", st.txn_last_seq!, Date.now() - DEDUPE_WINDOW_MS);
      });
      return true;
    }
    const failures = st.failures + 1;
    const nextTs = Date.now() + retryDelayMs(failures);
    this.ctx.storage.sql.exec("UPDATE delivery SET failures = ?, next_ts = ?, last_error = ? WHERE id = 1", failures, nextTs, error);
    console.warn(`appservice ${reg.id}: transaction ${st.txn_id} failed (${failures}x): ${error}; retry in ${nextTs - Date.now()} ms`);
    await this.ctx.storage.setAlarm(nextTs);
    return false;
  }

  /** Gives the oldest queued items a new txnId; false when nothing is queued. */
  #openTransaction(d: DeliveryRow): boolean {
    const last = this.ctx.storage.sql
      .exec<{ seq: number }>("SELECT seq FROM queue WHERE seq > ? ORDER BY seq LIMIT 1 OFFSET ?", d.acked_seq, MAX_TRANSACTION_ITEMS - 1)
      .toArray()[0]?.seq ?? this.ctx.storage.sql.exec<{ s: number | null }>("SELECT MAX(seq) AS s FROM queue").one().s;
    if (last === null || last === undefined || last <= d.acked_seq) return false;
    this.ctx.storage.sql.exec(
      "UPDATE delivery SET txn_id = next_txn_id, next_txn_id = next_txn_id + 1, txn_last_seq = ? WHERE id = 1",
      last,
    );
    return true;
  }

  #state(): DeliveryRow {
    return this.ctx.storage.sql.exec<DeliveryRow>("SELECT * FROM delivery WHERE id = 1").one();
  }

  #registration(): Registration | undefined {
    return loadAppservices(this.env).byId(this.name);
  }
}
