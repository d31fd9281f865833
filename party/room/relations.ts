/**
 * Relations on the Room actor's side: bundled aggregations for every event a read path
 * serves, GET /relations (with recursion) and GET /threads.
 * https://spec.matrix.org/v1.19/client-server-api/#aggregations-of-child-events
 * https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv1roomsroomidrelationseventid
 * https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv1roomsroomidthreads
 *
 * Children are found through the `events_relations` index (relates_to, rel_type). A
 * redacted child no longer relates (its content lost m.relates_to), so every query skips
 * `redacted_by IS NOT NULL`, and every child is checked for visibility like any event.
 */
import { notFound } from "../../lib/errors.ts";
import type { ClientEvent } from "../../lib/event-format.ts";
import type { JsonObject } from "../../lib/json.ts";
import { pageRange, parseToken, positionAfterPage, streamToken, type Direction } from "../../lib/pagination-token.ts";
import { bundledRelations, latestReplacement, threadSummary, type ThreadSummary } from "../../lib/relations.ts";
import { clientEventFor, type ReaderDevice } from "./serve.ts";
import type { StoredEvent } from "./store.ts";
import { MAX_SCAN, scanPage } from "./scan.ts";
import { ROW_COLUMNS, type EventRow, type ReadRoom, type Viewer } from "./visibility.ts";

/** Relation types the server aggregates. */
const BUNDLED = ["m.replace", "m.thread", "m.reference"];
/** Bound parameters per IN list (SQLite in Durable Objects limits bindings per statement). */
const IN_CHUNK = 50;
/** How deep `recurse=true` follows relations (the spec asks for at least 3; Synapse uses 3). */
export const RECURSION_DEPTH = 3;

type ChildRow = EventRow & { relates_to: string; rel_type: string };

function childrenOf(room: ReadRoom, parentIds: string[]): ChildRow[] {
  const out: ChildRow[] = [];
  for (let i = 0; i < parentIds.length; i += IN_CHUNK) {
    const ids = parentIds.slice(i, i + IN_CHUNK);
    out.push(
      ...room.sql
        .exec<ChildRow>(
          `SELECT ${ROW_COLUMNS}, relates_to, rel_type FROM events
            WHERE relates_to IN (${ids.map(() => "?").join(",")}) AND rel_type IN (${BUNDLED.map(() => "?").join(",")})
              AND rejection IS NULL AND redacted_by IS NULL ORDER BY stream`,
          ...ids,
          ...BUNDLED,
        )
        .toArray(),
    );
  }
  return out;
}

/** The latest valid edit of `original` among visible candidate rows, served plain. */
function latestEdit(room: ReadRoom, viewer: Viewer, device: ReaderDevice, original: StoredEvent, rows: ChildRow[]): ClientEvent | undefined {
  const candidates: StoredEvent[] = [];
  for (const r of rows) {
    // Cheap column checks first: an edit must come from the same sender with the same type.
    if (r.sender !== original.sender || r.type !== original.pdu.type) continue;
    const ev = room.store.event(r.event_id);
    if (ev) candidates.push(ev);
  }
  const best = latestReplacement(original.pdu, candidates.map((c) => c.pdu));
  const ev = best && candidates.find((c) => c.pdu.event_id === best.event_id);
  return ev && clientEventFor(room, viewer, device, ev);
}

/**
 * Adds `unsigned["m.relations"]` to served events: the latest edit (not for redacted
 * originals), the thread summary (latest reply with its own edit bundled), references.
 * State events get none (they can be neither edited nor threaded).
 */
