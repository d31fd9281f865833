-- DeviceKeys actor (one per local user). Append-only numbered migrations; see party/migrations.ts.
-- Design and the interfaces /sync uses: docs/design/e2ee.md.

-- migration 1: device keys, one-time and fallback keys, cross-signing, device lists, to-device, key backup, dehydrated device
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;

-- Device keys as uploaded (self-signed, validated), one row per device.
CREATE TABLE device_keys (
  device_id TEXT PRIMARY KEY,
  keys_json TEXT NOT NULL,
  ed25519 TEXT NOT NULL,
  updated_ts INTEGER NOT NULL
) WITHOUT ROWID;

-- Unclaimed one-time keys; a claim deletes the row. upload_seq orders claims by upload.
CREATE TABLE one_time_keys (
  device_id TEXT NOT NULL,
  algorithm TEXT NOT NULL,
  key_id TEXT NOT NULL,
  key_json TEXT NOT NULL,
  upload_seq INTEGER NOT NULL,
  PRIMARY KEY (device_id, algorithm, key_id)
) WITHOUT ROWID;
CREATE INDEX one_time_keys_claim_order ON one_time_keys (device_id, algorithm, upload_seq);

-- At most one fallback key per (device, algorithm); claims mark it used, never delete it.
CREATE TABLE fallback_keys (
  device_id TEXT NOT NULL,
  algorithm TEXT NOT NULL,
  key_id TEXT NOT NULL,
  key_json TEXT NOT NULL,
  used INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (device_id, algorithm)
) WITHOUT ROWID;

-- usage: master | self_signing | user_signing.
CREATE TABLE cross_signing_keys (
  usage TEXT PRIMARY KEY,
  public_key TEXT NOT NULL,
  key_json TEXT NOT NULL,
  updated_ts INTEGER NOT NULL
) WITHOUT ROWID;

-- Signatures added with /keys/signatures/upload on this user's keys. target is 'device:<id>'
-- or 'master:<public key>'; signer is the user who signed (this user, or another local user
-- signing this user's master key with their user-signing key).
CREATE TABLE key_signatures (
  target TEXT NOT NULL,
  signer TEXT NOT NULL,
  signer_key_id TEXT NOT NULL,
  signature TEXT NOT NULL,
  PRIMARY KEY (target, signer, signer_key_id)
) WITHOUT ROWID;

-- The device-list change stream this user's /sync reads: the latest change per user
-- (this user's own devices, and users this user tracks). kind: changed | left.
CREATE TABLE device_list_changes (
  user_id TEXT PRIMARY KEY,
  pos INTEGER NOT NULL,
  kind TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX device_list_changes_pos ON device_list_changes (pos);
-- Users this user tracks (shares a room with), and local users tracking this user.
CREATE TABLE device_list_tracked (user_id TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE device_list_watchers (watcher TEXT PRIMARY KEY) WITHOUT ROWID;
-- Notifications to other actors, written with the change, delivered after commit, retried by alarm.
CREATE TABLE outbox (
  target TEXT NOT NULL,
  kind TEXT NOT NULL,
  gen INTEGER NOT NULL,             -- bumped by every enqueue: a delivery deletes only the row it sent
  attempts INTEGER NOT NULL DEFAULT 0,
  next_ts INTEGER NOT NULL,
  PRIMARY KEY (target, kind)
) WITHOUT ROWID;

-- To-device inbox, in arrival order (seq never reused). Deleted only on acknowledgement.
CREATE TABLE to_device_inbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  device_id TEXT NOT NULL,
  sender TEXT NOT NULL,
  sender_device TEXT NOT NULL,
  txn_id TEXT,
  type TEXT NOT NULL,
  content TEXT NOT NULL,
  received_ts INTEGER NOT NULL
);
CREATE INDEX to_device_inbox_device ON to_device_inbox (device_id, seq);
CREATE UNIQUE INDEX to_device_inbox_txn ON to_device_inbox (device_id, sender, sender_device, txn_id) WHERE txn_id IS NOT NULL;
CREATE TABLE to_device_counts (device_id TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
-- Idempotency: deliveries received (recipient side) and sends completed (sender side), kept a day.
CREATE TABLE to_device_received (
  sender TEXT NOT NULL,
  sender_device TEXT NOT NULL,
  txn_id TEXT NOT NULL,
  ts INTEGER NOT NULL,
  PRIMARY KEY (sender, sender_device, txn_id)
) WITHOUT ROWID;
CREATE INDEX to_device_received_ts ON to_device_received (ts);
CREATE TABLE to_device_sent (
  device_id TEXT NOT NULL,
  txn_id TEXT NOT NULL,
  ts INTEGER NOT NULL,
  PRIMARY KEY (device_id, txn_id)
) WITHOUT ROWID;
CREATE INDEX to_device_sent_ts ON to_device_sent (ts);

-- Key backup. Versions are never reused; a deleted version keeps its row (deleted = 1).
CREATE TABLE backup_versions (
  version INTEGER PRIMARY KEY AUTOINCREMENT,
  algorithm TEXT NOT NULL,
  auth_data TEXT NOT NULL,
  etag INTEGER NOT NULL DEFAULT 0,
  count INTEGER NOT NULL DEFAULT 0,
  deleted INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE backup_keys (
  version INTEGER NOT NULL,
  room_id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  first_message_index INTEGER NOT NULL,
  forwarded_count INTEGER NOT NULL,
  is_verified INTEGER NOT NULL,
  session_data TEXT NOT NULL,
  PRIMARY KEY (version, room_id, session_id)
) WITHOUT ROWID;

-- MSC3814: at most one dehydrated device per user.
CREATE TABLE dehydrated_device (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  device_id TEXT NOT NULL,
  device_data TEXT NOT NULL,
  created_ts INTEGER NOT NULL
);

-- migration 2: device-list tracking by rooms (docs/design/e2ee.md, "Device lists")
-- Per-pair tracking (tracked users, watchers, watch messages) is replaced: the user's
-- syncs record here the joined members of each room the user is in, as the room
-- answers said (`stream`: the room's event stream they hold at; `dl_pos`: the room's
-- device-list position up to which key changes were recorded). A user is "shared" while
-- in at least one of these lists. Key changes of this user go to the user's rooms
-- (outbox kind 'rooms' expands to one 'room' row per joined room).
DROP TABLE device_list_tracked;
DROP TABLE device_list_watchers;
DELETE FROM outbox WHERE kind IN ('changed', 'watch', 'unwatch');
CREATE TABLE shared_rooms (
  room_id TEXT PRIMARY KEY,
  stream INTEGER NOT NULL,
  dl_pos INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE shared_members (
  room_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  PRIMARY KEY (room_id, user_id)
) WITHOUT ROWID;
CREATE INDEX shared_members_user ON shared_members (user_id);
