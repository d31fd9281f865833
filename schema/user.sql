-- Schema of the User actor (party/user.ts): one SQLite database per local user.
-- Append-only: a released migration is never edited; changes are new steps.

-- migration 1: account, devices, tokens, UIA sessions, profile, account data, filters
-- The account itself; at most one row. Absent until registration completes.
CREATE TABLE account (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  user_id TEXT NOT NULL,
  password_hash TEXT,                 -- lib/password.ts format; NULL: no password login
  admin INTEGER NOT NULL DEFAULT 0,
  created_ts INTEGER NOT NULL,
  deactivated_ts INTEGER              -- set once, never cleared
);

CREATE TABLE devices (
  device_id TEXT PRIMARY KEY,
  display_name TEXT,
  created_ts INTEGER NOT NULL,
  last_seen_ts INTEGER,
  last_seen_ip TEXT
);

-- One row per issued access token, with its refresh token when the client asked for one.
-- Only SHA-256 hashes of tokens are stored (lib/access-token.ts).
CREATE TABLE tokens (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  device_id TEXT NOT NULL,           -- deleted with its device (by the actor, explicitly)
  access_hash TEXT UNIQUE,            -- NULL once superseded by /refresh
  refresh_hash TEXT UNIQUE,           -- NULL: not refreshable
  expires_ts INTEGER,                 -- access token expiry; NULL: never
  parent_id INTEGER,                  -- the row this was refreshed from; dropped on first use of this one
  created_ts INTEGER NOT NULL
);
CREATE INDEX tokens_by_device ON tokens(device_id);

-- Single-use tokens minted by /login/get_token for m.login.token.
CREATE TABLE login_tokens (
  hash TEXT PRIMARY KEY,
  expires_ts INTEGER NOT NULL
);

-- User-interactive auth sessions (lib/uia.ts UiaSession as JSON).
CREATE TABLE uia_sessions (
  id TEXT PRIMARY KEY,
  session TEXT NOT NULL,
  created_ts INTEGER NOT NULL
);

