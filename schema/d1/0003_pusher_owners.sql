-- Who holds a pusher with a given (app_id, pushkey): the cross-user index that
-- POST /pushers/set with `append: false` needs to remove the same pusher from other users
-- (party/push/pusher-index.ts, docs/design/push.md). Pushers themselves live in each User
-- actor; each user's rows are rewritten from them by that actor's outbox after every change.
CREATE TABLE pusher_owners (
  app_id  TEXT NOT NULL,
  pushkey TEXT NOT NULL,
  user_id TEXT NOT NULL,
  PRIMARY KEY (app_id, pushkey, user_id)
) WITHOUT ROWID;
CREATE INDEX pusher_owners_user ON pusher_owners (user_id);
