/**
 * Server-side search in one room: the room's part of `POST /search` (room_events).
 * https://spec.matrix.org/v1.19/client-server-api/#server-side-search
 *
 * The FTS5 index (schema/room.sql migration 4) is filled by the searches themselves, at most
 * SEARCH_INDEX_BUDGET events per search, new events first and then history newest first
 * (catchUpIndex), so the write path pays nothing. Matches are read best first (`rank`: FTS5's bm25, negated so larger
 * is better; `recent`: newest origin_server_ts first), each checked against the filter and
 * the user's history visibility (lib/history-visibility.ts via Viewer). At most `scanLimit`
 * matches are examined per search, which also bounds `count`.
 *
 * Results of many rooms are merged by the edge in one order: (key, room ID, stream)
 * descending, where key is the rank or the timestamp. A page token names the last result;
 * `after` tells this room where to resume relative to it.
 */
import { eventMatchesFilter, filterNeedsContent } from "../../lib/event-filter.ts";
import type { RoomEventFilter } from "../../lib/filter.ts";
import type { JsonObject } from "../../lib/json.ts";
import { streamToken } from "../../lib/pagination-token.ts";
import { clientEventFor } from "./serve.ts";
import { ROW_COLUMNS, stateContentAt, Viewer, type EventRow, type ReadRoom } from "./visibility.ts";

export type SearchKey = "content.body" | "content.name" | "content.topic";
export type SearchOrder = "rank" | "recent";

export interface RoomSearchRequest {
  userId: string;
  deviceId?: string;
  /** lib/directory/search-terms.ts words (already normalised; never empty). */
  words: string[];
  keys: SearchKey[];
  filter: RoomEventFilter;
  orderBy: SearchOrder;
  limit: number;
  scanLimit: number;
  /** Most events this search may add to the room's index first (SEARCH_INDEX_BUDGET). */
  indexBudget: number;
  /**
   * Resume below the previous page's last result: `key` its rank or timestamp, `roomCmp`
   * this room's ID compared with that result's room ID (-1, 0, 1), `stream` its stream.
   */
  after?: { key: number; roomCmp: number; stream: number };
  context?: { before: number; after: number; includeProfile: boolean };
}

export interface RoomSearchHit {
  key: number;
  stream: number;
  rank: number;
  result: JsonObject;
  context?: JsonObject;
}

export interface RoomSearchResult {
  /** Visible matches among those examined (at most scanLimit). */
  count: number;
  hits: RoomSearchHit[];
  /** More hits below the last one returned. */
  more: boolean;
}

const COLUMN: Record<SearchKey, string> = { "content.body": "body", "content.name": "name", "content.topic": "topic" };
/** Events indexed per statement batch while catching up. */
const INDEX_BATCH = 500;
/** Rows read to find one page of context around a result (visibility may skip some). */
const CONTEXT_SCAN_FACTOR = 4;

/** The lowest stream of the indexed range, in the actor's KV (0: everything below `search_indexed.stream` is indexed). */
const INDEXED_FROM_KEY = "search.indexedFrom";

/**
 * Brings the index closer to the room: at most `budget` searchable events per call, new
 * events first (after `search_indexed.stream`), then history backwards from the low end of
 * the indexed range. A big room's first searches thus see its newest messages at once and
 * the rest as later searches index it, and no single request parses its whole history.
 */
export function catchUpIndex(room: ReadRoom, storage: DurableObjectStorage, budget: number): void {
  const sql = room.sql;
  const stored = sql.exec<{ stream: number }>("SELECT stream FROM search_indexed WHERE id = 1").toArray()[0]?.stream;
  // Nothing indexed yet: an empty range just above the newest event, so history is taken newest first.
  let high = stored ?? room.head.stream;
  let low = stored === undefined ? room.head.stream + 1 : (storage.kv.get<number>(INDEXED_FROM_KEY) ?? 0);
  if (high >= room.head.stream && low <= 1 && stored !== undefined) return;
  storage.transactionSync(() => {
    let left = budget;
    const fetch = (cond: string, bound: number, order: "ASC" | "DESC", n: number) =>
      sql
        .exec<{ stream: number; type: string; state_key: string | null; json: string }>(
          `SELECT stream, type, state_key, json FROM events
            WHERE stream ${cond} ? AND rejection IS NULL AND type IN ('m.room.message', 'm.room.name', 'm.room.topic')
            ORDER BY stream ${order} LIMIT ?`,
          bound,
          n,
        )
        .toArray();
    // New events, oldest first.
    while (left > 0 && high < room.head.stream) {
      const n = Math.min(left, INDEX_BATCH);
      const rows = fetch(">", high, "ASC", n);
      for (const r of rows) indexRow(sql, r);
      left -= rows.length;
      // Fewer than asked: no searchable event is left up to the head.
      high = rows.length < n ? room.head.stream : rows[rows.length - 1]!.stream;
    }
    // History, newest first.
    while (left > 0 && low > 1) {
      const n = Math.min(left, INDEX_BATCH);
      const rows = fetch("<", low, "DESC", n);
      for (const r of rows) indexRow(sql, r);
      left -= rows.length;
      // Fewer than asked: the whole history is indexed.
      low = rows.length < n ? 0 : rows[rows.length - 1]!.stream;
    }
    sql.exec("INSERT INTO search_indexed (id, stream) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET stream = excluded.stream", high);
    storage.kv.put(INDEXED_FROM_KEY, low);
  });
}

