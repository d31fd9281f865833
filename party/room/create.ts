/**
 * /createRoom on the caller's side (the creator's User actor): the plan (lib/room-create.ts),
 * the signed create event — which in v12 names the room, so it is built before the
 * Room actor can be addressed — the alias reservation in D1, then one call to the new
 * Room actor, which writes every initial event in one transaction or none.
 */
import { MatrixError } from "../../lib/errors.ts";
import { buildEvent, type BuiltEvent } from "../../lib/event-build.ts";
import type { JsonObject } from "../../lib/json.ts";
import { encodeBase64Url } from "../../lib/base64.ts";
import { canonicalAliasFor, planRoomCreation, type CreateRoomRequest, type MemberProfile } from "../../lib/room-create.ts";
import { creatableRoomVersions, DEFAULT_ROOM_VERSION, type RoomVersionRules } from "../../lib/room-versions.ts";
import { checkCanonicalAlias } from "../directory/room-side.ts";
import { loadConfig, type Env } from "../env.ts";
import { roomActor } from "../stubs.ts";
import type { MembershipResult } from "../room.ts";
import { serverSigningKey } from "./signing-key.ts";

/** The rules of a version new rooms may use; 400 M_UNSUPPORTED_ROOM_VERSION otherwise. */
export function creatableRules(version: string | undefined): RoomVersionRules {
  const id = version ?? DEFAULT_ROOM_VERSION;
  const rules = creatableRoomVersions().find((r) => r.id === id);
  if (!rules) throw new MatrixError("M_UNSUPPORTED_ROOM_VERSION", 400, `room version ${JSON.stringify(id)} is not supported here`);
  return rules;
}

/** `!<18 random URL-safe characters>:<server>` for room versions before 12. */
function randomRoomId(serverName: string): string {
  return `!${encodeBase64Url(crypto.getRandomValues(new Uint8Array(14))).slice(0, 18)}:${serverName}`;
}

/**
 * The signed m.room.create event of a new room (creation and upgrades). Its room ID is
 * random before v12 and, from v12, the create event's own reference hash.
 */
/**
 * The newest origin_server_ts given to a create event in this isolate. From room version
 * 12 the room ID is the create event's hash, so two identical /createRoom requests of one
 * user in the same millisecond would name the same room (the second failing as "already
 * exists"); a user's creations all run in their User actor, so strictly increasing
 * timestamps here keep their room IDs apart.
 */
let lastCreateTs = 0;

export async function buildCreateEvent(env: Env, sender: string, content: JsonObject, rules: RoomVersionRules): Promise<BuiltEvent> {
  const { serverName } = loadConfig(env);
  lastCreateTs = Math.max(Date.now(), lastCreateTs + 1);
  return buildEvent(
    {
      rules,
      roomId: rules.eventFormat.roomIdIsCreateEventHash ? undefined : randomRoomId(serverName),
      sender,
      type: "m.room.create",
      stateKey: "",
      content,
      prevEvents: [],
      authEvents: [],
      depth: 1,
      originServerTs: lastCreateTs,
      origin: serverName,
    },
    await serverSigningKey(env),
    serverName,
  );
}

export async function createRoom(env: Env, creator: string, profile: MemberProfile, req: CreateRoomRequest): Promise<MembershipResult> {
  const { serverName } = loadConfig(env);
  const rules = creatableRules(req.roomVersion);
  const alias = req.roomAliasName === undefined ? undefined : canonicalAliasFor(req.roomAliasName, serverName);
  const plan = planRoomCreation(req, creator, profile, rules, alias);

  const built = await buildCreateEvent(env, creator, plan.createContent, rules);
  const roomId = built.roomId;

  // The alias is reserved before the room exists, so a taken alias costs no room.
  if (alias !== undefined) {
    const inserted = await env.DB.prepare(
      "INSERT INTO room_aliases (alias, room_id, creator, created_ts) VALUES (?, ?, ?, ?) ON CONFLICT (alias) DO NOTHING RETURNING alias",
    )
      .bind(alias, roomId, creator, Date.now())
      .first();
    if (!inserted) throw new MatrixError("M_ROOM_IN_USE", 400, `the alias ${alias} is already in use`);
  }
  let result: MembershipResult;
  try {
    // initial_state may name aliases too: each must point to the new room (M_BAD_ALIAS).
    for (const e of plan.events) if (e.type === "m.room.canonical_alias" && e.stateKey === "") await checkCanonicalAlias(env, roomId, e.content, undefined);
    result = await roomActor(env, roomId).create({ createEvent: built.wire, events: plan.events });
  } catch (e) {
    if (alias !== undefined) await env.DB.prepare("DELETE FROM room_aliases WHERE alias = ? AND room_id = ?").bind(alias, roomId).run();
    throw e;
  }
  // visibility: public publishes the room in this server's directory (party/directory/room-side.ts).
  // The room exists by now: a failure here is logged, not turned into a failed /createRoom.
  if (req.visibility === "public") {
    await roomActor(env, roomId)
      .setDirectoryVisibility({ caller: null, list: "", visible: true })
      .catch((e: unknown) => console.error(`createRoom: publishing ${roomId} failed`, e));
  }
  return result;
}

/** The room an alias names (D1 directory), or 404. Only this server's aliases exist without federation. */
export async function resolveAlias(env: Env, alias: string): Promise<string> {
  const row = await env.DB.prepare("SELECT room_id FROM room_aliases WHERE alias = ?").bind(alias).first<{ room_id: string }>();
  if (!row) throw new MatrixError("M_NOT_FOUND", 404, `room alias ${alias} not found`);
  return row.room_id;
}
