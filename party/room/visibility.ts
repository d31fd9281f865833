/**
 * History visibility on the Room actor's side: the facts lib/history-visibility.ts
 * decides on, looked up from the state store, for every read path.
 *
 * The facts for (user U, event E) are two state entries in the state before E (its
 * `state_before` version): m.room.history_visibility and U's m.room.member. Reading a
 * whole state per event would cost a snapshot each; instead one entry is looked up with
 * one SQL query that walks E's version chain to its snapshot (the nearest delta on the
 * path wins, else the snapshot's row). Versions never change once written, so lookups are
 * cached per (version, type, state_key); the newest version is answered from the
 * in-memory current state. "U joined later" comes from U's member events (few).
 */
import {
  historyVisibilityOf,
  membershipOf,
  nothingVisibleAfterLastChange,
  userMaySee,
  type HistoryVisibility,
  type Membership,
} from "../../lib/history-visibility.ts";
import { stateKey, type Pdu, type StateMap } from "../../lib/pdu.ts";
import type { RoomStore, StoredEvent } from "./store.ts";

/** What a read needs from the room: its store, SQL, and the current head. */
export interface ReadRoom {
  roomId: string;
  store: RoomStore;
  sql: SqlStorage;
  /** The in-memory current state, its version, and the newest stream position (RoomHead). */
  head: { state: StateMap; stream: number; version: { version: number } | undefined };
}

/** One event's columns, enough to decide visibility without parsing its JSON (except state events). */
export type EventRow = {
  stream: number;
  event_id: string;
  type: string;
  state_key: string | null;
  sender: string;
  state_before: number;
  redacted_by: string | null;
};

const LOOKUP_CACHE_MAX = 20_000;

/** (version, type, state_key) → event ID (null: not in that state), shared per store. */
const lookupCaches = new WeakMap<RoomStore, Map<string, string | null>>();

/** The event ID at (type, state_key) in the state of `version`, without loading the whole state. */
export function stateEntryAt(room: ReadRoom, version: number, type: string, key: string): string | undefined {
  if (version === 0) return undefined;
  if (version === room.head.version?.version) return room.head.state.get(stateKey(type, key));
  let cache = lookupCaches.get(room.store);
  if (!cache) lookupCaches.set(room.store, (cache = new Map()));
  const ck = `${version}\u0000${type}\u0000${key}`;
  const hit = cache.get(ck);
  if (hit !== undefined) return hit ?? undefined;
  const row = room.sql
    .exec<{ event_id: string }>(
      `WITH RECURSIVE chain(version, parent, snapshot) AS (
         SELECT version, parent, snapshot FROM state_versions WHERE version = ?
         UNION ALL
         SELECT v.version, v.parent, v.snapshot FROM state_versions v JOIN chain c ON v.version = c.parent WHERE c.snapshot = 0
       )
       SELECT event_id FROM (
         SELECT d.event_id AS event_id, d.version AS version, 0 AS src
           FROM state_deltas d JOIN chain c ON d.version = c.version WHERE d.type = ? AND d.state_key = ?
         UNION ALL
         SELECT s.event_id, s.version, 1
           FROM state_snapshots s JOIN chain c ON s.version = c.version AND c.snapshot = 1 WHERE s.type = ? AND s.state_key = ?
       ) ORDER BY src, version DESC LIMIT 1`,
      version,
      type,
      key,
      type,
      key,
    )
    .toArray()[0];
  if (cache.size >= LOOKUP_CACHE_MAX) cache.clear();
  cache.set(ck, row?.event_id ?? null);
  return row?.event_id;
}

/** The content of the state entry at a version (undefined when absent). */
export function stateContentAt(room: ReadRoom, version: number, type: string, key: string): Pdu | undefined {
  const id = stateEntryAt(room, version, type, key);
  return id === undefined ? undefined : room.store.event(id)?.pdu;
}

/**
 * The per-user view of history for one read: decides visibility event by event, with
 * the user's membership timeline loaded once.
 */
export class Viewer {
  readonly userId: string;
  readonly #room: ReadRoom;
  /** Streams of the user's join events, ascending. */
  readonly #joins: number[];
  /** Stream of the user's last membership change (0: none). */
  readonly lastMembershipStream: number;
  readonly currentMembership: Membership | undefined;
  readonly currentVisibility: HistoryVisibility;

