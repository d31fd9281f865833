/**
 * Reporting content: events, rooms and users reported to the server's operators, stored in
 * D1's `reports` table (schema/d1/0004_reports.sql) for them to read.
 * https://spec.matrix.org/v1.19/client-server-api/#reporting-content
 *
 * Every report is rate limited per reporter (RATE_REPORT_*), before anything is looked up,
 * so the 404 answers cannot be used to probe rooms, events or users at speed. An event
 * report needs the reporter joined to the room and the event visible to them (history
 * visibility): anything else is the same 404 M_NOT_FOUND, as the spec describes.
 */
import { MatrixError, notFound } from "../../lib/errors.ts";
import { isValidEventId, isValidRoomId, parseUserId } from "../../lib/identifiers.ts";
import type { JsonObject } from "../../lib/json.ts";
import { roomActor, userActor } from "../stubs.ts";
import { body } from "./account.ts";
import { authenticate } from "./auth.ts";
import { asMatrixError, json } from "./http.ts";
import { rateLimit } from "./rate-limit.ts";
import type { EdgeRequest } from "./router.ts";

/**
 * The Room RPC used here, typed by hand: workers-types maps its `Record<string, unknown>`
 * result to `never` through the stub types.
 */
interface EventRpc {
  event(p: { requester: string; eventId: string }): Promise<{ sender?: unknown }>;
}

interface Report {
  kind: "event" | "room" | "user";
  reporter: string;
  roomId?: string;
  eventId?: string;
  targetUserId?: string;
  reason: string | null;
}

/** `reason` from the body: a string of at most REPORT_REASON_MAX_LENGTH characters ("" allowed). */
function reasonOf(r: EdgeRequest, content: JsonObject, required: boolean): string | null {
  const reason = content.reason;
  if (reason === undefined) {
    if (required) throw new MatrixError("M_MISSING_PARAM", 400, "'reason' is required");
    return null;
  }
  if (typeof reason !== "string") throw new MatrixError("M_BAD_JSON", 400, "'reason' must be a string");
  const max = r.config.reportReasonMaxLength;
  // Counted in code points, as a user would count characters.
  if ([...reason].length > max) throw new MatrixError("M_INVALID_PARAM", 400, `'reason' is longer than ${max} characters`);
  return reason;
}

async function store(r: EdgeRequest, rep: Report): Promise<void> {
  await r.env.DB.prepare(
    "INSERT INTO reports (kind, reporter, room_id, event_id, target_user_id, reason, received_ts) VALUES (?, ?, ?, ?, ?, ?, ?)",
  )
    .bind(rep.kind, rep.reporter, rep.roomId ?? null, rep.eventId ?? null, rep.targetUserId ?? null, rep.reason, Date.now())
    .run();
}

function roomIdParam(r: EdgeRequest): string {
  const roomId = r.params.roomId!;
  if (!isValidRoomId(roomId)) throw new MatrixError("M_INVALID_PARAM", 400, "Invalid room ID");
  return roomId;
}

// POST /_matrix/client/v3/rooms/{roomId}/report/{eventId}
export async function reportEvent(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const roomId = roomIdParam(r);
  const eventId = r.params.eventId!;
  if (!isValidEventId(eventId)) throw new MatrixError("M_INVALID_PARAM", 400, "Invalid event ID");
  const reason = reasonOf(r, await body(r), false);
  await rateLimit(r, "report", me);
  const room = roomActor(r.env, roomId);
  const notThere = () => notFound("The event was not found or you are not joined to the room");
  if ((await room.membership(me.userId)) !== "join") throw notThere();
  let sender: unknown;
  try {
    sender = (await (room as unknown as EventRpc).event({ requester: me.userId, eventId })).sender;
  } catch (e) {
    if (asMatrixError(e)?.errcode === "M_NOT_FOUND") throw notThere();
    throw e;
  }
  await store(r, { kind: "event", reporter: me.userId, roomId, eventId, targetUserId: typeof sender === "string" ? sender : undefined, reason });
  return json({});
}

// POST /_matrix/client/v3/rooms/{roomId}/report
export async function reportRoom(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const roomId = roomIdParam(r);
  const reason = reasonOf(r, await body(r), true);
  await rateLimit(r, "report", me);
  // The reporter need not be a member: only the room's existence here is checked.
  if ((await roomActor(r.env, roomId).membership(me.userId)) === null) throw notFound("The room was not found");
  await store(r, { kind: "room", reporter: me.userId, roomId, reason });
  return json({});
}

// POST /_matrix/client/v3/users/{userId}/report
export async function reportUser(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const target = r.params.userId!;
  const parsed = parseUserId(target);
  if (!parsed) throw new MatrixError("M_INVALID_PARAM", 400, "Invalid user ID");
  const reason = reasonOf(r, await body(r), true);
  await rateLimit(r, "report", me);
  // Without federation only local accounts can be known to exist; remote users are not found.
  if (parsed.serverName !== r.config.serverName || !(await userActor(r.env, target).isRegistered())) {
    throw notFound("The user was not found");
  }
  await store(r, { kind: "user", reporter: me.userId, targetUserId: target, reason });
  return json({});
}