-- Profile fields (displayname, avatar_url, m.tz, custom keys): JSON values.
CREATE TABLE profile (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

-- Global account data has room_id ''. stream_pos orders changes for /sync.
CREATE TABLE account_data (
  room_id TEXT NOT NULL,
  type TEXT NOT NULL,
  content TEXT NOT NULL,
  stream_pos INTEGER NOT NULL,
  PRIMARY KEY (room_id, type)
);
CREATE INDEX account_data_by_pos ON account_data(stream_pos);

CREATE TABLE filters (
  filter_id INTEGER PRIMARY KEY AUTOINCREMENT,
  filter TEXT NOT NULL
);

-- Monotonic counters (e.g. the account-data stream position).
CREATE TABLE counters (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);

-- migration 2: push rules and pushers (party/user/push-rules.ts)
-- The user's own push rules, one row per rule; `position` orders a kind, 0 most important.
-- Server-default rules are not stored: they come from lib/push/default-rules.ts.
CREATE TABLE push_rules (
  kind TEXT NOT NULL,                 -- override | content | room | sender | underride
  rule_id TEXT NOT NULL,
  position INTEGER NOT NULL,
  rule TEXT NOT NULL,                 -- lib/push PushRule as JSON (enabled included)
  PRIMARY KEY (kind, rule_id)
);

-- Changes to server-default rules (PUT …/enabled and …/actions); NULL: unchanged.
CREATE TABLE push_rule_defaults (
  kind TEXT NOT NULL,
  rule_id TEXT NOT NULL,
  enabled INTEGER,
  actions TEXT,
  PRIMARY KEY (kind, rule_id)
);

-- Pushers (POST /pushers/set), removed with the device that set them.
CREATE TABLE pushers (
  app_id TEXT NOT NULL,
  pushkey TEXT NOT NULL,
  pusher TEXT NOT NULL,               -- the pusher as GET /pushers returns it (JSON)
  device_id TEXT,
  created_ts INTEGER NOT NULL,
  PRIMARY KEY (app_id, pushkey)
);
CREATE INDEX pushers_by_device ON pushers(device_id);

-- migration 3: the user's rooms (party/room/user-rooms.ts)
-- One row per room the user has a membership in, as the room last reported it: the
-- member event and its position in the room's stream (an older report never wins).
CREATE TABLE rooms (
  room_id TEXT PRIMARY KEY,
  membership TEXT NOT NULL,
  event_id TEXT NOT NULL,
  stream INTEGER NOT NULL,
  forgotten INTEGER NOT NULL DEFAULT 0,
  updated_ts INTEGER NOT NULL
);
CREATE INDEX rooms_by_membership ON rooms (membership);

-- migration 4: sync positions (party/sync/store.ts, docs/design/sync.md)
-- A small stable number per room, so that sync tokens name rooms compactly.
CREATE TABLE sync_room_ids (
  idx INTEGER PRIMARY KEY,
  room_id TEXT NOT NULL UNIQUE
);
-- Full sets of room views a sync token refers to (lib/sync/position.ts encoding). Bound:
-- the newest SYNC_CHECKPOINTS_PER_DEVICE per device are kept.
CREATE TABLE sync_checkpoints (
  id INTEGER PRIMARY KEY,
  device_id TEXT NOT NULL,
  created_ts INTEGER NOT NULL,
  views TEXT NOT NULL
);
CREATE INDEX sync_checkpoints_by_device ON sync_checkpoints (device_id, id);

-- migration 5: the user's outbox (party/user/outbox.ts, docs/design/push.md)
-- Effects of a change that must reach other actors or D1 even across a restart: profile
-- → member events in joined rooms, the D1 pusher index, removal of other users' pushers.
-- One row per (kind, target); delivered right after the change, retried by the alarm.
CREATE TABLE user_outbox (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  target TEXT NOT NULL,
  payload TEXT NOT NULL,
  next_ts INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  UNIQUE (kind, target)
);
CREATE INDEX user_outbox_due ON user_outbox (next_ts);
-- Every change to the pushers (set, removal, device deletion, gateway rejection) queues a
-- rewrite of this user's rows in the D1 pusher index, in the same transaction.
CREATE TRIGGER pushers_index_insert AFTER INSERT ON pushers BEGIN
  INSERT OR REPLACE INTO user_outbox (kind, target, payload, next_ts, attempts) VALUES ('pusher_index', '', '{}', 0, 0);
END;
CREATE TRIGGER pushers_index_delete AFTER DELETE ON pushers BEGIN
  INSERT OR REPLACE INTO user_outbox (kind, target, payload, next_ts, attempts) VALUES ('pusher_index', '', '{}', 0, 0);
END;

-- migration 6: sliding sync connections (party/sync/sliding/store.ts, docs/design/sync.md)
-- One row per (device, conn_id) of simplified sliding sync (MSC4186); at most
-- SLIDING_SYNC_MAX_CONNECTIONS per device, least recently used dropped first.
CREATE TABLE sliding_connections (
  id INTEGER PRIMARY KEY,
  device_id TEXT NOT NULL,
  conn_id TEXT NOT NULL,
  used_ts INTEGER NOT NULL,
  UNIQUE (device_id, conn_id)
);
-- Versions of a connection's state (lib/sync/sliding/connection.ts) that a pos names:
-- the one the client last acknowledged and the one answered after it.
CREATE TABLE sliding_states (
  connection INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  state TEXT NOT NULL,
  PRIMARY KEY (connection, seq)
);

-- migration 7: the user's presence (party/user/presence.ts, docs/design/presence.md)
-- One row, written only when the visible presence changes (state, status message,
-- currently_active); newer activity and sync times are kept in memory in between (after a
-- restart the stored ones count).
CREATE TABLE presence (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  presence TEXT NOT NULL,
  status_msg TEXT,
  last_active_ts INTEGER NOT NULL,
  currently_active INTEGER NOT NULL,
  serial INTEGER NOT NULL,
  last_sync_ts INTEGER NOT NULL
);

-- migration 8: admin restrictions on the account (party/user/restrictions.ts)
-- A row per restriction in force: 'locked' (every request but logout refused) or
-- 'suspended' (read-only account); deleted when lifted.
CREATE TABLE account_restrictions (
  kind TEXT PRIMARY KEY CHECK (kind IN ('locked', 'suspended')),
  since_ts INTEGER NOT NULL
);
