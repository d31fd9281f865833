-- Content reports (POST /rooms/{roomId}/report/{eventId}, /rooms/{roomId}/report,
-- /users/{userId}/report): written by the edge, read by the server's operators
-- (`wrangler d1 execute DB --command "SELECT * FROM reports ORDER BY id DESC"`).
-- One server-wide table, so reports are in D1 rather than any one actor.
CREATE TABLE reports (
  id             INTEGER PRIMARY KEY,
  kind           TEXT NOT NULL CHECK (kind IN ('event', 'room', 'user')),
  reporter       TEXT NOT NULL,
  room_id        TEXT,               -- event and room reports
  event_id       TEXT,               -- event reports
  target_user_id TEXT,               -- user reports; for event reports, the event's sender
  reason         TEXT,               -- NULL: none given (event reports only)
  received_ts    INTEGER NOT NULL
);
CREATE INDEX reports_by_received ON reports (received_ts);
CREATE INDEX reports_by_reporter ON reports (reporter, received_ts);
