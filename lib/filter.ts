/**
 * Filter definitions for /sync and /messages: validation of the JSON a client uploads.
 * https://spec.matrix.org/v1.19/client-server-api/#filtering
 *
 * Field types follow the spec's Filter / EventFilter / RoomFilter / RoomEventFilter /
 * StateFilter schemas. Unknown keys are kept (clients and later spec versions add
 * fields); known keys with the wrong type are rejected with M_BAD_JSON, naming the path.
 */
import { MatrixError } from "./errors.ts";
import { isJsonObject, type JsonObject, type JsonValue } from "./json.ts";

export interface EventFilter {
  limit?: number;
  not_senders?: string[];
  not_types?: string[];
  senders?: string[];
  types?: string[];
}

export interface RoomEventFilter extends EventFilter {
  contains_url?: boolean;
  include_redundant_members?: boolean;
  lazy_load_members?: boolean;
  not_rooms?: string[];
  rooms?: string[];
  unread_thread_notifications?: boolean;
}

export type StateFilter = RoomEventFilter;

export interface RoomFilter {
  account_data?: RoomEventFilter;
  ephemeral?: RoomEventFilter;
  include_leave?: boolean;
  not_rooms?: string[];
  rooms?: string[];
  state?: StateFilter;
  timeline?: RoomEventFilter;
}

export interface Filter {
  account_data?: EventFilter;
  event_fields?: string[];
  event_format?: "client" | "federation";
  presence?: EventFilter;
  room?: RoomFilter;
}

/** Largest `limit` accepted; a filter is a hint and servers cap what they return anyway. */
export const MAX_FILTER_LIMIT = 1_000_000;

const bad = (path: string, what: string) => new MatrixError("M_BAD_JSON", 400, `${path} ${what}`);

function stringArray(v: JsonValue, path: string, sigil?: string): void {
  if (!Array.isArray(v)) throw bad(path, "must be an array of strings");
  v.forEach((s, i) => {
    if (typeof s !== "string") throw bad(`${path}[${i}]`, "must be a string");
    if (sigil && !s.startsWith(sigil)) throw bad(`${path}[${i}]`, `must start with '${sigil}'`);
  });
}

function object(v: JsonValue, path: string): JsonObject {
  if (!isJsonObject(v)) throw bad(path, "must be an object");
  return v;
}

function eventFilter(o: JsonObject, path: string): void {
  for (const [k, v] of Object.entries(o)) {
    const p = `${path}.${k}`;
    switch (k) {
      case "limit":
        // The spec says integer; zero or negative limits are meaningless, so refuse them.
        if (typeof v !== "number" || !Number.isInteger(v)) throw bad(p, "must be an integer");
        if (v < 1 || v > MAX_FILTER_LIMIT) throw bad(p, `must be between 1 and ${MAX_FILTER_LIMIT}`);
        break;
      case "senders":
      case "not_senders":
        stringArray(v, p, "@");
        break;
      case "types":
      case "not_types":
        stringArray(v, p);
        break;
    }
  }
}

function roomEventFilter(v: JsonValue, path: string): void {
  const o = object(v, path);
  eventFilter(o, path);
  for (const [k, val] of Object.entries(o)) {
    const p = `${path}.${k}`;
    switch (k) {
      case "contains_url":
      case "include_redundant_members":
      case "lazy_load_members":
      case "unread_thread_notifications":
        if (typeof val !== "boolean") throw bad(p, "must be a boolean");
        break;
      case "rooms":
      case "not_rooms":
        stringArray(val, p, "!");
        break;
    }
  }
}

function roomFilter(v: JsonValue, path: string): void {
  const o = object(v, path);
  for (const [k, val] of Object.entries(o)) {
    const p = `${path}.${k}`;
    switch (k) {
      case "account_data":
      case "ephemeral":
      case "state":
      case "timeline":
        roomEventFilter(val, p);
        break;
      case "include_leave":
        if (typeof val !== "boolean") throw bad(p, "must be a boolean");
        break;
      case "rooms":
      case "not_rooms":
        stringArray(val, p, "!");
        break;
    }
  }
}

/**
 * Check an uploaded filter against the spec's schema and return it typed. Throws
 * MatrixError M_BAD_JSON (400) describing the first offending field.
 */
export function validateFilter(v: unknown): Filter {
  if (!isJsonObject(v)) throw bad("filter", "must be a JSON object");
  for (const [k, val] of Object.entries(v)) {
    switch (k) {
      case "account_data":
      case "presence":
        eventFilter(object(val, k), k);
        break;
      case "room":
        roomFilter(val, k);
        break;
      case "event_fields":
        stringArray(val, k);
        break;
      case "event_format":
        if (val !== "client" && val !== "federation") {
          throw bad(k, "must be 'client' or 'federation'");
        }
        break;
    }
  }
  return v as Filter;
}

/**
 * Check a RoomEventFilter on its own (the `filter` parameter of /messages and /context)
 * and return it typed; M_BAD_JSON (400) naming the first offending field under `path`.
 */
export function validateRoomEventFilter(v: unknown, path = "filter"): RoomEventFilter {
  if (!isJsonObject(v)) throw bad(path, "must be a JSON object");
  roomEventFilter(v, path);
  return v as RoomEventFilter;
}

/**
 * Filter IDs are opaque to clients, but the `filter` query parameter of /sync takes either
 * an ID or inline JSON, told apart by a leading "{" — so an ID must never start with one.
 */
export function isValidFilterId(id: string): boolean {
  return id.length > 0 && id.length <= 255 && !id.startsWith("{");
}
