/**
 * The directory endpoints' requests, validated: `GET`/`POST /publicRooms` and
 * `POST /user_directory/search`.
 * https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3publicrooms,
 * https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3publicrooms,
 * https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3user_directorysearch
 */
import { badJson, invalidParam, missingParam } from "../errors.ts";
import { isValidServerName } from "../identifiers.ts";
import { isJsonObject, type JsonObject, type JsonValue } from "../json.ts";
import { parseDirectoryToken, type DirectoryToken } from "./pagination.ts";

/** Without a limit a page holds this many rooms (next_batch says when more follow). */
export const DEFAULT_ROOMS_LIMIT = 100;
export const MAX_ROOMS_LIMIT = 500;
/** `filter.room_types` entries beyond this are refused (each is a bound SQL parameter). */
export const MAX_ROOM_TYPES = 20;
export const DEFAULT_USERS_LIMIT = 10;
export const MAX_USERS_LIMIT = 100;
/** Longer search terms are refused rather than cut silently. */
export const MAX_SEARCH_TERM_LENGTH = 512;

/**
 * Which published lists to read: the server's own (the default), every list including the
 * appservices' networks (`include_all_networks`), or one network (`third_party_instance_id`,
 * the `instance_id` of a protocol instance, `<appservice id>|<network id>` here).
 */
export type NetworkScope = { kind: "local" } | { kind: "all" } | { kind: "instance"; instanceId: string };

export interface PublicRoomsQuery {
  limit: number;
  since?: DirectoryToken;
  /** The `server` parameter when it names a server (the caller compares it with its own name). */
  server?: string;
  /** The generic search term when it is not blank. */
  searchTerm?: string;
  /** `filter.room_types` when given and non-empty; `null` stands for rooms without a type. */
  roomTypes?: Array<string | null>;
  scope: NetworkScope;
}

function limitOf(v: JsonValue | undefined, dflt: number, max: number): number {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== "number" || !Number.isInteger(v)) throw invalidParam("'limit' must be an integer");
  if (v < 1) throw invalidParam("'limit' must be at least 1");
  return Math.min(v, max);
}

function serverOf(v: string | null | undefined): string | undefined {
  if (v === null || v === undefined || v === "") return undefined;
  if (!isValidServerName(v)) throw invalidParam(`${JSON.stringify(v)} is not a valid server name`);
  return v;
}

function scopeOf(includeAll: boolean, instanceId: string | undefined): NetworkScope {
  if (instanceId !== undefined) {
    if (includeAll) throw invalidParam("'third_party_instance_id' can only be used when 'include_all_networks' is false");
    return { kind: "instance", instanceId };
  }
  return includeAll ? { kind: "all" } : { kind: "local" };
}

/** GET /publicRooms: `limit`, `since`, `server` (and, as Synapse reads them, the network parameters). */
export function parsePublicRoomsGet(params: URLSearchParams): PublicRoomsQuery {
  const rawLimit = params.get("limit");
  let limit = DEFAULT_ROOMS_LIMIT;
  if (rawLimit !== null && rawLimit !== "") {
    if (!/^-?\d{1,9}$/.test(rawLimit)) throw invalidParam("'limit' must be an integer");
    limit = limitOf(Number(rawLimit), DEFAULT_ROOMS_LIMIT, MAX_ROOMS_LIMIT);
  }
  const since = params.get("since");
  const all = params.get("include_all_networks");
  if (all !== null && all !== "true" && all !== "false") throw invalidParam("'include_all_networks' must be true or false");
  const query: PublicRoomsQuery = { limit, scope: scopeOf(all === "true", params.get("third_party_instance_id") ?? undefined) };
  if (since !== null && since !== "") query.since = parseDirectoryToken(since);
  const server = serverOf(params.get("server"));
  if (server !== undefined) query.server = server;
  return query;
}

/** POST /publicRooms: the body's `limit`, `since`, `filter`, network fields; `server` from the query string. */
export function parsePublicRoomsPost(body: JsonObject, params: URLSearchParams): PublicRoomsQuery {
  const since = body.since;
  if (since !== undefined && since !== null && typeof since !== "string") throw badJson("'since' must be a string");
  const all = body.include_all_networks ?? false;
  if (typeof all !== "boolean") throw badJson("'include_all_networks' must be a boolean");
  const instance = body.third_party_instance_id;
  if (instance !== undefined && instance !== null && typeof instance !== "string") throw badJson("'third_party_instance_id' must be a string");
  const query: PublicRoomsQuery = {
    limit: limitOf(body.limit, DEFAULT_ROOMS_LIMIT, MAX_ROOMS_LIMIT),
    scope: scopeOf(all, typeof instance === "string" ? instance : undefined),
  };
  if (typeof since === "string" && since !== "") query.since = parseDirectoryToken(since);
  const server = serverOf(params.get("server"));
  if (server !== undefined) query.server = server;

  const filter = body.filter;
  if (filter !== undefined && filter !== null) {
    if (!isJsonObject(filter)) throw badJson("'filter' must be an object");
    const term = filter.generic_search_term;
    if (term !== undefined && term !== null) {
      if (typeof term !== "string") throw badJson("'filter.generic_search_term' must be a string");
      if (term.length > MAX_SEARCH_TERM_LENGTH) throw invalidParam(`'filter.generic_search_term' is longer than ${MAX_SEARCH_TERM_LENGTH} characters`);
      if (term.trim() !== "") query.searchTerm = term;
    }
    const types = filter.room_types;
    if (types !== undefined && types !== null) {
      if (!Array.isArray(types) || types.some((t) => t !== null && typeof t !== "string")) {
        throw badJson("'filter.room_types' must be a list of strings and nulls");
      }
      const unique = [...new Set(types as Array<string | null>)];
      if (unique.length > MAX_ROOM_TYPES) throw invalidParam(`'filter.room_types' may list at most ${MAX_ROOM_TYPES} types`);
      // An empty list is "not specified": every room, whatever its type.
      if (unique.length > 0) query.roomTypes = unique;
    }
  }
  return query;
}

export interface UserSearchQuery {
  searchTerm: string;
  limit: number;
}

/** POST /user_directory/search: `search_term` (required) and `limit` (default 10). */
export function parseUserSearch(body: JsonObject): UserSearchQuery {
  const term = body.search_term;
  if (term === undefined || term === null) throw missingParam("Missing 'search_term'");
  if (typeof term !== "string") throw badJson("'search_term' must be a string");
  if (term.length > MAX_SEARCH_TERM_LENGTH) throw invalidParam(`'search_term' is longer than ${MAX_SEARCH_TERM_LENGTH} characters`);
  return { searchTerm: term, limit: limitOf(body.limit, DEFAULT_USERS_LIMIT, MAX_USERS_LIMIT) };
}
