/**
 * Spaces: the room summary both `/hierarchy` and `/room_summary` return, which rooms a
 * user may see there, the order of a space's children, and the hierarchy's page tokens.
 * https://spec.matrix.org/v1.19/client-server-api/#spaces
 */
import { isValidRoomId } from "./identifiers.ts";
import type { PublishedRoomsChunk } from "./directory/entry.ts";
import { isJsonObject, type JsonObject } from "./json.ts";

/** The spec's RoomSummary: PublishedRoomsChunk plus the v1.15 fields. */
export interface RoomSummary extends PublishedRoomsChunk {
  room_version?: string;
  encryption?: "m.megolm.v1.aes-sha2";
  allowed_room_ids?: string[];
}

/** An m.space.child event as the hierarchy returns it: stripped state plus origin_server_ts. */
export interface StrippedChildStateEvent {
  type: "m.space.child";
  state_key: string;
  sender: string;
  content: JsonObject;
  origin_server_ts: number;
}

/** What the Room actor tells about itself to one user (party/room/summary.ts). */
export interface RoomSummaryFacts {
  summary: RoomSummary;
  /** The user's current membership; absent when unauthenticated or never a member. */
  membership?: string;
  /** The join rule names `knock` or `knock_restricted` and the room version has it. */
  knockable: boolean;
  /** The join rule is `restricted` or `knock_restricted` (in a version that has it). */
  restricted: boolean;
  /** Valid children in the spec's order; empty unless asked for and the room is a space. */
  children: StrippedChildStateEvent[];
}

export const SPACE_ROOM_TYPE = "m.space";

/**
 * Whether the user may see the room's summary: joined or invited; the room public,
 * knockable or world_readable; or restricted with the user joined to an allowed room.
 * A banned user sees it only if it is world_readable.
 * https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv1roomsroomidhierarchy
 */
export function maySeeSummary(f: RoomSummaryFacts, joinedRooms: ReadonlySet<string>): boolean {
  if (f.summary.world_readable) return true;
  if (f.membership === "ban") return false;
  if (f.membership === "join" || f.membership === "invite") return true;
  if (f.summary.join_rule === "public" || f.knockable) return true;
  return f.restricted && (f.summary.allowed_room_ids ?? []).some((r) => joinedRooms.has(r));
}

/** Whether anyone, signed in or not, may see it (room_summary without a token). */
export function publiclySummarisable(f: RoomSummaryFacts): boolean {
  return f.summary.world_readable || f.summary.join_rule === "public" || f.knockable;
}

/**
 * An m.space.child state event's child, or null when it is not one: the state key must be
 * a room ID and `via` a non-empty list of strings (otherwise the child is ignored).
 */
export function validChild(stateKey: string, content: JsonObject): { roomId: string; suggested: boolean; order: string | null } | null {
  if (!isValidRoomId(stateKey)) return null;
  const via = content.via;
  if (!Array.isArray(via) || via.length === 0 || !via.every((v) => typeof v === "string")) return null;
  return { roomId: stateKey, suggested: content.suggested === true, order: validOrder(content.order) };
}

/** `order`: 1 to 50 characters in U+0020–U+007E; anything else is ignored. */
function validOrder(v: unknown): string | null {
  return typeof v === "string" && v.length <= 50 && /^[\x20-\x7e]+$/.test(v) ? v : null;
}

/**
 * The spec's child order: children with a valid `order` first, by `order` (code points),
 * then by the m.space.child event's origin_server_ts, then by room ID.
 */
export function compareChildren(a: StrippedChildStateEvent, b: StrippedChildStateEvent): number {
  const oa = validOrder(a.content.order);
  const ob = validOrder(b.content.order);
  if (oa !== null && ob === null) return -1;
  if (oa === null && ob !== null) return 1;
  if (oa !== null && ob !== null && oa !== ob) return oa < ob ? -1 : 1;
  if (a.origin_server_ts !== b.origin_server_ts) return a.origin_server_ts - b.origin_server_ts;
  return a.state_key < b.state_key ? -1 : a.state_key > b.state_key ? 1 : 0;
}

// ---- /hierarchy page tokens ----------------------------------------------------------------

/**
 * Where a depth-first walk stopped: the stack of spaces being walked, each with the index of
 * its next child, and the walk's parameters (which the spec forbids changing mid-way). The
 * token carries it all, so no server state is kept per walk; a client that edits a token
 * only chooses where to resume, and every room it names is checked for access again.
 */
export interface HierarchyCursor {
  maxDepth: number;
  suggestedOnly: boolean;
  stack: Array<{ roomId: string; next: number }>;
}

export function encodeCursor(c: HierarchyCursor): string {
  const json = JSON.stringify({ d: c.maxDepth, s: c.suggestedOnly ? 1 : 0, k: c.stack.map((f) => [f.roomId, f.next]) });
  return btoa(String.fromCharCode(...new TextEncoder().encode(json))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The cursor in a token, or null when it is not one of ours. */
export function decodeCursor(token: string, maxStack: number): HierarchyCursor | null {
  if (!/^[A-Za-z0-9_-]{1,4096}$/.test(token)) return null;
  let parsed: unknown;
  try {
    const bin = atob(token.replace(/-/g, "+").replace(/_/g, "/"));
    parsed = JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (ch) => ch.charCodeAt(0))));
  } catch {
    return null;
  }
  if (!isJsonObject(parsed)) return null;
  const { d, s, k } = parsed;
  if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0 || (s !== 0 && s !== 1) || !Array.isArray(k) || k.length === 0 || k.length > maxStack) return null;
  const stack: HierarchyCursor["stack"] = [];
  for (const f of k) {
    if (!Array.isArray(f) || f.length !== 2) return null;
    const [roomId, next] = f;
    if (typeof roomId !== "string" || !isValidRoomId(roomId) || typeof next !== "number" || !Number.isSafeInteger(next) || next < 0) return null;
    stack.push({ roomId, next });
  }
  return { maxDepth: d, suggestedOnly: s === 1, stack };
}
