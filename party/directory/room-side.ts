/**
 * The Room actor's side of the directories (design: docs/design/directory.md).
 *
 * While an event is built, `directoryOutboxFor` adds one outbox row when the event can
 * change the room's directory entry (name, topic, avatar, canonical alias, join rule,
 * history visibility, guest access, type) or a member (m.room.member: joins, leaves,
 * profile changes). The row is committed with the event, so nothing is lost to a restart;
 * messages add nothing. After commit the room's outbox pass hands every due directory row
 * to `deliverDirectory`, which reads the room's current state once and brings D1 in line
 * in ONE batch — published rows (if the room is published), the user-directory public flag,
 * and the changed members — then drops the rows, or leaves them for the backoff retry.
 * Deliveries read current state, so they are idempotent and coalesce: any number of
 * changes between two passes cost one D1 batch.
 *
 * Where the room is published is the room's own fact (its lists in the actor's KV
 * storage), so a retried delivery can never resurrect a list the room has left.
 */
import { levelSyntax, readPowerLevels, roomCreators } from "../../lib/auth/index.ts";
import { addedCanonicalAliases, badAlias } from "../../lib/directory/alias.ts";
import { directoryEntry, ENTRY_STATE_TYPES, isPublicForUserDirectory } from "../../lib/directory/entry.ts";
import type { RoomAccessFacts } from "../../lib/directory/permissions.ts";
import { MatrixError } from "../../lib/errors.ts";
import { historyVisibilityOf } from "../../lib/history-visibility.ts";
import type { JsonObject } from "../../lib/json.ts";
import type { Pdu } from "../../lib/pdu.ts";
import type { RoomVersionRules } from "../../lib/room-versions.ts";
import type { OutboxRow } from "../appservice/room-hook.ts";
import type { Env } from "../env.ts";
import type { RoomStore } from "../room/store.ts";
import { aliasTargets } from "./aliases.ts";
import { publishedStatements } from "./published.ts";
import { userDirectoryStatements, type MemberChange } from "./users.ts";

/** The outbox `kind` of directory rows; `target` is the room ID. */
export const DIRECTORY_OUTBOX = "directory";
/** Key of the room's published lists in the actor's KV storage. */
const LISTS_KEY = "directory.lists";
/** Lists one room may be in (its delivery binds one SQL parameter per list; D1 allows 100). */
export const MAX_LISTS = 32;

/** Outbox rows for an event about to be written: one for entry or member changes, none for anything else. */
export function directoryOutboxFor(roomId: string, pdu: Pdu): OutboxRow[] {
  if (pdu.state_key === undefined) return [];
  if (pdu.type === "m.room.member") return [{ kind: DIRECTORY_OUTBOX, target: roomId, payload: { user: pdu.state_key } }];
  if (pdu.state_key === "" && ENTRY_STATE_TYPES.has(pdu.type)) return [{ kind: DIRECTORY_OUTBOX, target: roomId, payload: {} }];
  return [];
}

export interface StateLookup {
  get(type: string, stateKey: string): Pdu | undefined;
}

/** The committed current state, read from SQLite (the outbox pass has no in-memory head). */
function committedState(sql: SqlStorage, store: RoomStore): StateLookup {
  return {
    get(type, key) {
      const row = sql.exec<{ event_id: string }>("SELECT event_id FROM current_state WHERE type = ? AND state_key = ?", type, key).toArray()[0];
      return row ? store.event(row.event_id)?.pdu : undefined;
    },
  };
}

function joinedCount(sql: SqlStorage): number {
  return sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM current_state WHERE type = 'm.room.member' AND membership = 'join'").one().n;
}

/** The lists the room is published in ('' = this server's directory). */
export function publishedLists(storage: DurableObjectStorage): string[] {
  return storage.kv.get<string[]>(LISTS_KEY) ?? [];
}

/**
 * Publishes the room in a list or takes it out, and queues a directory delivery — both in
 * one transaction, so the delivery that follows (or its retry) carries the change to D1.
 * The caller runs the outbox pass afterwards.
 */
