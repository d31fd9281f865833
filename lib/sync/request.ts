/**
 * The query parameters of `GET /_matrix/client/v3/sync` and the filter they select,
 * normalised to what the sync machinery needs.
 * https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3sync
 * https://spec.matrix.org/v1.19/client-server-api/#filtering
 */
import { MatrixError } from "../errors.ts";
import { validateFilter, type EventFilter, type Filter, type RoomEventFilter, type StateFilter } from "../filter.ts";
import { JsonParseError, parseJsonStrict } from "../json-parse.ts";

/** Timeline length when the filter sets none (as Synapse: 10). */
export const DEFAULT_TIMELINE_LIMIT = 10;
/** Longest timeline one room entry returns, whatever the filter asks. */
export const MAX_TIMELINE_LIMIT = 500;
/** Longest long-poll the server holds. */
export const MAX_SYNC_TIMEOUT_MS = 60_000;

export type FilterRef = { id: string } | { inline: Filter } | undefined;

export interface SyncParams {
  since: string | undefined;
  timeoutMs: number;
  fullState: boolean;
  setPresence: "online" | "offline" | "unavailable" | undefined;
  filter: FilterRef;
  useStateAfter: boolean;
}

const invalid = (name: string, why: string) => new MatrixError("M_INVALID_PARAM", 400, `'${name}' ${why}`);

function bool(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  if (v === null || v === "false") return false;
  if (v === "true") return true;
  throw invalid(name, "must be true or false");
}

export function parseSyncParams(q: URLSearchParams): SyncParams {
  const since = q.get("since") ?? undefined;
  const timeoutText = q.get("timeout");
  let timeoutMs = 0;
  if (timeoutText !== null && timeoutText !== "") {
    if (!/^\d{1,12}$/.test(timeoutText)) throw invalid("timeout", "must be a non-negative integer");
    timeoutMs = Math.min(Number(timeoutText), MAX_SYNC_TIMEOUT_MS);
  }
  const presence = q.get("set_presence");
  if (presence !== null && presence !== "online" && presence !== "offline" && presence !== "unavailable") {
    throw invalid("set_presence", "must be online, offline or unavailable");
  }
  return {
    since: since === "" ? undefined : since,
    timeoutMs,
    fullState: bool(q, "full_state"),
    setPresence: presence ?? undefined,
    filter: parseFilterParam(q.get("filter")),
    useStateAfter: bool(q, "use_state_after"),
  };
}

/** A filter ID, or inline JSON when the value starts with "{" (the spec's rule). */
export function parseFilterParam(text: string | null): FilterRef {
  if (text === null || text === "") return undefined;
  if (!text.startsWith("{")) return { id: text };
  let v;
  try {
    v = parseJsonStrict(text, { maxBytes: 64 * 1024 });
  } catch (e) {
    if (e instanceof JsonParseError) throw new MatrixError("M_NOT_JSON", 400, `'filter' is not valid JSON: ${e.message}`);
    throw e;
  }
  return { inline: validateFilter(v) };
}

/** What one sync needs from a filter, with the spec's defaults filled in. */
export interface SyncFilter {
  timeline: RoomEventFilter & { limit: number };
  state: StateFilter;
  ephemeral: RoomEventFilter;
  roomAccountData: RoomEventFilter;
  accountData: EventFilter;
  /** Filter.presence: which m.presence events the top-level `presence` section keeps. */
  presence: EventFilter;
  includeLeave: boolean;
  rooms?: string[];
  notRooms?: string[];
  /** Filter.event_fields (lib/sync/event-fields.ts). */
  eventFields?: string[];
}

export function syncFilter(f: Filter | undefined): SyncFilter {
  const room = f?.room ?? {};
  const timeline = room.timeline ?? {};
  const limit = Math.min(timeline.limit ?? DEFAULT_TIMELINE_LIMIT, MAX_TIMELINE_LIMIT);
  const out: SyncFilter = {
    timeline: { ...timeline, limit },
    state: room.state ?? {},
    ephemeral: room.ephemeral ?? {},
    roomAccountData: room.account_data ?? {},
    accountData: f?.account_data ?? {},
    presence: f?.presence ?? {},
    includeLeave: room.include_leave === true,
  };
  if (room.rooms) out.rooms = room.rooms;
  if (room.not_rooms) out.notRooms = room.not_rooms;
  if (f?.event_fields) out.eventFields = f.event_fields;
  return out;
}

/** Whether the filter's top-level `room.rooms` / `room.not_rooms` let a room through. */
export function roomAllowed(f: SyncFilter, roomId: string): boolean {
  if (f.notRooms?.includes(roomId)) return false;
  if (f.rooms && !f.rooms.includes(roomId)) return false;
  return true;
}

/** Whether a filter's rooms lists (of a sub-filter) let a room through. */
export function subFilterAllows(f: RoomEventFilter, roomId: string): boolean {
  if (f.not_rooms?.includes(roomId)) return false;
  if (f.rooms && !f.rooms.includes(roomId)) return false;
  return true;
}
