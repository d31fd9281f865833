/**
 * Room upgrades: the old room's state → the ordered initial events of its replacement,
 * the tombstone, and the old room's restricted power levels.
 * https://spec.matrix.org/v1.19/client-server-api/#room-upgrades (server behaviour)
 *
 * The spec leaves which state transfers to the server and suggests a list; Synapse's
 * choices are followed where the spec is silent: bans are copied, the room `type` and
 * `m.federate` carry over from the old create event, and the upgrader's level is raised
 * in a first power levels event just long enough to send every copied event (before v12;
 * since v12 the upgrader is a creator with infinite power), then the old levels are
 * restored. Aliases are not moved here (the directory's D1 table), so
 * m.room.canonical_alias is not copied: it would name aliases that point elsewhere.
 */
import { badJson, invalidParam, missingParam } from "./errors.ts";
import { isValidUserId } from "./identifiers.ts";
import { isJsonObject, type JsonObject } from "./json.ts";
import type { MemberProfile, RoomCreationPlan, StateTemplate } from "./room-create.ts";
import type { AuthorizationRules, RoomVersionRules } from "./room-versions.ts";

/** The validated body of POST /rooms/{roomId}/upgrade. */
export interface UpgradeRequest {
  newVersion: string;
  /** Since v1.16; ignored for versions without additional creators. */
  additionalCreators: string[];
}

export function parseUpgradeRequest(body: JsonObject): UpgradeRequest {
  const v = body.new_version;
  if (v === undefined || v === null) throw missingParam("'new_version' is required");
  if (typeof v !== "string") throw badJson("'new_version' must be a string");
  const extra = body.additional_creators ?? [];
  if (!Array.isArray(extra)) throw badJson("'additional_creators' must be an array");
  for (const u of extra) {
    if (typeof u !== "string" || !isValidUserId(u)) throw invalidParam(`'additional_creators' contains an invalid user ID: ${JSON.stringify(u)}`);
  }
  return { newVersion: v, additionalCreators: [...new Set(extra as string[])] };
}

/** State types (state key "") copied to the new room, in the order they are sent (the spec's list). */
export const TRANSFERABLE_STATE: readonly string[] = [
  "m.room.server_acl",
  "m.room.encryption",
  "m.room.name",
  "m.room.avatar",
  "m.room.topic",
  "m.room.guest_access",
  "m.room.history_visibility",
  "m.room.join_rules",
];

/** Create-event content keys that describe the room rather than its version. */
const CREATE_KEYS_KEPT = ["type", "m.federate"];

/** What the old room tells the upgrade: its state (current events of the types above, power levels, bans) and tip. */
export interface OldRoom {
  roomId: string;
  /** The newest event of the old room (the predecessor's `event_id`). */
  lastEventId: string;
  createContent: JsonObject;
  /** Creators with infinite power in the old room (v12+), else empty. */
  creators: string[];
  /** m.room.power_levels content, if any. */
  powerLevels?: JsonObject;
  /** Current state of TRANSFERABLE_STATE types, state key "". */
  state: StateTemplate[];
  /** Current m.room.member events with membership ban. */
  bans: StateTemplate[];
}

const num = (v: unknown, dflt: number): number => (typeof v === "number" && Number.isInteger(v) ? v : dflt);

/** The new room's create content: version, predecessor, creators, and the kept room properties. */
function createContentFor(old: OldRoom, upgrader: string, additional: string[], auth: AuthorizationRules, version: string): JsonObject {
  const c: JsonObject = {};
  for (const k of CREATE_KEYS_KEPT) if (old.createContent[k] !== undefined) c[k] = old.createContent[k]!;
  if (!auth.useRoomCreateSender) c.creator = upgrader;
  c.room_version = version;
  // event_id is deprecated since v1.16 but SHOULD still be given: the old room's last event.
  c.predecessor = { room_id: old.roomId, event_id: old.lastEventId };
  if (auth.creatorsHaveInfinitePower && additional.length > 0) c.additional_creators = additional;
  return c;
}

