/**
 * The Room actor's read-only answer for spaces (`/hierarchy`) and `/room_summary`: the
 * room's summary from its committed current state, the asking user's membership, the
 * facts the edge decides visibility on (lib/spaces.ts maySeeSummary), and — for a space,
 * when asked — its valid m.space.child events in the spec's order.
 * https://spec.matrix.org/v1.19/client-server-api/#spaces
 */
import { directoryEntry, toChunk } from "../../lib/directory/entry.ts";
import { isJsonObject } from "../../lib/json.ts";
import type { Pdu } from "../../lib/pdu.ts";
import type { RoomVersionRules } from "../../lib/room-versions.ts";
import { compareChildren, SPACE_ROOM_TYPE, validChild, type RoomSummaryFacts, type StrippedChildStateEvent } from "../../lib/spaces.ts";
import type { RoomStore } from "./store.ts";

export interface SummaryRoom {
  roomId: string;
  sql: SqlStorage;
  store: RoomStore;
  rules: RoomVersionRules;
}

/** Largest number of children one space returns (a space with more is cut, in order). */
export const MAX_CHILDREN = 1000;

/** The summary for `userId` (null: unauthenticated); `children` asks for the space's children. */
export function roomSummary(room: SummaryRoom, p: { userId: string | null; children: boolean; suggestedOnly: boolean }): RoomSummaryFacts {
  const state = {
    get(type: string, key: string): Pdu | undefined {
      const row = room.sql.exec<{ event_id: string }>("SELECT event_id FROM current_state WHERE type = ? AND state_key = ?", type, key).toArray()[0];
      return row ? room.store.event(row.event_id)?.pdu : undefined;
    },
  };
  const joined = room.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM current_state WHERE type = 'm.room.member' AND membership = 'join'").one().n;
  const entry = directoryEntry(state, joined);
  const summary: RoomSummaryFacts["summary"] = { ...toChunk(room.roomId, entry), room_version: room.rules.id };
  const auth = room.rules.authorization;
  const joinRules = state.get("m.room.join_rules", "")?.content;
  const joinRule = joinRules?.join_rule;
  const restricted = (joinRule === "restricted" && auth.restrictedJoinRule) || (joinRule === "knock_restricted" && auth.knockRestrictedJoinRule);
  const knockable = (joinRule === "knock" && auth.knocking) || (joinRule === "knock_restricted" && auth.knockRestrictedJoinRule);
  if (restricted) {
    const allow = Array.isArray(joinRules?.allow) ? joinRules.allow : [];
    summary.allowed_room_ids = allow.flatMap((a) => (isJsonObject(a) && a.type === "m.room_membership" && typeof a.room_id === "string" ? [a.room_id] : []));
  }
  if (state.get("m.room.encryption", "")?.content.algorithm === "m.megolm.v1.aes-sha2") summary.encryption = "m.megolm.v1.aes-sha2";
  const facts: RoomSummaryFacts = { summary, knockable, restricted, children: [] };
  if (p.userId !== null) {
    const m = state.get("m.room.member", p.userId)?.content.membership;
    if (typeof m === "string") facts.membership = m;
  }
  if (p.children && entry.roomType === SPACE_ROOM_TYPE) facts.children = spaceChildren(room, p.suggestedOnly);
  return facts;
}

function spaceChildren(room: SummaryRoom, suggestedOnly: boolean): StrippedChildStateEvent[] {
  const rows = room.sql.exec<{ event_id: string }>("SELECT event_id FROM current_state WHERE type = 'm.space.child'").toArray();
  const children: StrippedChildStateEvent[] = [];
  for (const r of rows) {
    const pdu = room.store.event(r.event_id)?.pdu;
    if (!pdu || pdu.state_key === undefined) continue;
    const child = validChild(pdu.state_key, pdu.content);
    if (!child || (suggestedOnly && !child.suggested)) continue;
    children.push({ type: "m.space.child", state_key: pdu.state_key, sender: pdu.sender, content: pdu.content, origin_server_ts: pdu.origin_server_ts });
  }
  return children.sort(compareChildren).slice(0, MAX_CHILDREN);
}
