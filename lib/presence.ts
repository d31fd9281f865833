/**
 * Presence (m.presence): a user's state, how it moves with syncs, activity and time, and
 * the event clients receive. https://spec.matrix.org/v1.19/client-server-api/#presence
 * Design and cost model: docs/design/presence.md.
 *
 * The transitions follow Synapse's: a sync with set_presence=online brings an offline
 * user online (it does not end idleness: only activity or an explicit PUT does); no
 * activity for `idleMs` makes an online user unavailable; no sync for `syncOfflineMs`
 * (and none in progress) makes them offline. `currently_active` is true while the user
 * was active within `activeMs`, so `last_active_ago` is exact whenever it is false.
 */
import { MatrixError } from "./errors.ts";
import type { JsonObject } from "./json.ts";

export type PresenceState = "online" | "unavailable" | "offline";

export function isPresenceState(s: unknown): s is PresenceState {
  return s === "online" || s === "unavailable" || s === "offline";
}

/** A user's presence as stored by their User actor and copied into their rooms. */
export interface PresenceRecord {
  presence: PresenceState;
  status_msg: string | null;
  /** Last activity (ms since the epoch); 0 = never. */
  last_active_ts: number;
  currently_active: boolean;
  /** The owner's counter of published changes: of two copies, the higher is newer. */
  serial: number;
}

export const INITIAL_PRESENCE: Readonly<PresenceRecord> = Object.freeze({
  presence: "offline",
  status_msg: null,
  last_active_ts: 0,
  currently_active: false,
  serial: 0,
});

export interface PresenceTimers {
  /** Online without activity this long → unavailable (Synapse: 5 min). */
  idleMs: number;
  /** No sync for this long (and none in progress) → offline (Synapse: 30 s). */
  syncOfflineMs: number;
  /** `currently_active` stays true this long after the last activity (Synapse: 60 s). */
  activeMs: number;
}

/** What the clock and the syncs look like at one moment. */
export interface SyncActivity {
  now: number;
  /** When the last sync that affects presence ended (or a PUT was made); 0 = never. */
  lastSyncTs: number;
  /** Syncs that affect presence running now (a long-poll counts while it waits). */
  syncing: number;
}

/** The user did something (sent an event): online and currently active. */
export function afterActivity(rec: PresenceRecord, now: number): PresenceRecord {
  return { ...rec, presence: "online", last_active_ts: now, currently_active: true };
}

/**
 * A /sync with `set_presence` begins. `offline` leaves presence alone (the spec: "the
 * client is not marked as being online"); `unavailable` makes the user idle; `online`
 * brings an offline user online, and leaves an idle one idle (a sync is not activity).
 */
export function afterSyncStart(rec: PresenceRecord, setPresence: PresenceState, now: number): PresenceRecord {
  if (setPresence === "offline") return rec;
  if (setPresence === "unavailable") {
    return rec.presence === "unavailable" ? rec : { ...rec, presence: "unavailable", currently_active: false };
  }
  return rec.presence === "offline" ? afterActivity(rec, now) : rec;
}

/** PUT /presence/{userId}/status: the state as given; a missing status_msg clears it (as Synapse). */
export function afterPut(rec: PresenceRecord, presence: PresenceState, statusMsg: string | null, now: number): PresenceRecord {
  if (presence === "online") return { ...afterActivity(rec, now), status_msg: statusMsg };
  return { ...rec, presence, status_msg: statusMsg, currently_active: false };
}

/** The timed transitions due at `a.now`. */
export function afterTimers(rec: PresenceRecord, a: SyncActivity, t: PresenceTimers): PresenceRecord {
  let out = rec;
  if (out.presence !== "offline" && a.syncing === 0 && a.now - a.lastSyncTs >= t.syncOfflineMs) {
    out = { ...out, presence: "offline", currently_active: false };
  }
  if (out.presence === "online" && a.now - out.last_active_ts >= t.idleMs) out = { ...out, presence: "unavailable", currently_active: false };
  if (out.currently_active && a.now - out.last_active_ts >= t.activeMs) out = { ...out, currently_active: false };
  return out;
}

/** When afterTimers next has something to do (null: nothing will change by time alone). */
export function nextDeadline(rec: PresenceRecord, a: Omit<SyncActivity, "now">, t: PresenceTimers): number | null {
  const at: number[] = [];
  if (rec.presence !== "offline" && a.syncing === 0) at.push(a.lastSyncTs + t.syncOfflineMs);
  if (rec.presence === "online") at.push(rec.last_active_ts + t.idleMs);
  if (rec.currently_active) at.push(rec.last_active_ts + t.activeMs);
  return at.length === 0 ? null : Math.min(...at);
}

/** A change readers see: state, status message or currently_active (a new last_active_ts alone is not). */
export function isVisibleChange(a: PresenceRecord, b: PresenceRecord): boolean {
  return a.presence !== b.presence || a.status_msg !== b.status_msg || a.currently_active !== b.currently_active;
}

/**
 * Whether `next` must be published, against the copy the rooms hold: a visible change, or
 * a last_active_ts that moved `activeMs` or more past the copy's (an active user publishes
 * at most once per activeMs, so last_active_ago read from a copy is never more than
 * activeMs off).
 */
export function needsPublish(published: PresenceRecord, next: PresenceRecord, activeMs: number): boolean {
  return isVisibleChange(published, next) || next.last_active_ts - published.last_active_ts >= activeMs;
}

/** The `content` of an m.presence event, and the body of GET /presence/{userId}/status. */
export function presenceContent(rec: PresenceRecord, now: number): JsonObject {
  const c: JsonObject = { presence: rec.presence, currently_active: rec.currently_active };
  if (rec.last_active_ts > 0) c.last_active_ago = Math.max(0, now - rec.last_active_ts);
  if (rec.status_msg !== null) c.status_msg = rec.status_msg;
  return c;
}

/** An m.presence event for /sync (`presence.events`). */
export function presenceEvent(userId: string, rec: PresenceRecord, now: number): JsonObject {
  return { type: "m.presence", sender: userId, content: presenceContent(rec, now) };
}

/** The body of PUT /presence/{userId}/status, checked: `presence` required, `status_msg` a string up to `maxStatusLength` characters. */
export function parsePresenceBody(body: JsonObject, maxStatusLength: number): { presence: PresenceState; statusMsg: string | null } {
  const presence = body.presence;
  if (presence === undefined) throw new MatrixError("M_MISSING_PARAM", 400, "'presence' is required");
  if (!isPresenceState(presence)) throw new MatrixError("M_INVALID_PARAM", 400, "'presence' must be online, offline or unavailable");
  const msg = body.status_msg;
  if (msg !== undefined && msg !== null && typeof msg !== "string") throw new MatrixError("M_INVALID_PARAM", 400, "'status_msg' must be a string");
  if (typeof msg === "string" && [...msg].length > maxStatusLength) {
    throw new MatrixError("M_INVALID_PARAM", 400, `'status_msg' is longer than ${maxStatusLength} characters`);
  }
  return { presence, statusMsg: typeof msg === "string" ? msg : null };
}

/** A room's copy of one member's presence, as /sync facts carry it. */
export interface PresenceFact extends PresenceRecord {
  user_id: string;
}

/** One record per user from the rooms' facts: the highest serial wins. */
export function newestPerUser(facts: Iterable<PresenceFact>): Map<string, PresenceFact> {
  const out = new Map<string, PresenceFact>();
  for (const f of facts) {
    const had = out.get(f.user_id);
    if (!had || f.serial > had.serial) out.set(f.user_id, f);
  }
  return out;
}
