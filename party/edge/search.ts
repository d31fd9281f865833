/**
 * POST /_matrix/client/v3/search: server-side search of room events in the rooms the user
 * is joined to. Each room answers from its own full-text index (party/room/search.ts); this
 * handler validates the criteria, fans out to the rooms a few at a time, merges their
 * results in one order — (rank or timestamp, room ID, stream) descending — and pages by a
 * token naming the last result returned.
 * https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3search
 *
 * `count` is the sum of each room's visible matches among the SEARCH_SCAN_LIMIT it examined:
 * exact for searches matching fewer events, a lower bound otherwise.
 */
import { searchWords } from "../../lib/directory/search-terms.ts";
import { badJson, invalidParam, MatrixError } from "../../lib/errors.ts";
import { validateRoomEventFilter, type RoomEventFilter } from "../../lib/filter.ts";
import { isJsonObject, type JsonObject, type JsonValue } from "../../lib/json.ts";
import type { RoomSearchHit, RoomSearchRequest, RoomSearchResult, SearchKey, SearchOrder } from "../room/search.ts";
import { roomActor, userActor } from "../stubs.ts";
import { body } from "./account.ts";
import { asMatrixError, json } from "./http.ts";
import { authenticate } from "./auth.ts";
import type { EdgeRequest } from "./router.ts";

/** The Room RPCs used here, typed by hand (JsonObject inside is too deep for the stub types). */
interface SearchRpc {
  search(p: RoomSearchRequest): Promise<RoomSearchResult>;
  state(p: { requester: string; deviceId?: string }): Promise<JsonObject[]>;
}

const ALL_KEYS: SearchKey[] = ["content.body", "content.name", "content.topic"];
const DEFAULT_LIMIT = 10;
/** Largest page (`filter.limit` above it is capped). */
export const MAX_LIMIT = 100;
/** Largest `before_limit` / `after_limit` of `event_context`. */
export const MAX_CONTEXT = 20;
const DEFAULT_CONTEXT = 5;
/** Rooms searched at once. */
const ROOM_CONCURRENCY = 8;

interface PageToken {
  order: SearchOrder;
  key: number;
  roomId: string;
  stream: number;
}

function encodeToken(t: PageToken): string {
  return btoa(JSON.stringify([t.order, t.key, t.roomId, t.stream])).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function decodeToken(raw: string): PageToken {
  const bad = () => invalidParam("Unknown 'next_batch' token");
  let v: unknown;
  try {
    v = JSON.parse(atob(raw.replace(/-/g, "+").replace(/_/g, "/")));
  } catch {
    throw bad();
  }
  if (!Array.isArray(v) || v.length !== 4) throw bad();
  const [order, key, roomId, stream] = v as unknown[];
  if ((order !== "rank" && order !== "recent") || typeof key !== "number" || !Number.isFinite(key) || typeof roomId !== "string" || typeof stream !== "number" || !Number.isSafeInteger(stream)) {
    throw bad();
  }
  return { order, key, roomId, stream };
}

function optionalBool(o: JsonObject, name: string, path: string): boolean | undefined {
  const v = o[name];
  if (v !== undefined && typeof v !== "boolean") throw badJson(`${path}.${name} must be a boolean`);
  return v;
}

function contextLimit(o: JsonObject, name: string): number {
  const v = o[name];
  if (v === undefined) return DEFAULT_CONTEXT;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) throw invalidParam(`event_context.${name} must be a non-negative integer`);
  return Math.min(v, MAX_CONTEXT);
}

interface Criteria {
  words: string[];
  keys: SearchKey[];
  filter: RoomEventFilter;
  orderBy: SearchOrder;
  context?: RoomSearchRequest["context"];
  includeState: boolean;
  groupBy: Array<"room_id" | "sender">;
}

function criteria(c: JsonValue | undefined): Criteria {
  if (!isJsonObject(c)) throw badJson("search_categories.room_events must be an object");
  const p = "search_categories.room_events";
  if (typeof c.search_term !== "string") throw new MatrixError("M_MISSING_PARAM", 400, `${p}.search_term is required (a string)`);
  let keys = ALL_KEYS;
  if (c.keys !== undefined) {
    if (!Array.isArray(c.keys) || c.keys.some((k) => typeof k !== "string" || !ALL_KEYS.includes(k as SearchKey))) {
      throw invalidParam(`${p}.keys must list content.body, content.name or content.topic`);
    }
    keys = [...new Set(c.keys as SearchKey[])];
  }
  const orderBy = c.order_by ?? "rank";
  if (orderBy !== "rank" && orderBy !== "recent") throw invalidParam(`${p}.order_by must be rank or recent`);
  const filter = c.filter === undefined ? {} : validateRoomEventFilter(c.filter, `${p}.filter`);
  let context: Criteria["context"];
  if (c.event_context !== undefined) {
    if (!isJsonObject(c.event_context)) throw badJson(`${p}.event_context must be an object`);
    const e = c.event_context;
    context = { before: contextLimit(e, "before_limit"), after: contextLimit(e, "after_limit"), includeProfile: optionalBool(e, "include_profile", `${p}.event_context`) ?? false };
  }
  const groupBy: Criteria["groupBy"] = [];
  if (c.groupings !== undefined) {
    if (!isJsonObject(c.groupings)) throw badJson(`${p}.groupings must be an object`);
    const g = c.groupings.group_by ?? [];
    if (!Array.isArray(g)) throw badJson(`${p}.groupings.group_by must be an array`);
    for (const item of g) {
      if (!isJsonObject(item) || (item.key !== "room_id" && item.key !== "sender")) throw invalidParam(`${p}.groupings.group_by keys are room_id or sender`);
      groupBy.push(item.key);
    }
  }
  return { words: searchWords(c.search_term), keys, filter, orderBy, context, includeState: optionalBool(c, "include_state", p) ?? false, groupBy };
}

