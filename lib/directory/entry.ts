/**
 * A room's entry in the published room directory, read from its current state, and the
 * `PublishedRoomsChunk` the spec returns for it.
 * https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3publicrooms
 */
import { historyVisibilityOf } from "../history-visibility.ts";
import { isValidRoomAlias } from "../identifiers.ts";
import { isJsonObject, type JsonObject } from "../json.ts";

/** The state an entry is read from: current state events' contents by (type, state_key). */
export interface EntryState {
  get(type: string, stateKey: string): { content: JsonObject } | undefined;
}

/** State event types whose change changes a room's directory entry or user-directory visibility. */
export const ENTRY_STATE_TYPES: ReadonlySet<string> = new Set([
  "m.room.create",
  "m.room.name",
  "m.room.topic",
  "m.room.avatar",
  "m.room.canonical_alias",
  "m.room.join_rules",
  "m.room.history_visibility",
  "m.room.guest_access",
]);

export interface DirectoryEntry {
  name: string | null;
  topic: string | null;
  avatarUrl: string | null;
  canonicalAlias: string | null;
  /** From m.room.join_rules; null without that event. */
  joinRule: string | null;
  /** `type` of m.room.create; null for rooms without a type. */
  roomType: string | null;
  guestCanJoin: boolean;
  worldReadable: boolean;
  numJoinedMembers: number;
}

/** The spec's PublishedRoomsChunk. */
export interface PublishedRoomsChunk {
  room_id: string;
  num_joined_members: number;
  world_readable: boolean;
  guest_can_join: boolean;
  name?: string;
  topic?: string;
  avatar_url?: string;
  canonical_alias?: string;
  join_rule?: string;
  room_type?: string;
}

const text = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);
/** The chunk's avatar_url has format `uri`: a value without a scheme is left out. */
const uri = (v: string | null): string | null => (v !== null && /^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(v) ? v : null);

/**
 * The plain-text topic: `topic`, or else the `text/plain` representation in `m.topic`
 * (a representation without a mimetype is text/plain). Empty means no topic.
 */
export function plainTextTopic(content: JsonObject | undefined): string | null {
  if (!content) return null;
  const topic = text(content.topic);
  if (topic !== null) return topic;
  const block = content["m.topic"];
  const reps = isJsonObject(block) && Array.isArray(block["m.text"]) ? block["m.text"] : [];
  for (const r of reps) {
    if (isJsonObject(r) && (r.mimetype === undefined || r.mimetype === "text/plain")) {
      const body = text(r.body);
      if (body !== null) return body;
    }
  }
  return null;
}

export function directoryEntry(state: EntryState, numJoinedMembers: number): DirectoryEntry {
  const c = (type: string) => state.get(type, "")?.content;
  const alias = text(c("m.room.canonical_alias")?.alias);
  return {
    name: text(c("m.room.name")?.name),
    topic: plainTextTopic(c("m.room.topic")),
    avatarUrl: uri(text(c("m.room.avatar")?.url)),
    // An alias that breaks the grammar would fail the response schema; leave it out.
    canonicalAlias: alias !== null && isValidRoomAlias(alias) ? alias : null,
    joinRule: text(c("m.room.join_rules")?.join_rule),
    roomType: text(c("m.room.create")?.type),
    guestCanJoin: c("m.room.guest_access")?.guest_access === "can_join",
    worldReadable: historyVisibilityOf(c("m.room.history_visibility")) === "world_readable",
    numJoinedMembers,
  };
}

/**
 * Whether the user directory treats the room as public: a `public` join rule or
 * `world_readable` history (the spec's user directory visibility).
 */
export function isPublicForUserDirectory(e: Pick<DirectoryEntry, "joinRule" | "worldReadable">): boolean {
  return e.joinRule === "public" || e.worldReadable;
}

export function toChunk(roomId: string, e: DirectoryEntry): PublishedRoomsChunk {
  const chunk: PublishedRoomsChunk = {
    room_id: roomId,
    num_joined_members: e.numJoinedMembers,
    world_readable: e.worldReadable,
    guest_can_join: e.guestCanJoin,
  };
  if (e.name !== null) chunk.name = e.name;
  if (e.topic !== null) chunk.topic = e.topic;
  if (e.avatarUrl !== null) chunk.avatar_url = e.avatarUrl;
  if (e.canonicalAlias !== null) chunk.canonical_alias = e.canonicalAlias;
  if (e.joinRule !== null) chunk.join_rule = e.joinRule;
  if (e.roomType !== null) chunk.room_type = e.roomType;
  return chunk;
}
