/**
 * Applying a RoomEventFilter to room events (/messages, /context; /sync reuses it).
 * https://spec.matrix.org/v1.19/client-server-api/#filtering
 * https://spec.matrix.org/v1.19/client-server-api/#lazy-loading-room-members
 *
 * Validation of the filter JSON is lib/filter.ts; this file decides which events pass.
 */
import { MatrixError } from "./errors.ts";
import { validateRoomEventFilter, type RoomEventFilter } from "./filter.ts";
import type { JsonObject } from "./json.ts";
import { JsonParseError, parseJsonStrict } from "./json-parse.ts";

/** What a filter looks at in an event. */
export interface FilterableEvent {
  type: string;
  sender: string;
  room_id?: string;
  content: JsonObject;
}

/** The `filter` query parameter of /messages and /context: inline RoomEventFilter JSON. */
export function parseRoomEventFilterParam(text: string | null): RoomEventFilter {
  if (text === null || text === "") return {};
  let v;
  try {
    v = parseJsonStrict(text, { maxBytes: 64 * 1024 });
  } catch (e) {
    if (e instanceof JsonParseError) throw new MatrixError("M_INVALID_PARAM", 400, `filter is not valid JSON: ${e.message}`);
    throw e;
  }
  return validateRoomEventFilter(v, "filter");
}

/**
 * Type patterns: `*` matches any sequence of characters (including none); everything
 * else matches itself. Compiled once per pattern.
 */
const patternCache = new Map<string, RegExp>();
export function typeMatches(pattern: string, type: string): boolean {
  if (!pattern.includes("*")) return pattern === type;
  let re = patternCache.get(pattern);
  if (!re) {
    const body = pattern
      .split("*")
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*");
    re = new RegExp(`^${body}$`, "s");
    if (patternCache.size > 1000) patternCache.clear();
    patternCache.set(pattern, re);
  }
  return re.test(type);
}

const anyType = (patterns: readonly string[], type: string) => patterns.some((p) => typeMatches(p, type));

/** An event with a media URL: the spec's `contains_url` checks for a `url` key; only a string URL is media. */
export function containsUrl(content: JsonObject): boolean {
  return typeof content.url === "string";
}

/**
 * Whether an event passes the filter. Exclusions win over inclusions (`not_types` over
 * `types`, `not_senders` over `senders`, `not_rooms` over `rooms`); an absent list
 * includes everything, an empty `types`/`senders`/`rooms` list includes nothing.
 */
export function eventMatchesFilter(filter: RoomEventFilter, ev: FilterableEvent): boolean {
  if (filter.not_types && anyType(filter.not_types, ev.type)) return false;
  if (filter.types && !anyType(filter.types, ev.type)) return false;
  if (filter.not_senders?.includes(ev.sender)) return false;
  if (filter.senders && !filter.senders.includes(ev.sender)) return false;
  if (ev.room_id !== undefined) {
    if (filter.not_rooms?.includes(ev.room_id)) return false;
    if (filter.rooms && !filter.rooms.includes(ev.room_id)) return false;
  }
  if (filter.contains_url !== undefined && containsUrl(ev.content) !== filter.contains_url) return false;
  return true;
}

/**
 * Whether the filter can be decided without an event's content (only `contains_url`
 * looks at it), so a reader can filter on indexed columns before loading JSON.
 */
export function filterNeedsContent(filter: RoomEventFilter): boolean {
  return filter.contains_url !== undefined;
}

/**
 * The number of events to return: the request's `limit` (or `dflt`), lowered by the
 * filter's `limit`, capped at `max`.
 */
export function effectiveLimit(requested: number | undefined, filter: RoomEventFilter, dflt: number, max: number): number {
  let n = requested ?? dflt;
  if (filter.limit !== undefined) n = Math.min(n, filter.limit);
  return Math.max(0, Math.min(n, max));
}

/**
 * Lazy-loading members: the users whose membership events must accompany a set of
 * events. Without `lazy_load_members` none (the client gets full state elsewhere). With
 * it, every sender, minus those the client already has (`alreadySent`, a per-client
 * cache such as /sync keeps) unless `include_redundant_members` asks for them anyway.
 * Stateless endpoints (/messages, /context) pass no cache and so send every sender.
 */
export function lazyLoadMembers(
  filter: RoomEventFilter,
  senders: Iterable<string>,
  alreadySent?: ReadonlySet<string>,
): string[] {
  if (!filter.lazy_load_members) return [];
  const out = new Set<string>();
  for (const s of senders) {
    if (!filter.include_redundant_members && alreadySent?.has(s)) continue;
    out.add(s);
  }
  return [...out];
}
