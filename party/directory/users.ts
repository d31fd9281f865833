/**
 * The user directory in D1: who is joined where (`user_directory_members`), which rooms
 * are public (`user_directory_rooms`), profiles with a full-text index (`user_directory`,
 * `user_directory_fts`), and the search with the spec's visibility.
 * https://spec.matrix.org/v1.19/client-server-api/#user-directory
 *
 * A searcher finds the users who share a room with them and the users joined to a public
 * room (join rule `public` or history `world_readable`) — what the spec requires at least,
 * and Synapse's default (`search_all_users: false`). A user in no room is found by nobody.
 */

/** One member whose membership or profile changed in a room. */
export interface MemberChange {
  userId: string;
  joined: boolean;
  displayName: string | null;
  avatarUrl: string | null;
}

/** Statements recording a room's public flag and its members' changes (idempotent: safe to repeat). */
export function userDirectoryStatements(db: D1Database, roomId: string, isPublic: boolean, changes: readonly MemberChange[], now: number): D1PreparedStatement[] {
  const out: D1PreparedStatement[] = [
    db
      .prepare(
        "INSERT INTO user_directory_rooms (room_id, is_public) VALUES (?, ?) ON CONFLICT (room_id) DO UPDATE SET is_public = excluded.is_public WHERE is_public != excluded.is_public",
      )
      .bind(roomId, isPublic ? 1 : 0),
  ];
  for (const c of changes) {
    if (!c.joined) {
      out.push(db.prepare("DELETE FROM user_directory_members WHERE user_id = ? AND room_id = ?").bind(c.userId, roomId));
      continue;
    }
    out.push(db.prepare("INSERT INTO user_directory_members (user_id, room_id) VALUES (?, ?) ON CONFLICT DO NOTHING").bind(c.userId, roomId));
    out.push(
      db
        .prepare(
          "INSERT INTO user_directory (user_id, display_name, avatar_url, updated_ts) VALUES (?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET " +
            "display_name = excluded.display_name, avatar_url = excluded.avatar_url, updated_ts = excluded.updated_ts " +
            "WHERE display_name IS NOT excluded.display_name OR avatar_url IS NOT excluded.avatar_url",
        )
        .bind(c.userId, c.displayName, c.avatarUrl, now),
    );
  }
  return out;
}

export interface UserResult {
  user_id: string;
  display_name?: string;
  avatar_url?: string;
}

/**
 * Users matching the FTS5 query `fts` whom `searcher` may see, best match first, then
 * those with a display name and an avatar, then by user ID. `limited` when more matched.
 */
export async function searchUsers(db: D1Database, searcher: string, fts: string, limit: number): Promise<{ results: UserResult[]; limited: boolean }> {
  const { results } = await db
    .prepare(
      "SELECT u.user_id, u.display_name, u.avatar_url FROM user_directory_fts f JOIN user_directory u ON u.id = f.rowid " +
        "WHERE user_directory_fts MATCH ? AND (" +
        // joined to a public room…
        "EXISTS (SELECT 1 FROM user_directory_members m JOIN user_directory_rooms r ON r.room_id = m.room_id WHERE m.user_id = u.user_id AND r.is_public = 1) " +
        // …or sharing a room with the searcher
        "OR EXISTS (SELECT 1 FROM user_directory_members a JOIN user_directory_members b ON b.room_id = a.room_id WHERE a.user_id = u.user_id AND b.user_id = ?)) " +
        "ORDER BY f.rank, u.display_name IS NULL, u.avatar_url IS NULL, u.user_id LIMIT ?",
    )
    .bind(fts, searcher, limit + 1)
    .all<{ user_id: string; display_name: string | null; avatar_url: string | null }>();
  return {
    results: results.slice(0, limit).map((r) => {
      const out: UserResult = { user_id: r.user_id };
      if (r.display_name !== null) out.display_name = r.display_name;
      if (r.avatar_url !== null) out.avatar_url = r.avatar_url;
      return out;
    }),
    limited: results.length > limit,
  };
}

/** Whether a room has reached the user directory (every room does after its first commit). */
export async function roomKnown(db: D1Database, roomId: string): Promise<boolean> {
  return (await db.prepare("SELECT 1 AS x FROM user_directory_rooms WHERE room_id = ?").bind(roomId).first()) !== null;
}
