/**
 * The request body of simplified sliding sync (MSC4186), validated and normalised.
 * POST /_matrix/client/unstable/org.matrix.simplified_msc3575/sync
 * https://github.com/matrix-org/matrix-spec-proposals/pull/4186
 *
 * Accepted as clients send it today (matrix-rust-sdk / ruma v5, matrix-js-sdk 37): lists
 * with `ranges: [[a, b], …]` and `required_state: [[type, state_key], …]` (`*` wildcards,
 * `$ME`, `$LAZY`); also the MSC's newer shapes (`range: [a, b]`, `required_state:
 * {include, exclude, lazy_members}`). Anything malformed is 400 M_BAD_JSON (wrong JSON
 * shape) or M_INVALID_PARAM (a value out of bounds or not supported).
 */
import { badJson, invalidParam } from "../../errors.ts";
import { isValidRoomId } from "../../identifiers.ts";
import { isJsonObject, type JsonObject, type JsonValue } from "../../json.ts";

/** One (type, state_key) pattern; undefined means "any". `$ME` is resolved by the room. */
export interface StatePattern {
  type?: string;
  stateKey?: string;
}

export interface RequiredState {
  include: StatePattern[];
  exclude: StatePattern[];
  /** Members of timeline senders (and member-event targets) only: `["m.room.member", "$LAZY"]`. */
  lazyMembers: boolean;
}

export interface RoomConfig {
  timelineLimit: number;
  requiredState: RequiredState;
}

export interface ListFilters {
  isDm?: boolean;
  isEncrypted?: boolean;
  isInvite?: boolean;
  /** `null` stands for rooms without a type. */
  roomTypes?: Array<string | null>;
  notRoomTypes?: Array<string | null>;
  tags?: string[];
  notTags?: string[];
  /** Rooms that are children (m.space.child) of any of these spaces the user is joined to; subspaces are not followed. */
  spaces?: string[];
  /** Set by the server from `spaces`: the rooms those spaces name as children (never parsed from a request). */
  inRooms?: ReadonlySet<string>;
}

export interface ListRequest extends RoomConfig {
  /** Inclusive index ranges into the filtered, sorted list; undefined: the whole list. */
  ranges?: Array<[number, number]>;
  filters: ListFilters;
}

/** Which rooms an extension covers: lists by name and subscribed rooms ("*": all). */
export interface ExtensionScope {
  lists: string[] | "*";
  rooms: string[] | "*";
}

export interface SlidingExtensions {
  toDevice?: { since?: number; limit: number };
  e2ee: boolean;
  accountData?: ExtensionScope;
  receipts?: ExtensionScope;
  typing?: ExtensionScope;
}

export interface SlidingRequest {
  connId: string;
  txnId?: string;
  lists: Map<string, ListRequest>;
  subscriptions: Map<string, RoomConfig>;
  extensions: SlidingExtensions;
}

/** Bounds a request must stay within (party/env.ts settings). */
export interface SlidingLimits {
  maxLists: number;
  maxSubscriptions: number;
  maxTimelineLimit: number;
  maxRequiredState: number;
}

/** The MSC's list-count bound; also the default of the setting. */
export const DEFAULT_SLIDING_LIMITS: SlidingLimits = { maxLists: 100, maxSubscriptions: 500, maxTimelineLimit: 500, maxRequiredState: 100 };

/** To-device messages per response when the client gives no limit (as Synapse: 100). */
export const DEFAULT_TO_DEVICE_LIMIT = 100;
const MAX_TO_DEVICE_LIMIT = 1000;
/** Opaque identifiers (list keys, conn_id, txn_id): the spec's grammar, bounded. */
const OPAQUE_ID = /^[A-Za-z0-9._~-]{1,255}$/;
const MAX_TXN_ID = 255;
const MAX_INDEX = 2 ** 31 - 1;

const where = (path: string, what: string) => badJson(`'${path}' ${what}`);

function optBool(o: JsonObject, key: string, path: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw where(`${path}.${key}`, "must be a boolean");
  return v;
}

function int(v: JsonValue | undefined, path: string, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v)) throw where(path, "must be an integer");
  if (v < min || v > max) throw invalidParam(`'${path}' must be between ${min} and ${max}`);
  return v;
}

function strings(v: JsonValue | undefined, path: string, max = 100): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) throw where(path, "must be an array of strings");
  if (v.length > max) throw invalidParam(`'${path}' has more than ${max} entries`);
  return v as string[];
}

function roomTypes(v: JsonValue | undefined, path: string): Array<string | null> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((s) => typeof s === "string" || s === null)) throw where(path, "must be an array of strings or null");
  if (v.length > 100) throw invalidParam(`'${path}' has more than 100 entries`);
  return v as Array<string | null>;
}

function object(v: JsonValue | undefined, path: string): JsonObject | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isJsonObject(v)) throw where(path, "must be an object");
  return v;
}

