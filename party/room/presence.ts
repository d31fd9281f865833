/**
 * The Room actor's presence stream (schema/room.sql migration 6): the latest presence of
 * each joined member, as their User actor sent it, at the room's own counter `p`, which
 * travels in the room's sync position. A member's presence change reaches each of their
 * rooms once; every reader then learns it through the sync machinery (the position
 * moves, the hub wakes armed listeners, `syncRoom` lists the changes).
 * Design and cost model: docs/design/presence.md.
 */
import type { PresenceFact, PresenceRecord, PresenceState } from "../../lib/presence.ts";

/** The newest presence position of the room (0: none yet). */
export function presencePosition(sql: SqlStorage): number {
  return sql.exec<{ p: number | null }>("SELECT MAX(pos) AS p FROM presence").one().p ?? 0;
}

/**
 * `userId`'s presence changed: recorded at the next position when they are joined and the
 * copy is newer than the one held. Returns whether it was recorded.
 */
export function recordPresence(sql: SqlStorage, userId: string, rec: PresenceRecord): boolean {
  const joined = sql.exec("SELECT 1 FROM current_state WHERE type = 'm.room.member' AND state_key = ? AND membership = 'join'", userId).toArray();
  if (joined.length === 0) return false;
  const held = sql.exec<{ serial: number }>("SELECT serial FROM presence WHERE user_id = ?", userId).toArray()[0];
  if (held && held.serial >= rec.serial) return false;
  sql.exec(
    `INSERT INTO presence (user_id, pos, presence, status_msg, last_active_ts, currently_active, serial) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (user_id) DO UPDATE SET pos = excluded.pos, presence = excluded.presence, status_msg = excluded.status_msg,
       last_active_ts = excluded.last_active_ts, currently_active = excluded.currently_active, serial = excluded.serial`,
    userId,
    presencePosition(sql) + 1,
    rec.presence,
    rec.status_msg,
    rec.last_active_ts,
    rec.currently_active ? 1 : 0,
    rec.serial,
  );
  return true;
}

type Row = { user_id: string; presence: string; status_msg: string | null; last_active_ts: number; currently_active: number; serial: number };

const JOINED = `FROM presence p JOIN current_state c ON c.type = 'm.room.member' AND c.state_key = p.user_id AND c.membership = 'join'`;
const COLUMNS = "p.user_id, p.presence, p.status_msg, p.last_active_ts, p.currently_active, p.serial";

/** Joined members whose presence changed after `since`, oldest change first (at most `limit`, the newest kept). */
export function presenceSince(sql: SqlStorage, since: number, limit: number): PresenceFact[] {
  return sql.exec<Row>(`SELECT ${COLUMNS} ${JOINED} WHERE p.pos > ? ORDER BY p.pos DESC LIMIT ?`, since, limit).toArray().reverse().map(fact);
}

/** Up to `limit` joined members who are not offline, most recently changed first: what a client new to the room is told. */
export function presenceSnapshot(sql: SqlStorage, limit: number): PresenceFact[] {
  return sql.exec<Row>(`SELECT ${COLUMNS} ${JOINED} WHERE p.presence != 'offline' ORDER BY p.pos DESC LIMIT ?`, limit).toArray().map(fact);
}

function fact(r: Row): PresenceFact {
  return {
    user_id: r.user_id,
    presence: r.presence as PresenceState,
    status_msg: r.status_msg,
    last_active_ts: r.last_active_ts,
    currently_active: r.currently_active === 1,
    serial: r.serial,
  };
}