/** The level needed to send every copied event: each copied type's level, ban, and above every banned user. */
function levelNeeded(pl: JsonObject, copied: StateTemplate[], bans: StateTemplate[]): number {
  const events = isJsonObject(pl.events) ? pl.events : {};
  const users = isJsonObject(pl.users) ? pl.users : {};
  const usersDefault = num(pl.users_default, 0);
  let need = num(pl.ban, 50);
  for (const e of copied) need = Math.max(need, num(events[e.type], num(pl.state_default, 50)));
  for (const b of bans) need = Math.max(need, num(users[b.stateKey], usersDefault) + 1);
  return need;
}

/**
 * The new room's events after its create event, all sent by the upgrader: their join,
 * power levels (raised for the upgrader if needed), the copied state, the bans, and the
 * restored power levels. `rules` are the new room's.
 */
export function planRoomUpgrade(
  old: OldRoom,
  req: UpgradeRequest,
  upgrader: string,
  profile: MemberProfile,
  rules: RoomVersionRules,
): RoomCreationPlan {
  const auth = rules.authorization;
  const additional = auth.creatorsHaveInfinitePower ? req.additionalCreators.filter((u) => u !== upgrader) : [];
  const createContent = createContentFor(old, upgrader, additional, auth, rules.id);
  const creators = new Set([upgrader, ...additional]);

  const member: JsonObject = { membership: "join" };
  if (profile.displayname !== undefined) member.displayname = profile.displayname;
  if (profile.avatar_url !== undefined) member.avatar_url = profile.avatar_url;
  const events: StateTemplate[] = [{ type: "m.room.member", stateKey: upgrader, content: member }];

  const copied = TRANSFERABLE_STATE.flatMap((t) => old.state.filter((e) => e.type === t && e.stateKey === ""));
  const bans = old.bans.filter((b) => !creators.has(b.stateKey)).map((b): StateTemplate => {
    const content: JsonObject = { membership: "ban" };
    if (typeof b.content.reason === "string") content.reason = b.content.reason;
    return { type: "m.room.member", stateKey: b.stateKey, content };
  });

  let restore: StateTemplate | undefined;
  if (old.powerLevels) {
    const users: JsonObject = isJsonObject(old.powerLevels.users) ? { ...old.powerLevels.users } : {};
    if (auth.creatorsHaveInfinitePower) {
      // Since v12 creators cannot be listed in users (auth rule); their power is implied.
      for (const u of creators) delete users[u];
    } else {
      // Creators of a v12+ room had no entry: the highest ordinary level keeps them in charge.
      for (const u of old.creators) if (users[u] === undefined) users[u] = 100;
    }
    const final: JsonObject = { ...old.powerLevels, users };
    const own = num(users[upgrader], num(final.users_default, 0));
    const need = levelNeeded(final, copied, bans);
    if (!auth.creatorsHaveInfinitePower && own < need) {
      events.push({ type: "m.room.power_levels", stateKey: "", content: { ...final, users: { ...users, [upgrader]: need } } });
      restore = { type: "m.room.power_levels", stateKey: "", content: final };
    } else {
      events.push({ type: "m.room.power_levels", stateKey: "", content: final });
    }
  }
  events.push(...copied, ...bans);
  if (restore) events.push(restore);
  return { createContent, events };
}

/** The tombstone sent to the old room. */
export function tombstoneContent(replacementRoom: string): JsonObject {
  return { body: "This room has been replaced", replacement_room: replacementRoom };
}

/**
 * The old room's power levels after the upgrade: events_default and invite raised to
 * max(50, users_default + 1) so ordinary members can no longer talk or invite (spec
 * step 6). Undefined when both are already at least that high (nothing to send).
 */
export function restrictedPowerLevels(content: JsonObject): JsonObject | undefined {
  const level = Math.max(50, num(content.users_default, 0) + 1);
  if (num(content.events_default, 0) >= level && num(content.invite, 0) >= level) return undefined;
  return { ...content, events_default: Math.max(level, num(content.events_default, 0)), invite: Math.max(level, num(content.invite, 0)) };
}
