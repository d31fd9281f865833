-- The room directory and the user directory, shaped for their queries (docs/design/directory.md).
-- 0001's room_directory and user_directory were never written by any code; they are rebuilt
-- here with integer keys so that FTS5 indexes them as external content (the index points at
-- the table's rows by rowid and holds no second copy of the text) kept in step by triggers.

DROP TABLE room_directory_fts;
DROP TABLE room_directory;
DROP TABLE user_directory_fts;
DROP TABLE user_directory;

-- Published rooms: one row per (room, list). A row's presence is the publication. `list` ''
-- is this server's own directory; an appservice network's list is '<appservice id>|<network id>'
-- (the instance_id clients pass as third_party_instance_id). Written only by the room's own
-- actor, from its current state, after commit.
CREATE TABLE room_directory (
  id                 INTEGER PRIMARY KEY,
  room_id            TEXT NOT NULL,
  list               TEXT NOT NULL DEFAULT '',
  name               TEXT,
  topic              TEXT,
  canonical_alias    TEXT,
  avatar_url         TEXT,
  join_rule          TEXT,
  room_type          TEXT,
  guest_can_join     INTEGER NOT NULL DEFAULT 0,
  world_readable     INTEGER NOT NULL DEFAULT 0,
  num_joined_members INTEGER NOT NULL DEFAULT 0,
  updated_ts         INTEGER NOT NULL,
  UNIQUE (room_id, list)
);
-- The directory order (largest first, then room ID) within one list: keyset pages read it in order.
CREATE INDEX room_directory_order ON room_directory (list, num_joined_members DESC, room_id);

CREATE VIRTUAL TABLE room_directory_fts USING fts5 (
  name, topic, canonical_alias,
  content = 'room_directory', content_rowid = 'id',
  tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER room_directory_fts_insert AFTER INSERT ON room_directory BEGIN
  INSERT INTO room_directory_fts (rowid, name, topic, canonical_alias) VALUES (new.id, new.name, new.topic, new.canonical_alias);
END;
CREATE TRIGGER room_directory_fts_delete AFTER DELETE ON room_directory BEGIN
  INSERT INTO room_directory_fts (room_directory_fts, rowid, name, topic, canonical_alias)
    VALUES ('delete', old.id, old.name, old.topic, old.canonical_alias);
END;
-- Only when a searched column really changed (a member count update leaves the index alone).
CREATE TRIGGER room_directory_fts_update AFTER UPDATE OF name, topic, canonical_alias ON room_directory
  WHEN old.name IS NOT new.name OR old.topic IS NOT new.topic OR old.canonical_alias IS NOT new.canonical_alias
BEGIN
  INSERT INTO room_directory_fts (room_directory_fts, rowid, name, topic, canonical_alias)
    VALUES ('delete', old.id, old.name, old.topic, old.canonical_alias);
  INSERT INTO room_directory_fts (rowid, name, topic, canonical_alias) VALUES (new.id, new.name, new.topic, new.canonical_alias);
END;

-- The user directory: users joined to at least one room (profile from their latest member event).
CREATE TABLE user_directory (
  id           INTEGER PRIMARY KEY,
  user_id      TEXT NOT NULL UNIQUE,
  display_name TEXT,
  avatar_url   TEXT,
  updated_ts   INTEGER NOT NULL
);
CREATE VIRTUAL TABLE user_directory_fts USING fts5 (
  user_id, display_name,
  content = 'user_directory', content_rowid = 'id',
  tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER user_directory_fts_insert AFTER INSERT ON user_directory BEGIN
  INSERT INTO user_directory_fts (rowid, user_id, display_name) VALUES (new.id, new.user_id, new.display_name);
END;
CREATE TRIGGER user_directory_fts_delete AFTER DELETE ON user_directory BEGIN
  INSERT INTO user_directory_fts (user_directory_fts, rowid, user_id, display_name) VALUES ('delete', old.id, old.user_id, old.display_name);
END;
CREATE TRIGGER user_directory_fts_update AFTER UPDATE OF display_name ON user_directory
  WHEN old.display_name IS NOT new.display_name
BEGIN
  INSERT INTO user_directory_fts (user_directory_fts, rowid, user_id, display_name) VALUES ('delete', old.id, old.user_id, old.display_name);
  INSERT INTO user_directory_fts (rowid, user_id, display_name) VALUES (new.id, new.user_id, new.display_name);
END;

-- Who can see whom: every room's joined members, and whether the room is public for the user
-- directory (join rule public or history world_readable). Written by each room after commit.
CREATE TABLE user_directory_rooms (
  room_id   TEXT PRIMARY KEY,
  is_public INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE user_directory_members (
  user_id TEXT NOT NULL,
  room_id TEXT NOT NULL,
  PRIMARY KEY (user_id, room_id)
) WITHOUT ROWID;
CREATE INDEX user_directory_members_room ON user_directory_members (room_id, user_id);