type Hit = RoomSearchHit & { roomId: string };

/** The merged order: key, then room ID, then stream, all descending. */
function compareHits(a: Hit, b: Hit): number {
  if (a.key !== b.key) return b.key - a.key;
  if (a.roomId !== b.roomId) return a.roomId < b.roomId ? 1 : -1;
  return b.stream - a.stream;
}

// POST /_matrix/client/v3/search
export async function search(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const req = await body(r);
  const categories = req.search_categories;
  if (!isJsonObject(categories)) throw new MatrixError("M_MISSING_PARAM", 400, "search_categories is required (an object)");
  // Only room_events is a category (the others were removed from the spec).
  if (categories.room_events === undefined) return json({ search_categories: {} });
  const c = criteria(categories.room_events);
  const nextBatch = r.url.searchParams.get("next_batch");
  const token = nextBatch === null ? undefined : decodeToken(nextBatch);
  if (token && token.order !== c.orderBy) throw invalidParam("'order_by' cannot change while paginating");
  const limit = Math.min(c.filter.limit ?? DEFAULT_LIMIT, MAX_LIMIT);

  const out: JsonObject = { count: 0, highlights: c.words, results: [] };
  if (c.words.length === 0 || limit === 0) return json({ search_categories: { room_events: out } });

  let rooms = await userActor(r.env, me.userId).joinedRooms();
  if (c.filter.rooms) rooms = rooms.filter((id) => c.filter.rooms!.includes(id));
  if (c.filter.not_rooms) rooms = rooms.filter((id) => !c.filter.not_rooms!.includes(id));

  const hits: Hit[] = [];
  let count = 0;
  let more = false;
  let next = 0;
  const worker = async () => {
    while (next < rooms.length) {
      const roomId = rooms[next++]!;
      const after = token && { key: token.key, roomCmp: roomId < token.roomId ? -1 : roomId > token.roomId ? 1 : 0, stream: token.stream };
      const p: RoomSearchRequest = {
        userId: me.userId,
        deviceId: me.deviceId || undefined,
        words: c.words,
        keys: c.keys,
        filter: c.filter,
        orderBy: c.orderBy,
        limit,
        scanLimit: r.config.searchScanLimit,
        indexBudget: r.config.searchIndexBudget,
        ...(after ? { after } : {}),
        ...(c.context ? { context: c.context } : {}),
      };
      try {
        const res = await (roomActor(r.env, roomId) as unknown as SearchRpc).search(p);
        count += res.count;
        more ||= res.more;
        for (const h of res.hits) hits.push({ ...h, roomId });
      } catch (e) {
        // A room that cannot answer (gone, or failing) drops out of the results rather than failing the search.
        if (asMatrixError(e)?.errcode !== "M_NOT_FOUND") console.error(`search: room ${roomId} unavailable`, e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(ROOM_CONCURRENCY, rooms.length) }, worker));

  hits.sort(compareHits);
  const page = hits.slice(0, limit);
  out.count = count;
  out.results = page.map((h) => {
    const item: JsonObject = { rank: h.rank, result: h.result };
    if (h.context) item.context = h.context;
    return item;
  });
  const last = page[page.length - 1];
  const nextToken = last && (more || hits.length > limit) ? encodeToken({ order: c.orderBy, key: last.key, roomId: last.roomId, stream: last.stream }) : undefined;
  if (nextToken) out.next_batch = nextToken;

  if (c.includeState) {
    const state: JsonObject = {};
    for (const roomId of new Set(page.map((h) => h.roomId))) {
      state[roomId] = (await (roomActor(r.env, roomId) as unknown as SearchRpc).state({ requester: me.userId, deviceId: me.deviceId || undefined })) as unknown as JsonValue;
    }
    out.state = state;
  }
  if (c.groupBy.length > 0) {
    const groups: JsonObject = {};
    for (const key of c.groupBy) {
      const byValue: Record<string, { results: string[]; order: number; next_batch?: string }> = {};
      for (const h of page) {
        const value = key === "room_id" ? h.roomId : String(h.result.sender);
        const g = (byValue[value] ??= { results: [], order: Object.keys(byValue).length + 1 });
        g.results.push(String(h.result.event_id));
        if (nextToken) g.next_batch = nextToken;
      }
      groups[key] = byValue as unknown as JsonValue;
    }
    out.groups = groups;
  }
  return json({ search_categories: { room_events: out } });
}