function indexRow(sql: SqlStorage, r: { stream: number; type: string; state_key: string | null; json: string }): void {
  const content = (JSON.parse(r.json) as { content?: JsonObject }).content ?? {};
  const text = (v: unknown) => (typeof v === "string" ? v : null);
  const body = r.type === "m.room.message" ? text(content.body) : null;
  const name = r.type === "m.room.name" && r.state_key === "" ? text(content.name) : null;
  const topic = r.type === "m.room.topic" && r.state_key === "" ? text(content.topic) : null;
  if (body !== null || name !== null || topic !== null) {
    sql.exec("INSERT INTO search_fts (rowid, body, name, topic) VALUES (?, ?, ?, ?)", r.stream, body, name, topic);
  }
}

/** The FTS5 query: every word as a quoted prefix (no FTS syntax reaches MATCH), limited to the keys' columns. */
function matchQuery(words: string[], keys: SearchKey[]): string {
  const terms = words.map((w) => `"${w.replace(/"/g, "")}"*`).join(" ");
  const cols = [...new Set(keys.map((k) => COLUMN[k]))];
  return cols.length === 3 ? terms : `{${cols.join(" ")}} : (${terms})`;
}

export function searchRoom(room: ReadRoom, p: RoomSearchRequest): RoomSearchResult {
  const viewer = new Viewer(room, p.userId);
  const empty: RoomSearchResult = { count: 0, hits: [], more: false };
  if (!viewer.mayReadHistory() || p.keys.length === 0) return empty;
  const order = p.orderBy === "rank" ? "score ASC, e.stream DESC" : "e.origin_server_ts DESC, e.stream DESC";
  const rows = room.sql.exec<EventRow & { origin_server_ts: number; score: number }>(
    `SELECT ${ROW_COLUMNS.split(", ").map((c) => `e.${c}`).join(", ")}, e.origin_server_ts, bm25(search_fts) AS score
       FROM search_fts JOIN events e ON e.stream = search_fts.rowid
      WHERE search_fts MATCH ? AND e.redacted_by IS NULL AND e.rejection IS NULL
      ORDER BY ${order} LIMIT ?`,
    matchQuery(p.words, p.keys),
    p.scanLimit,
  ).toArray(); // read whole: the loop below runs other queries
  const needContent = filterNeedsContent(p.filter);
  let count = 0;
  const hits: RoomSearchHit[] = [];
  let more = false;
  const now = Date.now();
  for (const row of rows) {
    if (!viewer.canSeeRow(row)) continue;
    const ev = room.store.event(row.event_id);
    if (!ev) continue;
    const content = needContent ? ev.pdu.content : {};
    if (!eventMatchesFilter(p.filter, { type: row.type, sender: row.sender, room_id: room.roomId, content })) continue;
    count++;
    const rank = -row.score;
    const key = p.orderBy === "rank" ? rank : row.origin_server_ts;
    if (p.after && !below(key, row.stream, p.after)) continue;
    if (hits.length === p.limit) {
      more = true;
      continue;
    }
    const hit: RoomSearchHit = { key, stream: row.stream, rank, result: clientEventFor(room, viewer, p, ev, now) as unknown as JsonObject };
    if (p.context) hit.context = contextOf(room, viewer, p, ev.stream, ev.pdu.sender, ev.stateBefore, p.context, now);
    hits.push(hit);
  }
  return { count, hits, more };
}

/** Whether a result sorts after (below) the previous page's last result in the merged order. */
function below(key: number, stream: number, after: NonNullable<RoomSearchRequest["after"]>): boolean {
  if (key !== after.key) return key < after.key;
  if (after.roomCmp !== 0) return after.roomCmp < 0;
  return stream < after.stream;
}

/** `event_context`: visible events around a result, tokens for /messages, and the sender's profile. */
function contextOf(
  room: ReadRoom,
  viewer: Viewer,
  device: { deviceId?: string },
  stream: number,
  sender: string,
  stateBefore: number,
  c: NonNullable<RoomSearchRequest["context"]>,
  now: number,
): JsonObject {
  const around = (dir: "b" | "f", n: number) => {
    if (n === 0) return [];
    const rows = room.sql
      .exec<EventRow>(
        `SELECT ${ROW_COLUMNS} FROM events WHERE rejection IS NULL AND stream ${dir === "b" ? "<" : ">"} ? ORDER BY stream ${dir === "b" ? "DESC" : "ASC"} LIMIT ?`,
        stream,
        n * CONTEXT_SCAN_FACTOR,
      )
      .toArray()
      .filter((r) => viewer.canSeeRow(r))
      .slice(0, n);
    return rows.flatMap((r) => {
      const ev = room.store.event(r.event_id);
      return ev ? [{ stream: r.stream, event: clientEventFor(room, viewer, device, ev, now) as unknown as JsonObject }] : [];
    });
  };
  const before = around("b", c.before);
  const after = around("f", c.after);
  const out: JsonObject = {
    events_before: before.map((e) => e.event),
    events_after: after.map((e) => e.event),
    start: streamToken(before.length > 0 ? before[before.length - 1]!.stream - 1 : stream - 1),
    end: streamToken(after.length > 0 ? after[after.length - 1]!.stream : stream),
  };
  if (c.includeProfile) {
    const member = stateContentAt(room, stateBefore, "m.room.member", sender)?.content;
    const profile: JsonObject = {};
    if (typeof member?.displayname === "string") profile.displayname = member.displayname;
    if (typeof member?.avatar_url === "string") profile.avatar_url = member.avatar_url;
    out.profile_info = { [sender]: profile };
  }
  return out;
}