/** `[[type, state_key], …]` (as clients send it) or `{include, exclude, lazy_members}` (the MSC's newer shape). */
export function parseRequiredState(v: JsonValue | undefined, path: string, max: number): RequiredState {
  const out: RequiredState = { include: [], exclude: [], lazyMembers: false };
  if (v === undefined || v === null) return out;
  if (Array.isArray(v)) {
    if (v.length > max) throw invalidParam(`'${path}' has more than ${max} entries`);
    for (const [i, pair] of v.entries()) {
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== "string" || typeof pair[1] !== "string") {
        throw where(`${path}[${i}]`, "must be a [type, state_key] pair of strings");
      }
      const [type, key] = pair as [string, string];
      if (type === "m.room.member" && key === "$LAZY") {
        out.lazyMembers = true;
        continue;
      }
      const p: StatePattern = {};
      if (type !== "*") p.type = type;
      if (key !== "*") p.stateKey = key;
      out.include.push(p);
    }
    return out;
  }
  const o = object(v, path)!;
  const patterns = (list: JsonValue | undefined, name: string): StatePattern[] => {
    if (list === undefined || list === null) return [];
    if (!Array.isArray(list)) throw where(`${path}.${name}`, "must be an array");
    if (list.length > max) throw invalidParam(`'${path}.${name}' has more than ${max} entries`);
    return list.map((e, i) => {
      const eo = object(e, `${path}.${name}[${i}]`);
      if (!eo) throw where(`${path}.${name}[${i}]`, "must be an object");
      const p: StatePattern = {};
      for (const [k, field] of [["type", "type"], ["state_key", "stateKey"]] as const) {
        const s = eo[k];
        if (s === undefined || s === null) continue;
        if (typeof s !== "string") throw where(`${path}.${name}[${i}].${k}`, "must be a string");
        p[field] = s;
      }
      return p;
    });
  };
  out.include = patterns(o.include, "include");
  out.exclude = patterns(o.exclude, "exclude");
  out.lazyMembers = optBool(o, "lazy_members", path) ?? false;
  return out;
}

function parseRoomConfig(o: JsonObject, path: string, limits: SlidingLimits): RoomConfig {
  return {
    // The server caps the limit (the MSC allows it); 0 is a room list entry without events.
    timelineLimit: Math.min(o.timeline_limit === undefined ? 0 : int(o.timeline_limit, `${path}.timeline_limit`, 0, MAX_INDEX), limits.maxTimelineLimit),
    requiredState: parseRequiredState(o.required_state, `${path}.required_state`, limits.maxRequiredState),
  };
}

function parseRange(v: JsonValue, path: string): [number, number] {
  if (!Array.isArray(v) || v.length !== 2) throw where(path, "must be a [start, end] pair");
  const a = int(v[0], `${path}[0]`, 0, MAX_INDEX);
  const b = int(v[1], `${path}[1]`, 0, MAX_INDEX);
  if (b < a) throw invalidParam(`'${path}' ends before it starts`);
  return [a, b];
}

function parseFilters(v: JsonValue | undefined, path: string): ListFilters {
  const o = object(v, path);
  if (!o) return {};
  // Filters the server cannot apply are refused rather than silently ignored.
  for (const unsupported of ["room_name_like"]) {
    if (o[unsupported] !== undefined && o[unsupported] !== null) throw invalidParam(`'${path}.${unsupported}' is not supported by this server`);
  }
  const f: ListFilters = {};
  const isDm = optBool(o, "is_dm", path);
  if (isDm !== undefined) f.isDm = isDm;
  const isEncrypted = optBool(o, "is_encrypted", path);
  if (isEncrypted !== undefined) f.isEncrypted = isEncrypted;
  // `is_invite` as clients send it; `is_invited` is the MSC's newer name.
  const isInvite = optBool(o, "is_invite", path) ?? optBool(o, "is_invited", path);
  if (isInvite !== undefined) f.isInvite = isInvite;
  const rt = roomTypes(o.room_types, `${path}.room_types`);
  if (rt) f.roomTypes = rt;
  const nrt = roomTypes(o.not_room_types, `${path}.not_room_types`);
  if (nrt) f.notRoomTypes = nrt;
  const tags = strings(o.tags, `${path}.tags`);
  if (tags) f.tags = tags;
  const notTags = strings(o.not_tags, `${path}.not_tags`);
  if (notTags) f.notTags = notTags;
  const spaces = strings(o.spaces, `${path}.spaces`);
  if (spaces) f.spaces = spaces;
  return f;
}

