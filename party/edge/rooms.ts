/**
 * Rooms: creation, membership, sending events, reading state and single events.
 * https://spec.matrix.org/v1.19/client-server-api/#rooms
 *
 * Membership actions a user starts for themselves (create, join, leave, knock, forget)
 * go to their User actor, which holds the profile the member event carries; the rest
 * go straight to the Room actor with the authenticated user.
 */
import { markActive } from "./presence.ts";
import { MatrixError } from "../../lib/errors.ts";
import { isValidEventId, isValidRoomAlias, isValidRoomId, isValidUserId } from "../../lib/identifiers.ts";
import { utf8Length } from "../../lib/json-parse.ts";
import type { JsonObject } from "../../lib/json.ts";
import { canonicalAliasFor, parseCreateRoomRequest } from "../../lib/room-create.ts";
import { checkAliasNamespace } from "../../lib/directory/alias.ts";
import { loadAppservices } from "../env.ts";
import { parseUpgradeRequest } from "../../lib/room-upgrade.ts";
import type { ModerationAction } from "../room/membership.ts";
import { resolveAlias } from "../directory/aliases.ts";
import { roomActor, userActor } from "../stubs.ts";
import { body, opt, optionalBody, req } from "./account.ts";
import { rateLimit } from "./rate-limit.ts";
import { authenticate, massagedTimestamp } from "./auth.ts";
import { json } from "./http.ts";
import type { EdgeRequest } from "./router.ts";

const invalid = (msg: string) => new MatrixError("M_INVALID_PARAM", 400, msg);

function roomIdParam(r: EdgeRequest): string {
  const id = r.params.roomId!;
  if (!isValidRoomId(id)) throw invalid(`${JSON.stringify(id)} is not a valid room ID`);
  return id;
}

/** Event types and state keys: at most 255 bytes (PDU limits); types non-empty. */
function eventTypeParam(r: EdgeRequest): string {
  const t = r.params.eventType!;
  if (t === "" || utf8Length(t) > 255) throw invalid("the event type must be 1 to 255 bytes");
  return t;
}

function stateKeyParam(r: EdgeRequest): string {
  const k = r.params.stateKey ?? "";
  if (utf8Length(k) > 255) throw invalid("the state key must be at most 255 bytes");
  return k;
}

function txnIdParam(r: EdgeRequest): string {
  const t = r.params.txnId!;
  if (t === "" || utf8Length(t) > 255) throw invalid("the transaction ID must be 1 to 255 bytes");
  return t;
}

/** `user_id` of invite/kick/ban/unban bodies. */
function targetUser(b: JsonObject): string {
  const u = req(b, "user_id", "string");
  if (!isValidUserId(u)) throw invalid(`${JSON.stringify(u)} is not a valid user ID`);
  return u;
}

/** A room ID, or an alias resolved through the directory. */
async function roomIdOrAlias(r: EdgeRequest): Promise<string> {
  const v = r.params.roomIdOrAlias!;
  if (v.startsWith("#")) {
    if (!isValidRoomAlias(v)) throw invalid(`${JSON.stringify(v)} is not a valid room alias`);
    return (await resolveAlias(r.env, v)).roomId; // the index, then appservices (party/directory/aliases.ts)
  }
  if (!isValidRoomId(v)) throw invalid(`${JSON.stringify(v)} is not a valid room ID or alias`);
  return v;
}

// POST /_matrix/client/v3/createRoom
export async function createRoom(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const request = parseCreateRoomRequest(await body(r));
  if (request.roomAliasName !== undefined) {
    // room_alias_name obeys appservice alias namespaces like PUT /directory/room (M_EXCLUSIVE).
    const registry = loadAppservices(r.env);
    checkAliasNamespace(canonicalAliasFor(request.roomAliasName, r.config.serverName), me.appservice ? registry.byId(me.appservice.id) : undefined, registry);
  }
  const { room_id } = await userActor(r.env, me.userId).createRoom(request);
  return json({ room_id });
}

// POST /_matrix/client/v3/rooms/{roomId}/upgrade
export async function upgrade(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const roomId = roomIdParam(r);
  const request = parseUpgradeRequest(await body(r));
  const { replacement_room } = await userActor(r.env, me.userId).upgradeRoom(roomId, request);
  return json({ replacement_room });
}

// POST /_matrix/client/v3/join/{roomIdOrAlias}
// POST /_matrix/client/v3/rooms/{roomId}/join
export async function join(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const roomId = r.params.roomId !== undefined ? roomIdParam(r) : await roomIdOrAlias(r);
  const reason = opt(await optionalBody(r), "reason", "string");
  await userActor(r.env, me.userId).joinRoom(roomId, reason);
  return json({ room_id: roomId });
}

