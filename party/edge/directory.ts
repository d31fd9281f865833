/**
 * Room aliases and the published room directory.
 * https://spec.matrix.org/v1.19/client-server-api/#room-aliases,
 * https://spec.matrix.org/v1.19/client-server-api/#listing-rooms,
 * https://spec.matrix.org/v1.19/application-service-api/#published-room-directories
 *
 * The alias index and the directory are D1 (party/directory/*); permissions are
 * lib/directory/permissions.ts with facts the Room actor reads from its state; the Room
 * actor alone writes its directory rows (party/directory/room-side.ts).
 */
import { checkAliasNamespace, parseRoomAlias, requireLocalAlias, withoutAlias } from "../../lib/directory/alias.ts";
import {
  checkMayCreateAlias,
  checkMayDeleteAlias,
  checkMayListAliases,
  type DirectoryCaller,
} from "../../lib/directory/permissions.ts";
import { parsePublicRoomsGet, parsePublicRoomsPost, type PublicRoomsQuery } from "../../lib/directory/requests.ts";
import { ftsPrefixQuery } from "../../lib/directory/search-terms.ts";
import { forbidden, MatrixError, notFound } from "../../lib/errors.ts";
import { isValidRoomId, serverNameOf } from "../../lib/identifiers.ts";
import { isJsonObject, type JsonObject } from "../../lib/json.ts";
import { aliasRow, deleteAlias, insertAlias, resolveAlias, roomAliases } from "../directory/aliases.ts";
import { isPublished, LOCAL_LIST, networkList, publicRoomsPage } from "../directory/published.ts";
import { roomKnown } from "../directory/users.ts";
import { loadAppservices } from "../env.ts";
import { roomActor } from "../stubs.ts";
import { body, req } from "./account.ts";
import { appserviceCaller } from "./appservice.ts";
import { authenticate, type Requester } from "./auth.ts";
import { asMatrixError, json } from "./http.ts";
import type { EdgeRequest } from "./router.ts";

const CANONICAL_ALIAS = "m.room.canonical_alias";

function roomIdParam(r: EdgeRequest): string {
  const id = r.params.roomId!;
  if (!isValidRoomId(id)) throw new MatrixError("M_INVALID_PARAM", 400, `${JSON.stringify(id)} is not a valid room ID`);
  return id;
}

function callerOf(me: Requester): DirectoryCaller {
  return { userId: me.userId, admin: me.admin, appservice: me.appservice !== undefined };
}

// GET /_matrix/client/v3/directory/room/{roomAlias}
export async function getAlias(r: EdgeRequest): Promise<Response> {
  const alias = parseRoomAlias(r.params.roomAlias!);
  // Other servers' aliases are resolved over federation, which Parley does not speak yet.
  if (serverNameOf(alias) !== r.config.serverName) throw notFound(`Room alias ${alias} not found (no federation)`);
  const { roomId } = await resolveAlias(r.env, alias);
  return json({ room_id: roomId, servers: [r.config.serverName] });
}

// PUT /_matrix/client/v3/directory/room/{roomAlias}
export async function putAlias(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const alias = parseRoomAlias(r.params.roomAlias!);
  const roomId = req(await body(r), "room_id", "string");
  if (!isValidRoomId(roomId)) throw new MatrixError("M_INVALID_PARAM", 400, `${JSON.stringify(roomId)} is not a valid room ID`);
  requireLocalAlias(alias, r.config.serverName);
  const registry = loadAppservices(r.env);
  checkAliasNamespace(alias, me.appservice ? registry.byId(me.appservice.id) : undefined, registry);
  checkMayCreateAlias(callerOf(me), await roomActor(r.env, roomId).directoryAccess(me.userId));
  if (!(await insertAlias(r.env.DB, alias, roomId, me.userId))) {
    throw new MatrixError("M_UNKNOWN", 409, `Room alias ${alias} already exists`);
  }
  return json({});
}