function parseList(v: JsonValue, path: string, limits: SlidingLimits): ListRequest {
  const o = object(v, path);
  if (!o) throw where(path, "must be an object");
  const list: ListRequest = { ...parseRoomConfig(o, path, limits), filters: parseFilters(o.filters, `${path}.filters`) };
  if (o.ranges !== undefined && o.ranges !== null) {
    if (!Array.isArray(o.ranges)) throw where(`${path}.ranges`, "must be an array of [start, end] pairs");
    if (o.ranges.length > 100) throw invalidParam(`'${path}.ranges' has more than 100 ranges`);
    list.ranges = o.ranges.map((r, i) => parseRange(r, `${path}.ranges[${i}]`));
  } else if (o.range !== undefined && o.range !== null) {
    list.ranges = [parseRange(o.range, `${path}.range`)];
  }
  return list;
}

function parseScope(o: JsonObject, path: string): ExtensionScope {
  const lists = strings(o.lists, `${path}.lists`);
  const rooms = strings(o.rooms, `${path}.rooms`, 1000);
  // Unset means every list and every subscription (as MSC3959/3960 read).
  return {
    lists: lists === undefined || lists.includes("*") ? "*" : lists,
    rooms: rooms === undefined || rooms.includes("*") ? "*" : rooms,
  };
}

function enabled(o: JsonObject | undefined, path: string): o is JsonObject {
  return o !== undefined && optBool(o, "enabled", path) === true;
}

function parseExtensions(v: JsonValue | undefined): SlidingExtensions {
  const o = object(v, "extensions");
  const out: SlidingExtensions = { e2ee: false };
  if (!o) return out;
  const toDevice = object(o.to_device, "extensions.to_device");
  if (enabled(toDevice, "extensions.to_device")) {
    const td: NonNullable<SlidingExtensions["toDevice"]> = {
      limit: toDevice.limit === undefined || toDevice.limit === null ? DEFAULT_TO_DEVICE_LIMIT : int(toDevice.limit, "extensions.to_device.limit", 1, MAX_TO_DEVICE_LIMIT),
    };
    const since = toDevice.since;
    if (since !== undefined && since !== null) {
      if (typeof since !== "string" || !/^\d{1,15}$/.test(since)) throw invalidParam("'extensions.to_device.since' is not a to-device position of this server");
      td.since = Number(since);
    }
    out.toDevice = td;
  }
  out.e2ee = enabled(object(o.e2ee, "extensions.e2ee"), "extensions.e2ee");
  for (const [key, field] of [["account_data", "accountData"], ["receipts", "receipts"], ["typing", "typing"]] as const) {
    const ext = object(o[key], `extensions.${key}`);
    if (enabled(ext, `extensions.${key}`)) out[field] = parseScope(ext, `extensions.${key}`);
  }
  return out;
}

/** The request body (already parsed as JSON), or a Matrix error. */
export function parseSlidingRequest(body: JsonValue, limits: SlidingLimits = DEFAULT_SLIDING_LIMITS): SlidingRequest {
  if (!isJsonObject(body)) throw badJson("Request body must be a JSON object");
  const connId = body.conn_id ?? "";
  if (typeof connId !== "string") throw where("conn_id", "must be a string");
  if (connId !== "" && !OPAQUE_ID.test(connId)) throw invalidParam("'conn_id' must be an opaque identifier (at most 255 of A-Z a-z 0-9 . _ ~ -)");
  const req: SlidingRequest = { connId, lists: new Map(), subscriptions: new Map(), extensions: parseExtensions(body.extensions) };
  if (body.txn_id !== undefined && body.txn_id !== null) {
    if (typeof body.txn_id !== "string") throw where("txn_id", "must be a string");
    if (body.txn_id.length > MAX_TXN_ID) throw invalidParam(`'txn_id' is longer than ${MAX_TXN_ID} characters`);
    req.txnId = body.txn_id;
  }
  const lists = object(body.lists, "lists");
  if (lists) {
    const keys = Object.keys(lists);
    if (keys.length > limits.maxLists) throw invalidParam(`at most ${limits.maxLists} lists`);
    for (const key of keys) {
      if (!OPAQUE_ID.test(key)) throw invalidParam(`list key '${key.slice(0, 64)}' must be an opaque identifier`);
      req.lists.set(key, parseList(lists[key]!, `lists.${key}`, limits));
    }
  }
  const subs = object(body.room_subscriptions, "room_subscriptions");
  if (subs) {
    const ids = Object.keys(subs);
    if (ids.length > limits.maxSubscriptions) throw invalidParam(`at most ${limits.maxSubscriptions} room subscriptions`);
    for (const roomId of ids) {
      if (!isValidRoomId(roomId)) throw invalidParam(`'room_subscriptions' key '${roomId.slice(0, 64)}' is not a room ID`);
      const o = object(subs[roomId], `room_subscriptions.${roomId}`);
      if (!o) throw where(`room_subscriptions.${roomId}`, "must be an object");
      req.subscriptions.set(roomId, parseRoomConfig(o, `room_subscriptions.${roomId}`, limits));
    }
  }
  return req;
}
