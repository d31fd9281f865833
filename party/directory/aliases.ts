/**
 * The alias index in D1 (`room_aliases`): alias → room ID and who created it.
 * https://spec.matrix.org/v1.19/client-server-api/#room-aliases
 *
 * An alias inside an appservice's alias namespace that the index does not know is asked
 * of the appservice first (`GET /_matrix/app/v1/rooms/{roomAlias}`): an appservice that
 * answers 200 has just created the room and the alias, so the index is read again.
 * https://spec.matrix.org/v1.19/application-service-api/#get_matrixappv1roomsroomalias
 */
import { notFound } from "../../lib/errors.ts";
import { AppserviceUnreachable, callAppservice } from "../appservice/client.ts";
import { loadAppservices, type Env } from "../env.ts";

/** How long an appservice may take to create a room for an alias query. */
const ALIAS_QUERY_TIMEOUT_MS = 10_000;
/** D1 allows 100 bound parameters per statement; lookups of many aliases go in chunks. */
const CHUNK = 50;

export interface AliasRow {
  roomId: string;
  creator: string;
}

export async function aliasRow(db: D1Database, alias: string): Promise<AliasRow | null> {
  const r = await db.prepare("SELECT room_id, creator FROM room_aliases WHERE alias = ?").bind(alias).first<{ room_id: string; creator: string }>();
  return r ? { roomId: r.room_id, creator: r.creator } : null;
}

/** The room each alias points to (aliases the index does not know are absent). */
export async function aliasTargets(db: D1Database, aliases: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let i = 0; i < aliases.length; i += CHUNK) {
    const part = aliases.slice(i, i + CHUNK);
    const { results } = await db
      .prepare(`SELECT alias, room_id FROM room_aliases WHERE alias IN (${part.map(() => "?").join(", ")})`)
      .bind(...part)
      .all<{ alias: string; room_id: string }>();
    for (const r of results) out.set(r.alias, r.room_id);
  }
  return out;
}

/** Adds the alias; false when it exists already (whatever room it names). */
export async function insertAlias(db: D1Database, alias: string, roomId: string, creator: string): Promise<boolean> {
  const row = await db
    .prepare("INSERT INTO room_aliases (alias, room_id, creator, created_ts) VALUES (?, ?, ?, ?) ON CONFLICT (alias) DO NOTHING RETURNING alias")
    .bind(alias, roomId, creator, Date.now())
    .first();
  return row !== null;
}

/** Removes the alias if it still names `roomId` (a concurrent delete and re-create is left alone). */
export async function deleteAlias(db: D1Database, alias: string, roomId: string): Promise<boolean> {
  const r = await db.prepare("DELETE FROM room_aliases WHERE alias = ? AND room_id = ?").bind(alias, roomId).run();
  return (r.meta.changes ?? 0) > 0;
}

/** The local aliases of a room, oldest first. */
export async function roomAliases(db: D1Database, roomId: string): Promise<string[]> {
  const { results } = await db
    .prepare("SELECT alias FROM room_aliases WHERE room_id = ? ORDER BY created_ts, alias")
    .bind(roomId)
    .all<{ alias: string }>();
  return results.map((r) => r.alias);
}

/**
 * The room an alias names: the index, else the appservices whose alias namespace holds it
 * (in registration order, until one has created it). 404 M_NOT_FOUND when none knows it.
 */
export async function resolveAlias(env: Env, alias: string): Promise<AliasRow> {
  const known = await aliasRow(env.DB, alias);
  if (known) return known;
  for (const reg of loadAppservices(env).aliasNamespaceOwners(alias)) {
    if (reg.url === null) continue;
    try {
      const reply = await callAppservice(reg, "GET", `/_matrix/app/v1/rooms/${encodeURIComponent(alias)}`, { timeoutMs: ALIAS_QUERY_TIMEOUT_MS });
      if (reply.status < 200 || reply.status >= 300) continue;
    } catch (e) {
      if (!(e instanceof AppserviceUnreachable)) throw e;
      console.warn(`appservice ${reg.id}: alias query for ${alias} failed: ${e.message}`);
      continue;
    }
    const created = await aliasRow(env.DB, alias);
    if (created) return created;
  }
  throw notFound(`Room alias ${alias} not found`);
}
