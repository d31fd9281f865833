/**
 * The Room actor's device-list stream (schema/room.sql migration 3): which joined
 * members' device lists changed, at the room's own counter `d`, which travels in the
 * room's sync position. A member's DeviceKeys actor tells each of the member's rooms
 * once per change; every reader of the room then learns it through the sync machinery
 * (the position moves, the hub wakes armed listeners, `syncRoom` lists the users).
 * So a key change costs one message per room of its owner, never one per pair of users.
 * Design and cost model: docs/design/e2ee.md ("Device lists").
 */

/** Up to this many events since the client's position are scanned by stream; more, by the member events' index. */
const RANGE_SCAN_LIMIT = 2000;

/** The newest device-list position of the room (0: none yet). */
export function deviceListPosition(sql: SqlStorage): number {
  return sql.exec<{ p: number | null }>("SELECT MAX(pos) AS p FROM device_list_changes").one().p ?? 0;
}

function isJoined(sql: SqlStorage, userId: string): boolean {
  return sql.exec("SELECT 1 FROM current_state WHERE type = 'm.room.member' AND state_key = ? AND membership = 'join'", userId).toArray().length > 0;
}

/**
 * `userId`'s device list changed: recorded at the next position when they are a joined
 * member (a change of someone who left concerns nobody here). Returns the new position,
 * or null when nothing was recorded.
 */
export function recordDeviceListChange(sql: SqlStorage, userId: string): number | null {
  if (!isJoined(sql, userId)) return null;
  const pos = deviceListPosition(sql) + 1;
  sql.exec(
    "INSERT INTO device_list_changes (user_id, pos) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET pos = excluded.pos",
    userId,
    pos,
  );
  return pos;
}

/** Joined members whose latest device-list change is after `since`. */
export function deviceListChangesSince(sql: SqlStorage, since: number): string[] {
  return sql
    .exec<{ user_id: string }>(
      `SELECT d.user_id FROM device_list_changes d JOIN current_state c ON c.type = 'm.room.member' AND c.state_key = d.user_id
       WHERE d.pos > ? AND c.membership = 'join' ORDER BY d.pos`,
      since,
    )
    .toArray()
    .map((r) => r.user_id);
}

/**
 * Members whose membership event lies in (after, upTo], split by whether they are joined
 * now: what a reader who saw the room up to `after` must add to or drop from its list of
 * users it shares the room with. Independent of any filter (a client that filters member
 * events out still shares the room with them).
 */
export function memberChangesBetween(sql: SqlStorage, after: number, upTo: number): { joined: string[]; left: string[] } {
  // A short range is read by stream (the primary key; `+type` keeps SQLite off the type
  // index); a long one through the member events' index, whose size is the room's.
  const byStream = upTo - after <= RANGE_SCAN_LIMIT;
  const rows = sql
    .exec<{ user_id: string; membership: string | null }>(
      `SELECT e.state_key AS user_id, c.membership FROM
         (SELECT DISTINCT state_key FROM events WHERE ${byStream ? "+type" : "type"} = 'm.room.member' AND state_key IS NOT NULL AND stream > ? AND stream <= ? AND rejection IS NULL) e
       LEFT JOIN current_state c ON c.type = 'm.room.member' AND c.state_key = e.state_key`,
      after,
      upTo,
    )
    .toArray();
  return {
    joined: rows.filter((r) => r.membership === "join").map((r) => r.user_id),
    left: rows.filter((r) => r.membership !== "join").map((r) => r.user_id),
  };
}
