/**
 * Room history reads, relations, threads, typing, receipts and read markers: parse and
 * check the request, one call to the Room actor (read markers: then the User actor for
 * m.fully_read, which is room account data).
 * https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3roomsroomidmessages
 */
import { MatrixError } from "../../lib/errors.ts";
import { parseRoomEventFilterParam } from "../../lib/event-filter.ts";
import type { Membership } from "../../lib/history-visibility.ts";
import { isValidEventId, isValidRoomId, isValidUserId } from "../../lib/identifiers.ts";
import type { JsonObject } from "../../lib/json.ts";
import type { Direction } from "../../lib/pagination-token.ts";
import { receiptThreadId, typingBody } from "../room/ephemeral.ts";
import { roomActor, userActor } from "../stubs.ts";
import { body, opt, optionalBody } from "./account.ts";
import { authenticate } from "./auth.ts";
import { json } from "./http.ts";
import type { EdgeRequest } from "./router.ts";

const invalid = (msg: string) => new MatrixError("M_INVALID_PARAM", 400, msg);

function roomIdParam(r: EdgeRequest): string {
  const id = r.params.roomId!;
  if (!isValidRoomId(id)) throw invalid(`${JSON.stringify(id)} is not a valid room ID`);
  return id;
}

function eventIdParam(r: EdgeRequest, name = "eventId"): string {
  const id = r.params[name]!;
  if (!isValidEventId(id)) throw invalid(`${JSON.stringify(id)} is not a valid event ID`);
  return id;
}

function query(r: EdgeRequest, name: string): string | undefined {
  return r.url.searchParams.get(name) ?? undefined;
}

function dirParam(r: EdgeRequest, required: boolean): Direction | undefined {
  const d = query(r, "dir");
  if (d === undefined) {
    if (required) throw new MatrixError("M_MISSING_PARAM", 400, "Missing 'dir' (b or f)");
    return undefined;
  }
  if (d !== "b" && d !== "f") throw invalid("dir must be 'b' or 'f'");
  return d;
}

/** A non-negative integer query parameter (`min` raises the floor). */
function intParam(r: EdgeRequest, name: string, min = 0): number | undefined {
  const v = query(r, name);
  if (v === undefined) return undefined;
  if (!/^-?\d{1,16}$/.test(v) || Number(v) < min || !Number.isSafeInteger(Number(v))) {
    throw invalid(`${name} must be an integer ≥ ${min}`);
  }
  return Number(v);
}

function boolParam(r: EdgeRequest, name: string): boolean | undefined {
  const v = query(r, name);
  if (v === undefined) return undefined;
  if (v !== "true" && v !== "false") throw invalid(`${name} must be true or false`);
  return v === "true";
}

const MEMBERSHIPS = new Set(["join", "invite", "knock", "leave", "ban"]);
function membershipParam(r: EdgeRequest, name: string): Membership | undefined {
  const v = query(r, name);
  if (v === undefined) return undefined;
  if (!MEMBERSHIPS.has(v)) throw invalid(`${name} must be one of join, invite, knock, leave, ban`);
  return v as Membership;
}

const reply = (v: unknown) => json(v as JsonObject);

// GET /_matrix/client/v3/rooms/{roomId}/messages
export async function getMessages(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const roomId = roomIdParam(r);
  const p = {
    requester: me.userId,
    deviceId: me.deviceId,
    dir: dirParam(r, true)!,
    from: query(r, "from"),
    to: query(r, "to"),
    limit: intParam(r, "limit"),
    filter: parseRoomEventFilterParam(query(r, "filter") ?? null),
  };
  return reply(await roomActor(r.env, roomId).messages(p));
}

// GET /_matrix/client/v3/rooms/{roomId}/context/{eventId}
export async function getContext(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const roomId = roomIdParam(r);
  const p = {
    requester: me.userId,
    deviceId: me.deviceId,
    eventId: eventIdParam(r),
    limit: intParam(r, "limit"),
    filter: parseRoomEventFilterParam(query(r, "filter") ?? null),
  };
  return reply(await roomActor(r.env, roomId).context(p));
}

// GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event
export async function getTimestampToEvent(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const roomId = roomIdParam(r);
  const ts = intParam(r, "ts");
  if (ts === undefined) throw new MatrixError("M_MISSING_PARAM", 400, "Missing 'ts'");
  return reply(await roomActor(r.env, roomId).timestampToEvent({ requester: me.userId, ts, dir: dirParam(r, true)! }));
}