// POST /_matrix/client/v3/knock/{roomIdOrAlias}
export async function knock(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const roomId = await roomIdOrAlias(r);
  const reason = opt(await optionalBody(r), "reason", "string");
  await userActor(r.env, me.userId).knockRoom(roomId, reason);
  return json({ room_id: roomId });
}

// POST /_matrix/client/v3/rooms/{roomId}/leave
export async function leave(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const roomId = roomIdParam(r);
  const reason = opt(await optionalBody(r), "reason", "string");
  await userActor(r.env, me.userId).leaveRoom(roomId, reason);
  return json({});
}

// POST /_matrix/client/v3/rooms/{roomId}/forget
export async function forget(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  await userActor(r.env, me.userId).forgetRoom(roomIdParam(r));
  return json({});
}

// POST /_matrix/client/v3/rooms/{roomId}/invite
export async function invite(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const roomId = roomIdParam(r);
  const b = await body(r);
  const target = targetUser(b);
  await roomActor(r.env, roomId).invite({ sender: me.userId, target, reason: opt(b, "reason", "string") });
  return json({});
}

function moderation(action: ModerationAction) {
  return async (r: EdgeRequest): Promise<Response> => {
    const me = await authenticate(r);
    const roomId = roomIdParam(r);
    const b = await body(r);
    const target = targetUser(b);
    await roomActor(r.env, roomId).moderate({ action, sender: me.userId, target, reason: opt(b, "reason", "string") });
    return json({});
  };
}

// POST /_matrix/client/v3/rooms/{roomId}/kick
export const kick = moderation("kick");
// POST /_matrix/client/v3/rooms/{roomId}/ban
export const ban = moderation("ban");
// POST /_matrix/client/v3/rooms/{roomId}/unban
export const unban = moderation("unban");

// GET /_matrix/client/v3/joined_rooms
export async function joinedRooms(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  return json({ joined_rooms: await userActor(r.env, me.userId).joinedRooms() });
}

// PUT /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}
export async function send(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const roomId = roomIdParam(r);
  const type = eventTypeParam(r);
  const txnId = txnIdParam(r);
  const originServerTs = massagedTimestamp(r, me);
  const content = await body(r);
  await rateLimit(r, "message", me);
  const { event_id } = await roomActor(r.env, roomId).send({ sender: me.userId, deviceId: me.deviceId, type, content, txnId, originServerTs });
  if (!me.appservice) markActive(r, me.userId); // presence: sending is activity (party/edge/presence.ts); bridges set their users' own
  return json({ event_id });
}

// PUT /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}
// PUT /_matrix/client/v3/rooms/{roomId}/state/{eventType}
export async function putState(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const roomId = roomIdParam(r);
  const type = eventTypeParam(r);
  const stateKey = stateKeyParam(r);
  const originServerTs = massagedTimestamp(r, me);
  const content = await body(r);
  await rateLimit(r, "message", me);
  const { event_id } = await roomActor(r.env, roomId).setState({ sender: me.userId, type, stateKey, content, originServerTs });
  return json({ event_id });
}

// GET /_matrix/client/v3/rooms/{roomId}/state
export async function getState(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const events = await roomActor(r.env, roomIdParam(r)).state({ requester: me.userId, deviceId: me.deviceId });
  return json(events as never);
}

// GET /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}
// GET /_matrix/client/v3/rooms/{roomId}/state/{eventType}
export async function getStateEvent(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const roomId = roomIdParam(r);
  const type = eventTypeParam(r);
  const stateKey = stateKeyParam(r);
  const format = r.url.searchParams.get("format") ?? "content";
  if (format !== "content" && format !== "event") throw invalid("format must be content or event");
  return json((await roomActor(r.env, roomId).stateEvent({ requester: me.userId, type, stateKey, format })) as never);
}

// PUT /_matrix/client/v3/rooms/{roomId}/redact/{eventId}/{txnId}
export async function redact(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const roomId = roomIdParam(r);
  const eventId = r.params.eventId!;
  if (!isValidEventId(eventId)) throw invalid(`${JSON.stringify(eventId)} is not a valid event ID`);
  const txnId = txnIdParam(r);
  const reason = opt(await optionalBody(r), "reason", "string");
  await rateLimit(r, "message", me);
  const { event_id } = await roomActor(r.env, roomId).redact({ sender: me.userId, deviceId: me.deviceId, eventId, txnId, reason });
  return json({ event_id });
}

// GET /_matrix/client/v3/rooms/{roomId}/event/{eventId}
export async function getEvent(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const roomId = roomIdParam(r);
  const eventId = r.params.eventId!;
  if (!isValidEventId(eventId)) throw invalid(`${JSON.stringify(eventId)} is not a valid event ID`);
  return json((await roomActor(r.env, roomId).event({ requester: me.userId, deviceId: me.deviceId, eventId })) as never);
}
