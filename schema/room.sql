-- Room actor (one per room). Append-only: a released migration is never edited;
-- changes are new steps. The design is docs/design/room-actor.md.

-- migration 1: event graph, state versions, current state, extremities, auth edges, outbox
-- The room itself: exactly one row, written with the create event.
CREATE TABLE room (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  room_id TEXT NOT NULL,
  room_version TEXT NOT NULL,
  create_event_id TEXT NOT NULL,
  created_ts INTEGER NOT NULL
);

-- One row per PDU. `stream` is the gap-free stream ordering (1, 2, 3, …: assigned in the
-- committing transaction); `depth` the topological ordering. `state_before` is the state
-- version the event was authorized against (the state before it). `rejection` is NULL for
-- accepted events. Transaction IDs are scoped to (sender, device).
CREATE TABLE events (
  stream INTEGER PRIMARY KEY,
  event_id TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  state_key TEXT,
  sender TEXT NOT NULL,
  depth INTEGER NOT NULL,
  origin_server_ts INTEGER NOT NULL,
  json TEXT NOT NULL,
  state_before INTEGER NOT NULL,
  rejection TEXT,
  redacted_by TEXT,
  rel_type TEXT,
  relates_to TEXT,
  txn_device TEXT,
  txn_id TEXT
);
-- Partial indexes: only events that have the property pay for them.
CREATE UNIQUE INDEX events_txn ON events (sender, txn_device, txn_id) WHERE txn_id IS NOT NULL;
CREATE INDEX events_relations ON events (relates_to, rel_type) WHERE relates_to IS NOT NULL;
CREATE INDEX events_state ON events (type, state_key, stream) WHERE state_key IS NOT NULL;

-- State versions: version 0 is the empty state; every accepted state event makes a new
-- version from its parent plus one delta row. Some versions are also stored whole
-- (`snapshot` = 1, rows in state_snapshots); state at a version = its nearest snapshot
-- ancestor plus the deltas on the way (lib/state-store.ts decides when to snapshot).
CREATE TABLE state_versions (
  version INTEGER PRIMARY KEY,
  parent INTEGER,
  snapshot INTEGER NOT NULL,
  since_snapshot INTEGER NOT NULL,
  size INTEGER NOT NULL
);
CREATE TABLE state_deltas (
  version INTEGER NOT NULL,
  type TEXT NOT NULL,
  state_key TEXT NOT NULL,
  event_id TEXT NOT NULL,
  PRIMARY KEY (version, type, state_key)
) WITHOUT ROWID;
CREATE TABLE state_snapshots (
  version INTEGER NOT NULL,
  type TEXT NOT NULL,
  state_key TEXT NOT NULL,
  event_id TEXT NOT NULL,
  PRIMARY KEY (version, type, state_key)
) WITHOUT ROWID;

-- The current state (also held in memory), with membership for member lists and counts.
CREATE TABLE current_state (
  type TEXT NOT NULL,
  state_key TEXT NOT NULL,
  event_id TEXT NOT NULL,
  membership TEXT,
  PRIMARY KEY (type, state_key)
) WITHOUT ROWID;
CREATE INDEX current_members ON current_state (membership) WHERE membership IS NOT NULL;

-- Forward extremities when they are not just the newest event (a fork from federation).
-- Empty while the graph is linear: the newest accepted event is then the only extremity.
CREATE TABLE forward_extremities (
  event_id TEXT PRIMARY KEY
) WITHOUT ROWID;

-- Auth edges of state events (messages are never auth events): auth chains in SQL.
CREATE TABLE auth_edges (
  event_id TEXT NOT NULL,
  auth_id TEXT NOT NULL,
  PRIMARY KEY (event_id, auth_id)
) WITHOUT ROWID;

-- Durable effects, written in the event's transaction, delivered after commit, retried by alarm.
CREATE TABLE outbox (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  target TEXT NOT NULL,
  payload TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_ts INTEGER NOT NULL
);

-- migration 2: read receipts (party/room/ephemeral.ts)
-- The latest receipt per (user, receipt type, thread); thread_id '' is the unthreaded
-- receipt. `pos` is the room's receipt stream position (1, 2, 3, …; /sync asks "since")
-- and `event_stream` the receipted event's stream ordering (receipts never move back).
-- Typing notifications are memory-only (ephemeral by definition); m.fully_read is room
-- account data, held by the User actor.
CREATE TABLE receipts (
  user_id TEXT NOT NULL,
  receipt_type TEXT NOT NULL,
  thread_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  event_stream INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  pos INTEGER NOT NULL,
  PRIMARY KEY (user_id, receipt_type, thread_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX receipts_pos ON receipts (pos);

-- migration 3: device-list changes of members (party/sync/device-lists.ts, docs/design/e2ee.md)
-- The latest "this member's device list changed" per user, at the room's device-list
-- stream position `pos` (1, 2, 3, …: the `d` of the room's sync position). One row per
-- member whose keys ever changed while joined; /sync asks "since".
CREATE TABLE device_list_changes (
  user_id TEXT PRIMARY KEY,
  pos INTEGER NOT NULL
) WITHOUT ROWID;
CREATE UNIQUE INDEX device_list_changes_pos ON device_list_changes (pos);

-- migration 4: server-side search (party/room/search.ts)
-- Full-text index of the searchable events (m.room.message body, m.room.name, m.room.topic),
-- rowid = the event's stream ordering. Contentless: the text stays in `events` only. Filled
-- lazily by the first search after new events (search_indexed.stream is how far it got);
-- redacted and rejected events are left out when searching.
CREATE VIRTUAL TABLE search_fts USING fts5 (body, name, topic, content = '', tokenize = 'unicode61 remove_diacritics 2');
CREATE TABLE search_indexed (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  stream INTEGER NOT NULL
);

-- migration 5: transaction IDs answered from memory (party/room/store.ts, docs/design/room-actor.md)
-- The newest ROOM_TXN_WINDOW transaction IDs are read once per actor instance with a range
-- scan of the newest events and kept in memory; the index cost a row written per message.
DROP INDEX IF EXISTS events_txn;

-- migration 6: presence of members (party/room/presence.ts, docs/design/presence.md)
-- The latest presence of each member, as their User actor sent it, at the room's presence
-- stream position `pos` (the `p` of the room's sync position). `serial` is the owner's
-- counter: an older copy arriving late never overwrites a newer one.
CREATE TABLE presence (
  user_id TEXT PRIMARY KEY,
  pos INTEGER NOT NULL,
  presence TEXT NOT NULL,
  status_msg TEXT,
  last_active_ts INTEGER NOT NULL,
  currently_active INTEGER NOT NULL,
  serial INTEGER NOT NULL
) WITHOUT ROWID;
CREATE UNIQUE INDEX presence_pos ON presence (pos);