// DELETE /_matrix/client/v3/directory/room/{roomAlias}
export async function deleteAliasHandler(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const alias = parseRoomAlias(r.params.roomAlias!);
  const row = await aliasRow(r.env.DB, alias);
  if (!row) throw notFound(`Room alias ${alias} not found`);
  const registry = loadAppservices(r.env);
  if (me.appservice) checkAliasNamespace(alias, registry.byId(me.appservice.id), registry);
  const room = roomActor(r.env, row.roomId);
  checkMayDeleteAlias(callerOf(me), row.creator, me.appservice || me.admin ? null : await room.directoryAccess(me.userId));
  await deleteAlias(r.env.DB, alias, row.roomId);
  // As Synapse: the alias leaves the room's m.room.canonical_alias too, when the deleter
  // may send that event; the deletion stands either way (the spec recommends this).
  try {
    const content = (await room.stateEvent({ requester: me.userId, type: CANONICAL_ALIAS, stateKey: "", format: "content" })) as JsonObject;
    const next = withoutAlias(isJsonObject(content) ? content : undefined, alias);
    if (next) await room.setState({ sender: me.userId, type: CANONICAL_ALIAS, stateKey: "", content: next });
  } catch (e) {
    // No such event, or the deleter may not read or send it: expected, and the deletion stands.
    const code = asMatrixError(e)?.errcode;
    if (code !== "M_NOT_FOUND" && code !== "M_FORBIDDEN") console.error(`alias ${alias} deleted; updating m.room.canonical_alias of ${row.roomId} failed`, e);
  }
  return json({});
}

// GET /_matrix/client/v3/rooms/{roomId}/aliases
export async function getRoomAliases(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const roomId = roomIdParam(r);
  checkMayListAliases(callerOf(me), me.admin ? null : await roomActor(r.env, roomId).directoryAccess(me.userId));
  return json({ aliases: await roomAliases(r.env.DB, roomId) });
}

// GET /_matrix/client/v3/directory/list/room/{roomId}
export async function getVisibility(r: EdgeRequest): Promise<Response> {
  const roomId = roomIdParam(r);
  if (await isPublished(r.env.DB, roomId)) return json({ visibility: "public" });
  // Every room writes its user-directory row after its first commit; the actor answers for the rest.
  if (!(await roomKnown(r.env.DB, roomId)) && (await roomActor(r.env, roomId).directoryAccess("")) === null) throw notFound("Room not found");
  return json({ visibility: "private" });
}

function visibilityOf(b: JsonObject, dflt: "public" | undefined): boolean {
  const v = b.visibility ?? dflt;
  if (v === undefined || v === null) throw new MatrixError("M_MISSING_PARAM", 400, "Missing 'visibility'");
  if (v !== "public" && v !== "private") throw new MatrixError("M_INVALID_PARAM", 400, "'visibility' must be public or private");
  return v === "public";
}

// PUT /_matrix/client/v3/directory/list/room/{roomId}
export async function putVisibility(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const roomId = roomIdParam(r);
  const visible = visibilityOf(await body(r), "public");
  await roomActor(r.env, roomId).setDirectoryVisibility({ caller: callerOf(me), list: LOCAL_LIST, visible });
  return json({});
}

// PUT /_matrix/client/v3/directory/list/appservice/{networkId}/{roomId}
export async function putAppserviceVisibility(r: EdgeRequest): Promise<Response> {
  const reg = await appserviceCaller(r);
  if (!reg) {
    await authenticate(r); // no token: 401; a user's token: the 403 below
    throw forbidden("Only application services can edit their published room lists");
  }
  const roomId = roomIdParam(r);
  const visible = visibilityOf(await body(r), undefined);
  await roomActor(r.env, roomId).setDirectoryVisibility({ caller: null, list: networkList(reg.id, r.params.networkId!), visible });
  return json({});
}

async function publicRooms(r: EdgeRequest, q: PublicRoomsQuery): Promise<Response> {
  if (q.server !== undefined && q.server !== r.config.serverName) {
    throw notFound(`Cannot list the rooms of ${q.server}: fetching another server's directory needs federation, which this server does not support`);
  }
  let fts: string | undefined;
  if (q.searchTerm !== undefined) {
    const query = ftsPrefixQuery(q.searchTerm);
    // A term with no words (only punctuation) matches no room.
    if (query === null) return json({ chunk: [], total_room_count_estimate: 0 });
    fts = query;
  }
  return json((await publicRoomsPage(r.env.DB, q, fts)) as unknown as JsonObject);
}

// GET /_matrix/client/v3/publicRooms
export async function getPublicRooms(r: EdgeRequest): Promise<Response> {
  return publicRooms(r, parsePublicRoomsGet(r.url.searchParams));
}

// POST /_matrix/client/v3/publicRooms
export async function postPublicRooms(r: EdgeRequest): Promise<Response> {
  await authenticate(r);
  return publicRooms(r, parsePublicRoomsPost(await body(r), r.url.searchParams));
}
