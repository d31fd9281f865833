-- D1 holds only indexes that span rooms (docs: shared DESIGN "What goes to D1").
-- They are written from room events after commit and may lag briefly.
-- Migrations are applied by `wrangler d1 migrations apply DB` (npm start does it locally).

-- Room aliases: #alias:server -> room ID.
CREATE TABLE room_aliases (
  alias      TEXT PRIMARY KEY,
  room_id    TEXT NOT NULL,
  creator    TEXT NOT NULL,
  created_ts INTEGER NOT NULL
);
CREATE INDEX room_aliases_room ON room_aliases (room_id);

-- The public room directory.
CREATE TABLE room_directory (
  room_id            TEXT PRIMARY KEY,
  visibility         TEXT NOT NULL DEFAULT 'private' CHECK (visibility IN ('public', 'private')),
  name               TEXT,
  topic              TEXT,
  canonical_alias    TEXT,
  avatar_url         TEXT,
  join_rule          TEXT,
  room_type          TEXT,
  guest_can_join     INTEGER NOT NULL DEFAULT 0,
  world_readable     INTEGER NOT NULL DEFAULT 0,
  num_joined_members INTEGER NOT NULL DEFAULT 0,
  updated_ts         INTEGER NOT NULL
);
CREATE INDEX room_directory_public ON room_directory (visibility, num_joined_members DESC);
CREATE VIRTUAL TABLE room_directory_fts USING fts5 (room_id UNINDEXED, name, topic, canonical_alias);

-- The user directory: local users, and remote users who share a room with one.
CREATE TABLE user_directory (
  user_id      TEXT PRIMARY KEY,
  display_name TEXT,
  avatar_url   TEXT,
  updated_ts   INTEGER NOT NULL
);
CREATE VIRTUAL TABLE user_directory_fts USING fts5 (user_id UNINDEXED, display_name, user_localpart);
