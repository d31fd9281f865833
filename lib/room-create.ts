/**
 * Room creation: a /createRoom request → the ordered initial events of the new room.
 * https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3createroom
 *
 * The spec's order: create, the creator's join, power levels, canonical alias, the
 * preset's events, initial_state, name and topic, invites. Pure: the room actor builds,
 * signs and authorizes the events this plan lists.
 *
 * Where the spec leaves a choice, Synapse's behaviour is followed: default power
 * levels (events table, invite 0 in private presets), initial_state replacing the
 * preset's event of the same (type, state_key) instead of sending both, and an
 * initial_state power levels event serving as the base the override applies to.
 */
import { badJson, invalidParam, MatrixError } from "./errors.ts";
import { isValidRoomAlias, isValidUserId } from "./identifiers.ts";
import { isJsonObject, type JsonObject, type JsonValue } from "./json.ts";
import type { RoomVersionRules } from "./room-versions.ts";

export type Preset = "private_chat" | "trusted_private_chat" | "public_chat";
const PRESETS: readonly Preset[] = ["private_chat", "trusted_private_chat", "public_chat"];

/** A state event without its graph fields: what initial_state entries and the plan hold. */
export interface StateTemplate {
  type: string;
  stateKey: string;
  content: JsonObject;
}

/** The validated request body of /createRoom. */
export interface CreateRoomRequest {
  preset: Preset;
  visibility: "public" | "private";
  name?: string;
  topic?: string;
  invite: string[];
  initialState: StateTemplate[];
  powerLevelContentOverride?: JsonObject;
  creationContent: JsonObject;
  isDirect: boolean;
  /** The alias local part (`room_alias_name`). */
  roomAliasName?: string;
  /** As the client asked; absent means the server default. */
  roomVersion?: string;
}

/** The creator's profile, copied into their join event. */
export interface MemberProfile {
  displayname?: string;
  avatar_url?: string;
}

export interface RoomCreationPlan {
  /** Content of the m.room.create event (sent by the creator). */
  createContent: JsonObject;
  /** Every event after the create event, in order, all sent by the creator. */
  events: StateTemplate[];
}

function field<T extends JsonValue>(body: JsonObject, key: string, check: (v: JsonValue) => v is T, what: string): T | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (!check(v)) throw badJson(`'${key}' must be ${what}`);
  return v;
}
const isString = (v: JsonValue): v is string => typeof v === "string";
const isBool = (v: JsonValue): v is boolean => typeof v === "boolean";
const isArray = (v: JsonValue): v is JsonValue[] => Array.isArray(v);

