-- Appservice actor (one per registration id). Append-only: a released migration is never
-- edited; changes are new steps. Design: docs/appservices.md ("Delivery").

-- migration 1: ordered queue, the transaction in flight, counters
-- Everything waiting for the appservice, in arrival order (`seq`). A transaction is the
-- contiguous range (acked_seq, txn_last_seq] of this table, so retrying it rebuilds the
-- very same body. `dedupe` (e.g. the event ID) makes enqueueing idempotent: a room that
-- re-delivers an outbox row after a lost answer adds nothing. Rows stay a while after
-- acknowledgement so late duplicates still meet their key, then are pruned.
CREATE TABLE queue (
  seq INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  json TEXT NOT NULL,
  dedupe TEXT UNIQUE,
  enqueued_ts INTEGER NOT NULL
);

-- The delivery state: one row. `next_txn_id` only grows (an appservice deduplicates by
-- txnId, so an ID is never reused, not even after a restart). While `txn_id` is set, that
-- transaction is in flight and is retried, unchanged, until the appservice answers 2xx.
CREATE TABLE delivery (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  acked_seq INTEGER NOT NULL,
  next_txn_id INTEGER NOT NULL,
  txn_id INTEGER,
  txn_last_seq INTEGER,
  failures INTEGER NOT NULL,
  next_ts INTEGER NOT NULL,
  last_error TEXT,
  delivered_txns INTEGER NOT NULL
);
INSERT INTO delivery (id, acked_seq, next_txn_id, txn_id, txn_last_seq, failures, next_ts, last_error, delivered_txns)
VALUES (1, 0, 1, NULL, NULL, 0, 0, NULL, 0);