// GET /_matrix/client/v3/rooms/{roomId}/members
export async function getMembers(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const roomId = roomIdParam(r);
  const p = {
    requester: me.userId,
    deviceId: me.deviceId,
    at: query(r, "at"),
    membership: membershipParam(r, "membership"),
    notMembership: membershipParam(r, "not_membership"),
  };
  return reply(await roomActor(r.env, roomId).members(p));
}

// GET /_matrix/client/v3/rooms/{roomId}/joined_members
export async function getJoinedMembers(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  return reply(await roomActor(r.env, roomIdParam(r)).joinedMembers({ requester: me.userId }));
}

// GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}
// GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}/{relType}
// GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}/{relType}/{eventType}
export async function getRelations(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const roomId = roomIdParam(r);
  const p = {
    requester: me.userId,
    deviceId: me.deviceId,
    eventId: eventIdParam(r),
    relType: r.params.relType,
    eventType: r.params.eventType,
    from: query(r, "from"),
    to: query(r, "to"),
    limit: intParam(r, "limit"),
    dir: dirParam(r, false),
    recurse: boolParam(r, "recurse"),
  };
  return reply(await roomActor(r.env, roomId).relations(p));
}

// GET /_matrix/client/v1/rooms/{roomId}/threads
export async function getThreads(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const roomId = roomIdParam(r);
  const include = query(r, "include");
  if (include !== undefined && include !== "all" && include !== "participated") throw invalid("include must be 'all' or 'participated'");
  const p = {
    requester: me.userId,
    deviceId: me.deviceId,
    include: include as "all" | "participated" | undefined,
    from: query(r, "from"),
    limit: intParam(r, "limit", 1),
  };
  return reply(await roomActor(r.env, roomId).threads(p));
}

// PUT /_matrix/client/v3/rooms/{roomId}/typing/{userId}
export async function putTyping(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const roomId = roomIdParam(r);
  const userId = r.params.userId!;
  if (!isValidUserId(userId)) throw invalid(`${JSON.stringify(userId)} is not a valid user ID`);
  if (userId !== me.userId) throw new MatrixError("M_FORBIDDEN", 403, "Cannot set another user's typing state");
  const t = typingBody(await body(r));
  return reply(await roomActor(r.env, roomId).setTyping({ userId, typing: t.typing, timeout: t.timeout }));
}

// POST /_matrix/client/v3/rooms/{roomId}/receipt/{receiptType}/{eventId}
export async function postReceipt(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const roomId = roomIdParam(r);
  const eventId = eventIdParam(r);
  const type = r.params.receiptType!;
  const threadId = receiptThreadId(await optionalBody(r));
  if (type === "m.fully_read") {
    if (threadId !== undefined) throw invalid("thread_id is not allowed for m.fully_read");
    return setFullyRead(r, me.userId, roomId, { fullyRead: eventId });
  }
  if (type !== "m.read" && type !== "m.read.private") throw invalid("receipt type must be m.read, m.read.private or m.fully_read");
  return reply(await roomActor(r.env, roomId).sendReceipt({ userId: me.userId, receiptType: type, eventId, threadId }));
}

// POST /_matrix/client/v3/rooms/{roomId}/read_markers
export async function postReadMarkers(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const roomId = roomIdParam(r);
  const b = await body(r);
  const ids: { fullyRead?: string; read?: string; readPrivate?: string } = {
    fullyRead: opt(b, "m.fully_read", "string"),
    read: opt(b, "m.read", "string"),
    readPrivate: opt(b, "m.read.private", "string"),
  };
  for (const id of Object.values(ids)) if (id !== undefined && !isValidEventId(id)) throw invalid(`${JSON.stringify(id)} is not a valid event ID`);
  return setFullyRead(r, me.userId, roomId, ids);
}

/** The room checks every event (and stores receipts) first, then m.fully_read goes to the user's account data. */
async function setFullyRead(r: EdgeRequest, userId: string, roomId: string, ids: { fullyRead?: string; read?: string; readPrivate?: string }) {
  await roomActor(r.env, roomId).setReadMarkers({ userId, ...ids });
  if (ids.fullyRead !== undefined) await userActor(r.env, userId).setAccountData(roomId, "m.fully_read", { event_id: ids.fullyRead });
  return json({});
}