/** Validates the /createRoom body (schema: CreateRoom request). Throws MatrixError on bad input. */
export function parseCreateRoomRequest(body: JsonObject): CreateRoomRequest {
  const visibility = field(body, "visibility", isString, "a string") ?? "private";
  if (visibility !== "public" && visibility !== "private") throw badJson("'visibility' must be public or private");
  const presetRaw = field(body, "preset", isString, "a string");
  if (presetRaw !== undefined && !PRESETS.includes(presetRaw as Preset)) {
    throw badJson(`'preset' must be one of ${PRESETS.join(", ")}`);
  }
  const preset = (presetRaw as Preset | undefined) ?? (visibility === "public" ? "public_chat" : "private_chat");

  const invite = field(body, "invite", isArray, "an array") ?? [];
  for (const u of invite) {
    if (typeof u !== "string" || !isValidUserId(u)) throw invalidParam(`'invite' contains an invalid user ID: ${JSON.stringify(u)}`);
  }
  const initialState = (field(body, "initial_state", isArray, "an array") ?? []).map((e, i): StateTemplate => {
    if (!isJsonObject(e)) throw badJson(`initial_state[${i}] must be an object`);
    const stateKey = e.state_key ?? "";
    if (typeof e.type !== "string" || e.type === "") throw badJson(`initial_state[${i}].type must be a non-empty string`);
    if (typeof stateKey !== "string") throw badJson(`initial_state[${i}].state_key must be a string`);
    if (!isJsonObject(e.content)) throw badJson(`initial_state[${i}].content must be an object`);
    return { type: e.type, stateKey, content: e.content };
  });
  const req: CreateRoomRequest = {
    preset,
    visibility,
    invite: [...new Set(invite as string[])],
    initialState,
    creationContent: field(body, "creation_content", isJsonObject, "an object") ?? {},
    isDirect: field(body, "is_direct", isBool, "a boolean") ?? false,
  };
  const name = field(body, "name", isString, "a string");
  if (name !== undefined) req.name = name;
  const topic = field(body, "topic", isString, "a string");
  if (topic !== undefined) req.topic = topic;
  const override = field(body, "power_level_content_override", isJsonObject, "an object");
  if (override !== undefined) req.powerLevelContentOverride = override;
  const alias = field(body, "room_alias_name", isString, "a string");
  if (alias !== undefined) {
    // A local part only: the server appends its own name.
    if (alias === "" || /[:\s#]/.test(alias)) throw invalidParam("'room_alias_name' must be an alias local part without ':', '#' or whitespace");
    req.roomAliasName = alias;
  }
  const version = field(body, "room_version", isString, "a string");
  if (version !== undefined) req.roomVersion = version;
  if (Array.isArray(body.invite_3pid) && body.invite_3pid.length > 0) {
    // Needs an identity server; refusing beats silently dropping the invites.
    throw new MatrixError("M_UNRECOGNIZED", 400, "invite_3pid is not supported by this server");
  }
  return req;
}

/** The full alias `#local:server` for room_alias_name; M_INVALID_PARAM when it is not a valid alias. */
export function canonicalAliasFor(roomAliasName: string, serverName: string): string {
  const alias = `#${roomAliasName}:${serverName}`;
  if (!isValidRoomAlias(alias)) throw invalidParam(`#${roomAliasName}:${serverName} is not a valid room alias`);
  return alias;
}

/** Synapse's default power levels for a new room (creator at 100 before v12; infinite since). */
function defaultPowerLevels(creator: string, rules: RoomVersionRules, preset: Preset, invite: string[]): JsonObject {
  const infinite = rules.authorization.creatorsHaveInfinitePower;
  const users: JsonObject = {};
  if (!infinite) {
    users[creator] = 100;
    // trusted_private_chat: invitees get the creator's level (since v12 they are creators instead).
    if (preset === "trusted_private_chat") for (const u of invite) users[u] = 100;
  }
  return {
    users,
    users_default: 0,
    events: {
      "m.room.name": 50,
      "m.room.power_levels": 100,
      "m.room.history_visibility": 100,
      "m.room.canonical_alias": 50,
      "m.room.avatar": 50,
      // Since v12 the tombstone level must be above state_default and 100 (spec step 3).
      "m.room.tombstone": infinite ? 150 : 100,
      "m.room.server_acl": 100,
      "m.room.encryption": 100,
    },
    events_default: 0,
    state_default: 50,
    ban: 50,
    kick: 50,
    redact: 50,
    invite: preset === "public_chat" ? 50 : 0,
    historical: 100,
  };
}

function presetEvents(preset: Preset): StateTemplate[] {
  const state = (type: string, content: JsonObject): StateTemplate => ({ type, stateKey: "", content });
  return [
    state("m.room.join_rules", { join_rule: preset === "public_chat" ? "public" : "invite" }),
    state("m.room.history_visibility", { history_visibility: "shared" }),
    state("m.room.guest_access", { guest_access: preset === "public_chat" ? "forbidden" : "can_join" }),
  ];
}

const key = (t: { type: string; stateKey: string }) => `${t.type}\u0000${t.stateKey}`;

/**
 * The initial events of a room created by `creator`. `canonicalAlias` is the full alias
 * when room_alias_name was given. Throws M_BAD_JSON for requests the room version cannot
 * express (a v12 creator listed in the power levels' users).
 */
export function planRoomCreation(
  req: CreateRoomRequest,
  creator: string,
  profile: MemberProfile,
  rules: RoomVersionRules,
  canonicalAlias?: string,
): RoomCreationPlan {
  const auth = rules.authorization;
  const invite = req.invite.filter((u) => u !== creator);

  // 1. m.room.create: creation_content, then the keys the server owns.
  const createContent: JsonObject = { ...req.creationContent };
  delete createContent.creator;
  if (!auth.useRoomCreateSender) createContent.creator = creator;
  createContent.room_version = rules.id;
  const creators = new Set([creator]);
  if (auth.creatorsHaveInfinitePower) {
    const given = createContent.additional_creators ?? [];
    if (!Array.isArray(given) || !given.every((u) => typeof u === "string" && isValidUserId(u))) {
      throw badJson("creation_content.additional_creators must be an array of user IDs");
    }
    const extra = new Set(given as string[]);
    if (req.preset === "trusted_private_chat") for (const u of invite) extra.add(u);
    extra.delete(creator);
    if (extra.size > 0) createContent.additional_creators = [...extra];
    else delete createContent.additional_creators;
    for (const u of extra) creators.add(u);
  } else {
    delete createContent.additional_creators;
  }

  const events: StateTemplate[] = [];
  // 2. the creator's join
  const member: JsonObject = { membership: "join" };
  if (profile.displayname !== undefined) member.displayname = profile.displayname;
  if (profile.avatar_url !== undefined) member.avatar_url = profile.avatar_url;
  events.push({ type: "m.room.member", stateKey: creator, content: member });

  // 3. power levels: initial_state's if given, else the default; then the override.
  const initial = req.initialState.filter((e) => !(req.name !== undefined && e.type === "m.room.name" && e.stateKey === ""))
    .filter((e) => !(req.topic !== undefined && e.type === "m.room.topic" && e.stateKey === ""));
  const initialPl = initial.find((e) => e.type === "m.room.power_levels" && e.stateKey === "");
  const pl: JsonObject = { ...(initialPl?.content ?? defaultPowerLevels(creator, rules, req.preset, invite)) };
  for (const [k, v] of Object.entries(req.powerLevelContentOverride ?? {})) pl[k] = v;
  if (auth.creatorsHaveInfinitePower && isJsonObject(pl.users)) {
    for (const u of Object.keys(pl.users)) {
      if (creators.has(u)) throw badJson(`${u} is a room creator; since room version 12 creators cannot be listed in power levels users`);
    }
  }
  events.push({ type: "m.room.power_levels", stateKey: "", content: pl });

  // 4. canonical alias
  if (canonicalAlias !== undefined) events.push({ type: "m.room.canonical_alias", stateKey: "", content: { alias: canonicalAlias } });

  // 5. preset events, unless initial_state sets the same state; 6. initial_state.
  const initialKeys = new Set(initial.map(key));
  for (const e of presetEvents(req.preset)) if (!initialKeys.has(key(e))) events.push(e);
  for (const e of initial) if (e !== initialPl) events.push(e);

  // 7. name and topic
  if (req.name !== undefined) events.push({ type: "m.room.name", stateKey: "", content: { name: req.name } });
  if (req.topic !== undefined) {
    events.push({
      type: "m.room.topic",
      stateKey: "",
      content: { topic: req.topic, "m.topic": { "m.text": [{ body: req.topic, mimetype: "text/plain" }] } },
    });
  }

  // 8. invites
  for (const u of invite) {
    const content: JsonObject = { membership: "invite" };
    if (req.isDirect) content.is_direct = true;
    events.push({ type: "m.room.member", stateKey: u, content });
  }
  return { createContent, events };
}