  constructor(room: ReadRoom, userId: string) {
    this.#room = room;
    this.userId = userId;
    const rows = room.sql
      .exec<{ stream: number; event_id: string }>(
        "SELECT stream, event_id FROM events WHERE type = 'm.room.member' AND state_key = ? AND rejection IS NULL ORDER BY stream",
        userId,
      )
      .toArray();
    this.#joins = [];
    for (const r of rows) {
      if (membershipOf(room.store.event(r.event_id)?.pdu.content) === "join") this.#joins.push(r.stream);
    }
    this.lastMembershipStream = rows.length > 0 ? rows[rows.length - 1]!.stream : 0;
    const own = room.head.state.get(stateKey("m.room.member", userId));
    this.currentMembership = own === undefined ? undefined : membershipOf(room.store.event(own)?.pdu.content);
    const hv = room.head.state.get(stateKey("m.room.history_visibility", ""));
    this.currentVisibility = historyVisibilityOf(hv === undefined ? undefined : room.store.event(hv)?.pdu.content);
  }

  /** Whether the user ever joined (a departed member may still read what they could see). */
  get everJoined(): boolean {
    return this.#joins.length > 0;
  }

  /**
   * Who may read the room's history at all: a joined member, a former member (their
   * history up to leaving), anyone while the room is world_readable. Invitees and
   * strangers are refused outright (403), as Synapse does; per-event rules do the rest.
   */
  mayReadHistory(): boolean {
    return this.currentMembership === "join" || this.everJoined || this.currentVisibility === "world_readable";
  }

  /**
   * The last stream position anything can be visible at, for forward scans: nothing
   * after the user's last membership change and the last visibility change is visible
   * to a non-member (lib nothingVisibleAfterLastChange). Infinity when unbounded.
   */
  forwardLimit(): number {
    if (!nothingVisibleAfterLastChange({ visibility: this.currentVisibility, membership: this.currentMembership })) return Infinity;
    const hv = this.#room.sql
      .exec<{ s: number | null }>(
        "SELECT MAX(stream) AS s FROM events WHERE type = 'm.room.history_visibility' AND state_key = '' AND rejection IS NULL",
      )
      .one().s;
    return Math.max(this.lastMembershipStream, hv ?? 0);
  }

  membershipBefore(version: number): Membership | undefined {
    return membershipOf(stateContentAt(this.#room, version, "m.room.member", this.userId)?.content);
  }

  visibilityBefore(version: number): HistoryVisibility {
    return historyVisibilityOf(stateContentAt(this.#room, version, "m.room.history_visibility", "")?.content);
  }

  #joinedAfter(stream: number): boolean {
    const j = this.#joins;
    return j.length > 0 && j[j.length - 1]! > stream;
  }

  /** Whether the user may see the event in this row; loads JSON only for state events that change the facts. */
  canSeeRow(row: EventRow): boolean {
    const before = {
      visibility: this.visibilityBefore(row.state_before),
      membership: this.membershipBefore(row.state_before),
      joinedLater: this.#joinedAfter(row.stream),
    };
    const changesFacts =
      (row.type === "m.room.history_visibility" && row.state_key === "") || (row.type === "m.room.member" && row.state_key === this.userId);
    const content = changesFacts ? (this.#room.store.event(row.event_id)?.pdu.content ?? {}) : {};
    return userMaySee(this.userId, { type: row.type, state_key: row.state_key ?? undefined, content }, before);
  }

  canSee(ev: StoredEvent): boolean {
    return this.canSeeRow(rowOf(ev));
  }

  /** The user's membership at the event (after it, for their own member event): `unsigned.membership`. */
  membershipAt(ev: StoredEvent): Membership {
    if (ev.pdu.type === "m.room.member" && ev.pdu.state_key === this.userId) return membershipOf(ev.pdu.content) ?? "leave";
    return this.membershipBefore(ev.stateBefore) ?? "leave";
  }
}

export function rowOf(ev: StoredEvent): EventRow {
  return {
    stream: ev.stream,
    event_id: ev.pdu.event_id,
    type: ev.pdu.type,
    state_key: ev.pdu.state_key ?? null,
    sender: ev.pdu.sender,
    state_before: ev.stateBefore,
    redacted_by: ev.redactedBy,
  };
}

/** Columns selected for EventRow. */
export const ROW_COLUMNS = "stream, event_id, type, state_key, sender, state_before, redacted_by";