export function bundleInto(room: ReadRoom, viewer: Viewer, device: ReaderDevice, served: Array<{ ev: StoredEvent; out: ClientEvent }>): void {
  const parents = served.filter((s) => s.ev.pdu.state_key === undefined);
  if (parents.length === 0) return;
  const byParent = new Map<string, ChildRow[]>();
  for (const r of childrenOf(room, [...new Set(parents.map((p) => p.ev.pdu.event_id))])) {
    if (!viewer.canSeeRow(r)) continue;
    let list = byParent.get(r.relates_to);
    if (!list) byParent.set(r.relates_to, (list = []));
    list.push(r);
  }
  for (const { ev, out } of parents) {
    const rows = byParent.get(ev.pdu.event_id);
    if (!rows) continue;
    const edit = ev.redactedBy ? undefined : latestEdit(room, viewer, device, ev, rows.filter((r) => r.rel_type === "m.replace"));
    let thread: ThreadSummary<JsonObject> | undefined;
    const summary = threadSummary(ev.sender, rows.filter((r) => r.rel_type === "m.thread"), viewer.userId);
    if (summary) {
      const latest = room.store.event(summary.latest_event.event_id);
      if (latest) {
        const latestOut = clientEventFor(room, viewer, device, latest);
        const latestEditOut = latestEdit(room, viewer, device, latest, childrenOf(room, [latest.pdu.event_id]).filter((r) => r.rel_type === "m.replace" && viewer.canSeeRow(r)));
        if (latestEditOut) latestOut.unsigned = { ...latestOut.unsigned, "m.relations": { "m.replace": latestEditOut as unknown as JsonObject } };
        thread = { ...summary, latest_event: latestOut as unknown as JsonObject };
      }
    }
    const references = rows.filter((r) => r.rel_type === "m.reference").map((r) => r.event_id);
    const bundle = bundledRelations({ replace: edit as unknown as JsonObject | undefined, thread, references }, ev.redactedBy !== null);
    if (bundle) out.unsigned = { ...out.unsigned, "m.relations": bundle };
  }
}

/** Stored events served to one reader, with bundled aggregations. */
export function serveEvents(room: ReadRoom, viewer: Viewer, device: ReaderDevice, evs: StoredEvent[], now = Date.now()): ClientEvent[] {
  const served = evs.map((ev) => ({ ev, out: clientEventFor(room, viewer, device, ev, now) }));
  bundleInto(room, viewer, device, served);
  return served.map((s) => s.out);
}

export interface RelationsRequest {
  eventId: string;
  relType?: string;
  eventType?: string;
  from?: string;
  to?: string;
  limit?: number;
  dir?: Direction;
  /** Absent: the client did not send `recurse` (then `recursion_depth` is absent too). */
  recurse?: boolean;
}

export const RELATIONS_DEFAULT_LIMIT = 50;
export const RELATIONS_MAX_LIMIT = 1000;

