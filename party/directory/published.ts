/**
 * The published room directory in D1 (`room_directory` + `room_directory_fts`): the rows a
 * room writes for the lists it is published in, and the /publicRooms query over them.
 * https://spec.matrix.org/v1.19/client-server-api/#listing-rooms
 */
import type { DirectoryEntry, PublishedRoomsChunk } from "../../lib/directory/entry.ts";
import { toChunk } from "../../lib/directory/entry.ts";
import { assemblePage, type Page, type PageKey } from "../../lib/directory/pagination.ts";
import type { PublicRoomsQuery } from "../../lib/directory/requests.ts";

/** The server's own directory; appservice networks' lists are `<appservice id>|<network id>`. */
export const LOCAL_LIST = "";

export function networkList(appserviceId: string, networkId: string): string {
  return `${appserviceId}|${networkId}`;
}

/**
 * Statements that make D1's rows for a room match `lists` (where it is published) and
 * `entry` (its current state). Unchanged rows are not rewritten, and the search index is
 * touched only when a searched column changes (schema/d1/0002_directory.sql).
 */
export function publishedStatements(db: D1Database, roomId: string, lists: readonly string[], entry: DirectoryEntry, now: number): D1PreparedStatement[] {
  const out: D1PreparedStatement[] = [];
  out.push(
    lists.length === 0
      ? db.prepare("DELETE FROM room_directory WHERE room_id = ?").bind(roomId)
      : db.prepare(`DELETE FROM room_directory WHERE room_id = ? AND list NOT IN (${lists.map(() => "?").join(", ")})`).bind(roomId, ...lists),
  );
  const e = entry;
  for (const list of lists) {
    out.push(
      db
        .prepare(
          "INSERT INTO room_directory (room_id, list, name, topic, canonical_alias, avatar_url, join_rule, room_type, guest_can_join, world_readable, num_joined_members, updated_ts) " +
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (room_id, list) DO UPDATE SET " +
            "name = excluded.name, topic = excluded.topic, canonical_alias = excluded.canonical_alias, avatar_url = excluded.avatar_url, " +
            "join_rule = excluded.join_rule, room_type = excluded.room_type, guest_can_join = excluded.guest_can_join, " +
            "world_readable = excluded.world_readable, num_joined_members = excluded.num_joined_members, updated_ts = excluded.updated_ts " +
            "WHERE name IS NOT excluded.name OR topic IS NOT excluded.topic OR canonical_alias IS NOT excluded.canonical_alias " +
            "OR avatar_url IS NOT excluded.avatar_url OR join_rule IS NOT excluded.join_rule OR room_type IS NOT excluded.room_type " +
            "OR guest_can_join != excluded.guest_can_join OR world_readable != excluded.world_readable OR num_joined_members != excluded.num_joined_members",
        )
        .bind(roomId, list, e.name, e.topic, e.canonicalAlias, e.avatarUrl, e.joinRule, e.roomType, e.guestCanJoin ? 1 : 0, e.worldReadable ? 1 : 0, e.numJoinedMembers, now),
    );
  }
  return out;
}

/** Whether the room is in the server's own directory. */
export async function isPublished(db: D1Database, roomId: string): Promise<boolean> {
  return (await db.prepare("SELECT 1 AS x FROM room_directory WHERE room_id = ? AND list = ?").bind(roomId, LOCAL_LIST).first()) !== null;
}

interface Row extends Record<string, unknown> {
  room_id: string;
  name: string | null;
  topic: string | null;
  canonical_alias: string | null;
  avatar_url: string | null;
  join_rule: string | null;
  room_type: string | null;
  guest_can_join: number;
  world_readable: number;
  num_joined_members: number;
}

export interface PublicRoomsPage {
  chunk: PublishedRoomsChunk[];
  next_batch?: string;
  prev_batch?: string;
  total_room_count_estimate: number;
}

/**
 * One page of /publicRooms. `fts` is the FTS5 query of the search term (lib/directory/
 * search-terms.ts), or undefined without a term. Keyset pagination over the list's order
 * (lib/directory/pagination.ts); the count is of all rooms the filter matches.
 */
export async function publicRoomsPage(db: D1Database, q: PublicRoomsQuery, fts: string | undefined): Promise<PublicRoomsPage> {
  const where: string[] = [];
  const args: unknown[] = [];
  if (q.scope.kind === "local") {
    where.push("list = ?");
    args.push(LOCAL_LIST);
  } else if (q.scope.kind === "instance") {
    where.push("list = ?");
    args.push(q.scope.instanceId);
  }
  if (fts !== undefined) {
    where.push("id IN (SELECT rowid FROM room_directory_fts WHERE room_directory_fts MATCH ?)");
    args.push(fts);
  }
  if (q.roomTypes) {
    const named = q.roomTypes.filter((t): t is string => t !== null);
    const parts = named.length > 0 ? [`room_type IN (${named.map(() => "?").join(", ")})`] : [];
    if (q.roomTypes.includes(null)) parts.push("room_type IS NULL");
    where.push(`(${parts.join(" OR ")})`);
    args.push(...named);
  }
  const filter = where.length > 0 ? `WHERE ${where.join(" AND ")}` : "";

  const pageWhere = [...where];
  const pageArgs = [...args];
  const since = q.since;
  if (since) {
    const k = since.key;
    pageWhere.push(
      since.dir === "f"
        ? "(num_joined_members < ? OR (num_joined_members = ? AND room_id > ?))"
        : "(num_joined_members > ? OR (num_joined_members = ? AND room_id < ?))",
    );
    pageArgs.push(k.numJoinedMembers, k.numJoinedMembers, k.roomId);
  }
  const order = since?.dir === "b" ? "num_joined_members ASC, room_id DESC" : "num_joined_members DESC, room_id ASC";
  // Across every list a room published in several appears once.
  const group = q.scope.kind === "all" ? "GROUP BY room_id" : "";
  const columns = "room_id, name, topic, canonical_alias, avatar_url, join_rule, room_type, guest_can_join, world_readable, num_joined_members";
  const [rows, count] = await db.batch<Row | { n: number }>([
    db
      .prepare(`SELECT ${columns} FROM room_directory ${pageWhere.length > 0 ? `WHERE ${pageWhere.join(" AND ")}` : ""} ${group} ORDER BY ${order} LIMIT ?`)
      .bind(...pageArgs, q.limit + 1),
    db.prepare(`SELECT COUNT(DISTINCT room_id) AS n FROM room_directory ${filter}`).bind(...args),
  ]);
  const keyed = (rows!.results as Row[]).map((r) => ({ ...r, numJoinedMembers: r.num_joined_members, roomId: r.room_id }));
  const page: Page<PageKey & Row> = assemblePage(keyed, q.limit, since);
  const out: PublicRoomsPage = {
    chunk: page.items.map((r) => toChunk(r.room_id, entryOf(r))),
    total_room_count_estimate: (count!.results[0] as { n: number }).n,
  };
  if (page.nextBatch) out.next_batch = page.nextBatch;
  if (page.prevBatch) out.prev_batch = page.prevBatch;
  return out;
}

function entryOf(r: Row): DirectoryEntry {
  return {
    name: r.name,
    topic: r.topic,
    avatarUrl: r.avatar_url,
    canonicalAlias: r.canonical_alias,
    joinRule: r.join_rule,
    roomType: r.room_type,
    guestCanJoin: r.guest_can_join === 1,
    worldReadable: r.world_readable === 1,
    numJoinedMembers: r.num_joined_members,
  };
}
