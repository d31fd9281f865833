/**
 * Account data for /sync, read from the User actor's own table: global and per room,
 * changed after the token's account-data position, through the filter.
 * https://spec.matrix.org/v1.19/client-server-api/#client-config
 */
import { eventMatchesFilter } from "../../lib/event-filter.ts";
import type { JsonObject } from "../../lib/json.ts";
import { subFilterAllows, type SyncFilter } from "../../lib/sync/request.ts";

function rows(sql: SqlStorage, since: number) {
  return sql
    .exec<{ room_id: string; type: string; content: string }>("SELECT room_id, type, content FROM account_data WHERE stream_pos > ? ORDER BY stream_pos", since)
    .toArray();
}

export function globalAccountData(sql: SqlStorage, since: number, sf: SyncFilter, userId: string): JsonObject[] {
  return rows(sql, since)
    .filter((r) => r.room_id === "" && eventMatchesFilter(sf.accountData, { type: r.type, sender: userId, content: {} }))
    .map((r) => ({ type: r.type, content: JSON.parse(r.content) as JsonObject }));
}

export function roomAccountData(sql: SqlStorage, since: number, sf: SyncFilter, userId: string): Map<string, JsonObject[]> {
  const out = new Map<string, JsonObject[]>();
  for (const r of rows(sql, since)) {
    if (r.room_id === "" || !subFilterAllows(sf.roomAccountData, r.room_id)) continue;
    if (!eventMatchesFilter(sf.roomAccountData, { type: r.type, sender: userId, content: {} })) continue;
    let list = out.get(r.room_id);
    if (!list) out.set(r.room_id, (list = []));
    list.push({ type: r.type, content: JSON.parse(r.content) as JsonObject });
  }
  return out;
}

/** The account-data stream position now (the User actor's `account_data` counter). */
export function accountDataPosition(sql: SqlStorage): number {
  return sql.exec<{ value: number }>("SELECT value FROM counters WHERE name = 'account_data'").toArray()[0]?.value ?? 0;
}