/** GET /relations: the parent's (visible) children, newest first unless dir=f. */
export function relations(room: ReadRoom, viewer: Viewer, device: ReaderDevice, p: RelationsRequest): JsonObject {
  const parent = room.store.event(p.eventId);
  // Not found and not visible look the same (spec: 404 for both).
  if (!parent || !viewer.canSee(parent)) throw notFound("Event not found");
  const dir = p.dir ?? "b";
  const limit = Math.max(0, Math.min(p.limit ?? RELATIONS_DEFAULT_LIMIT, RELATIONS_MAX_LIMIT));
  const fromPos = p.from !== undefined ? parseToken(p.from, "from") : dir === "b" ? room.head.stream : 0;
  const toPos = p.to !== undefined ? parseToken(p.to, "to") : undefined;
  const depth = p.recurse ? RECURSION_DEPTH : 1;

  const conds = ["e.rejection IS NULL", "e.redacted_by IS NULL"];
  const args: SqlStorageValue[] = [];
  if (p.relType !== undefined) (conds.push("e.rel_type = ?"), args.push(p.relType));
  if (p.eventType !== undefined) (conds.push("e.type = ?"), args.push(p.eventType));
  // Children up to `depth` hops; rel_type/event_type filter every returned event, direct or not (MSC3981).
  const query = `WITH RECURSIVE rel(event_id, depth) AS (
      SELECT event_id, 1 FROM events WHERE relates_to = ? AND rejection IS NULL AND redacted_by IS NULL
      UNION
      SELECT c.event_id, r.depth + 1 FROM events c JOIN rel r ON c.relates_to = r.event_id
       WHERE r.depth < ? AND c.rejection IS NULL AND c.redacted_by IS NULL
    )
    SELECT ${ROW_COLUMNS.split(", ").map((c) => "e." + c).join(", ")} FROM events e JOIN rel ON e.event_id = rel.event_id
     WHERE ${conds.join(" AND ")} AND e.stream > ? AND e.stream <= ? ORDER BY e.stream ${dir === "b" ? "DESC" : "ASC"} LIMIT ?`;

  const range = pageRange(dir, fromPos, toPos, room.head.stream);
  range.upTo = Math.max(range.after, Math.min(range.upTo, viewer.forwardLimit()));
  const page = scanPage(
    dir,
    range,
    limit,
    (lo, hi, n) => room.sql.exec<EventRow>(query, p.eventId, depth, ...args, lo, hi, n).toArray(),
    (r) => (viewer.canSeeRow(r) ? room.store.event(r.event_id) : undefined),
  );
  const out: JsonObject = { chunk: serveEvents(room, viewer, device, page.events) as unknown as JsonObject[] };
  if (!page.exhausted) out.next_batch = streamToken(page.last === undefined ? fromPos : positionAfterPage(dir, page.last));
  if (p.from !== undefined) out.prev_batch = p.from;
  if (p.recurse !== undefined) out.recursion_depth = depth;
  return out;
}

export interface ThreadsRequest {
  include?: "all" | "participated";
  from?: string;
  limit?: number;
}

export const THREADS_DEFAULT_LIMIT = 10;
export const THREADS_MAX_LIMIT = 100;

/** GET /threads: thread roots the user can see, ordered by their latest reply, newest first. */
export function threads(room: ReadRoom, viewer: Viewer, device: ReaderDevice, p: ThreadsRequest): JsonObject {
  const limit = Math.max(1, Math.min(p.limit ?? THREADS_DEFAULT_LIMIT, THREADS_MAX_LIMIT));
  // The token is the stream position of the latest reply of the next thread to consider.
  let upTo = p.from !== undefined ? parseToken(p.from, "from") : room.head.stream;
  const roots: StoredEvent[] = [];
  let more = true;
  let scanned = 0;
  while (roots.length < limit && more && scanned < MAX_SCAN) {
    const rows = room.sql
      .exec<{ root: string; latest: number }>(
        `SELECT relates_to AS root, MAX(stream) AS latest FROM events
          WHERE rel_type = 'm.thread' AND relates_to IS NOT NULL AND rejection IS NULL AND redacted_by IS NULL
          GROUP BY relates_to HAVING MAX(stream) <= ? ORDER BY latest DESC LIMIT ?`,
        upTo,
        THREADS_BATCH,
      )
      .toArray();
    let i = 0;
    for (; i < rows.length && roots.length < limit; i++) {
      const r = rows[i]!;
      scanned++;
      upTo = r.latest - 1;
      const root = room.store.event(r.root);
      if (root && viewer.canSee(root) && (p.include !== "participated" || participated(room, root, viewer.userId))) roots.push(root);
    }
    more = i < rows.length || rows.length === THREADS_BATCH;
  }
  const out: JsonObject = { chunk: serveEvents(room, viewer, device, roots) as unknown as JsonObject[] };
  if (more) out.next_batch = streamToken(upTo);
  return out;
}

const THREADS_BATCH = 100;

function participated(room: ReadRoom, root: StoredEvent, userId: string): boolean {
  if (root.sender === userId) return true;
  return (
    room.sql
      .exec(
        "SELECT 1 FROM events WHERE relates_to = ? AND rel_type = 'm.thread' AND sender = ? AND rejection IS NULL AND redacted_by IS NULL LIMIT 1",
        root.pdu.event_id,
        userId,
      )
      .toArray().length > 0
  );
}