export function setPublished(storage: DurableObjectStorage, roomId: string, list: string, visible: boolean): void {
  storage.transactionSync(() => {
    const lists = new Set(publishedLists(storage));
    if (visible) lists.add(list);
    else lists.delete(list);
    if (lists.size > MAX_LISTS) throw new MatrixError("M_INVALID_PARAM", 400, `a room can be published in at most ${MAX_LISTS} directory lists`);
    storage.kv.put(LISTS_KEY, [...lists].sort());
    storage.sql.exec("INSERT INTO outbox (kind, target, payload, next_ts) VALUES (?, ?, '{}', 0)", DIRECTORY_OUTBOX, roomId);
  });
}

const text = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);

function memberChange(state: StateLookup, userId: string): MemberChange {
  const c = state.get("m.room.member", userId)?.content;
  const joined = c?.membership === "join";
  const avatar = joined ? text(c.avatar_url) : null;
  return {
    userId,
    joined,
    displayName: joined ? text(c.displayname) : null,
    // The search result's avatar_url has format uri: a value without a scheme is left out.
    avatarUrl: avatar !== null && /^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(avatar) ? avatar : null,
  };
}

export interface DueRow {
  id: number;
  target: string;
  payload: JsonObject;
  attempts: number;
}

/** Brings D1 in line with the room's current state for the due directory rows (see the header). */
export async function deliverDirectory(
  storage: DurableObjectStorage,
  env: Env,
  store: RoomStore,
  rows: readonly DueRow[],
  retryAt: (attempts: number) => number,
): Promise<void> {
  const roomId = rows[0]!.target;
  const state = committedState(storage.sql, store);
  const entry = directoryEntry(state, joinedCount(storage.sql));
  const users = new Set<string>();
  for (const r of rows) if (typeof r.payload.user === "string") users.add(r.payload.user);
  const now = Date.now();
  const statements = [
    ...publishedStatements(env.DB, roomId, publishedLists(storage), entry, now),
    ...userDirectoryStatements(env.DB, roomId, isPublicForUserDirectory(entry), [...users].map((u) => memberChange(state, u)), now),
  ];
  try {
    await env.DB.batch(statements);
    for (const r of rows) store.outboxDone(r.id);
  } catch (e) {
    console.error(`room outbox: directory update of ${roomId} failed (attempt ${rows[0]!.attempts + 1})`, e);
    const at = retryAt(Math.max(...rows.map((r) => r.attempts)));
    for (const r of rows) store.outboxRetry(r.id, at);
  }
}

/** What the alias and directory permission rules (lib/directory/permissions.ts) need to know about a user. */
export function accessFacts(state: StateLookup, userId: string, rules: RoomVersionRules): RoomAccessFacts {
  const m = state.get("m.room.member", userId)?.content.membership;
  const create = state.get("m.room.create", "");
  const creators = create ? roomCreators(create, rules.authorization) : new Set<string>();
  const levels = readPowerLevels(state.get("m.room.power_levels", ""), creators, rules.authorization, levelSyntax(rules.authorization, rules.strictCanonicalJson));
  return {
    membership: typeof m === "string" ? m : "leave",
    worldReadable: historyVisibilityOf(state.get("m.room.history_visibility", "")?.content) === "world_readable",
    mayEditCanonicalAlias: levels.user(userId) >= levels.required("m.room.canonical_alias", true),
  };
}

/**
 * Before an m.room.canonical_alias event is queued: every alias it adds must be in the
 * index and point to this room (400 M_BAD_ALIAS), and be an alias at all (400
 * M_INVALID_PARAM). One D1 read, only for this event type. Aliases of other servers cannot
 * be checked without federation and are refused as M_BAD_ALIAS.
 */
export async function checkCanonicalAlias(env: Env, roomId: string, content: JsonObject, previous: JsonObject | undefined): Promise<void> {
  const added = addedCanonicalAliases(content, previous);
  if (added.length === 0) return;
  const targets = await aliasTargets(env.DB, added);
  for (const a of added) if (targets.get(a) !== roomId) throw badAlias(a);
}
