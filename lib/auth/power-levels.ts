/**
 * Power levels: reading them with their defaults, and rule 10 (v1–v5), 9 (v6–v11) or 10 (v12)
 * for new m.room.power_levels events.
 * https://spec.matrix.org/v1.19/client-server-api/#mroompower_levels (defaults),
 * https://spec.matrix.org/v1.19/rooms/v1/#mroompower_levels-events-accept-values-as-strings,
 * .../v1/#mroompower_levels-events-accept-values-as-floats, v10 (integers only), v12 (creators).
 */
import type { JsonObject, JsonValue } from "../json.ts";
import { isJsonObject } from "../json.ts";
import type { Pdu } from "../pdu.ts";
import type { AuthorizationRules } from "../room-versions.ts";
import { isValidUserId } from "./ids.ts";
import { ALLOW, reject, type AuthResult } from "./types.ts";

/** How level values may be written: integers only (since v10), or also integer strings (v1–v9) and floats (v1–v5). */
export interface LevelSyntax {
  integersOnly: boolean;
  /** v1–v5 (before canonical JSON): floats are truncated towards zero. */
  floats: boolean;
}

export function levelSyntax(auth: AuthorizationRules, strictCanonicalJson: boolean): LevelSyntax {
  return { integersOnly: auth.integerPowerLevels, floats: !auth.integerPowerLevels && !strictCanonicalJson };
}

/** `"100"`, `" +100 "`, `"-0100"`: base-10 integer, optional sign, surrounding whitespace. */
const INTEGER_STRING = /^\s*[+-]?[0-9]+\s*$/;

/** A level value as a number, or undefined when it is not a level in this syntax. */
export function parseLevel(value: JsonValue | undefined, syntax: LevelSyntax): number | undefined {
  if (typeof value === "number") {
    if (Number.isInteger(value)) return value;
    return syntax.floats && Number.isFinite(value) ? Math.trunc(value) : undefined;
  }
  if (typeof value === "string" && !syntax.integersOnly && INTEGER_STRING.test(value)) {
    return Number(value.trim()) + 0; // + 0 turns -0 into 0
  }
  return undefined;
}

const NAMED = ["users_default", "events_default", "state_default", "ban", "redact", "kick", "invite"] as const;
type Named = (typeof NAMED)[number];

/** The levels of the current m.room.power_levels state, with the spec's defaults. */
export interface PowerLevels {
  /** A user's level; Infinity for a v12 creator. */
  user(userId: string): number;
  /** The *required power level* of an event type. */
  required(type: string, isState: boolean): number;
  readonly invite: number;
  readonly kick: number;
  readonly ban: number;
  readonly redact: number;
  /** `notifications.<key>`, default 50. */
  notification(key: string): number;
}

/**
 * With no power levels event, the creators have 100 (v1–v11) and everyone else 0, state
 * events need 0; with one, absent fields take their defaults (state 50, kick/ban/redact 50,
 * invite/users/events 0). Since v12 creators are above every level in either case.
 */
export function readPowerLevels(
  plEvent: Pdu | undefined,
  creators: ReadonlySet<string>,
  auth: AuthorizationRules,
  syntax: LevelSyntax,
): PowerLevels {
  const c: JsonObject = plEvent?.content ?? {};
  // Values in room state passed auth when they were accepted; an unreadable one (possible
  // only before v10) falls back to its default rather than making the room unusable.
  const num = (v: JsonValue | undefined, dflt: number) => parseLevel(v, syntax) ?? dflt;
  const named = (name: Named, dflt: number) => num(c[name], dflt);
  const users = isJsonObject(c.users) ? c.users : {};
  const events = isJsonObject(c.events) ? c.events : {};
  const notifications = isJsonObject(c.notifications) ? c.notifications : {};
  const usersDefault = named("users_default", 0);
  return {
    user(userId) {
      if (auth.creatorsHaveInfinitePower && creators.has(userId)) return Infinity;
      if (!plEvent) return creators.has(userId) ? 100 : 0;
      return Object.hasOwn(users, userId) ? num(users[userId], usersDefault) : usersDefault;
    },
    required(type, isState) {
      const dflt = isState ? named("state_default", plEvent ? 50 : 0) : named("events_default", 0);
      return Object.hasOwn(events, type) ? num(events[type], dflt) : dflt;
    },
    invite: named("invite", 0),
    kick: named("kick", 50),
    ban: named("ban", 50),
    redact: named("redact", 50),
    notification(key) {
      return Object.hasOwn(notifications, key) ? num(notifications[key], 50) : 50;
    },
  };
}

/** Rule 10.1–10.4 (v12 numbering): the shape of the new content. */
function checkContent(content: JsonObject, creators: ReadonlySet<string>, auth: AuthorizationRules, syntax: LevelSyntax): AuthResult {
  // Since v10 (10.1, 10.2) every level must be an integer. Before v10 the spec only checks
  // `users`, but a level that is no number cannot be compared by rules 10.6–10.10, so
  // Synapse and ruma reject those too; we do the same with the looser v1–v9 syntax.
  const rule = syntax.integersOnly ? "power_levels/integer" : "power_levels/value";
  for (const name of NAMED) {
    if (content[name] !== undefined && parseLevel(content[name], syntax) === undefined) {
      return reject(rule, `${name} is not a valid power level`);
    }
  }
  const maps = auth.limitNotificationsPowerLevels ? (["events", "notifications"] as const) : (["events"] as const);
  for (const key of maps) {
    const map = content[key];
    if (map === undefined) continue;
    if (!isJsonObject(map)) return reject(rule, `${key} is not an object`);
    for (const [k, v] of Object.entries(map)) {
      if (parseLevel(v, syntax) === undefined) return reject(rule, `${key}.${k} is not a valid power level`);
    }
  }
  // 10.3
  const users = content.users;
  if (users !== undefined) {
    if (!isJsonObject(users)) return reject("power_levels/users", "users is not an object");
    for (const [userId, v] of Object.entries(users)) {
      if (!isValidUserId(userId)) return reject("power_levels/users", `users key ${JSON.stringify(userId)} is not a valid user ID`);
      if (parseLevel(v, syntax) === undefined) return reject("power_levels/users", `users.${userId} is not a valid power level`);
    }
    // v12 10.4: creators' power cannot be written down, so it cannot be lowered.
    if (auth.creatorsHaveInfinitePower) {
      for (const userId of Object.keys(users)) {
        if (creators.has(userId)) return reject("power_levels/creator-in-users", `${userId} is a room creator and cannot be listed in users`);
      }
    }
  }
  return ALLOW;
}

function levelMap(content: JsonObject, key: string, syntax: LevelSyntax): Map<string, number> {
  const out = new Map<string, number>();
  const map = content[key];
  if (!isJsonObject(map)) return out;
  for (const [k, v] of Object.entries(map)) {
    const n = parseLevel(v, syntax);
    if (n !== undefined) out.set(k, n);
  }
  return out;
}

/**
 * Rule 10 (v1–v5, v12) / 9 (v6–v11): a new m.room.power_levels event, after the sender has
 * passed the required-power-level rule. `senderLevel` is the sender's level in the current state.
 */
export function checkPowerLevelsEvent(
  event: Pdu,
  current: Pdu | undefined,
  senderLevel: number,
  creators: ReadonlySet<string>,
  auth: AuthorizationRules,
  syntax: LevelSyntax,
): AuthResult {
  const shape = checkContent(event.content, creators, auth, syntax);
  if (!shape.allowed) return shape;
  // 10.5: the first power levels event is allowed.
  if (!current) return ALLOW;
  const before = current.content;
  const after = event.content;

  // 10.6: named levels added, changed or removed.
  for (const name of NAMED) {
    const old = parseLevel(before[name], syntax);
    const neu = parseLevel(after[name], syntax);
    if (old === neu) continue;
    if (old !== undefined && old > senderLevel) {
      return reject("power_levels/change-above-own", `cannot change ${name}: its current value ${old} is above the sender's level ${senderLevel}`);
    }
    if (neu !== undefined && neu > senderLevel) {
      return reject("power_levels/raise-above-own", `cannot set ${name} to ${neu}, above the sender's level ${senderLevel}`);
    }
  }

  // 10.7, 10.8: `events`, and since v6 `notifications`.
  const maps = auth.limitNotificationsPowerLevels ? ["events", "notifications"] : ["events"];
  for (const key of maps) {
    const oldMap = levelMap(before, key, syntax);
    const newMap = levelMap(after, key, syntax);
    for (const k of new Set([...oldMap.keys(), ...newMap.keys()])) {
      const old = oldMap.get(k);
      const neu = newMap.get(k);
      if (old === neu) continue;
      if (old !== undefined && old > senderLevel) {
        return reject("power_levels/change-above-own", `cannot change ${key}.${k}: its current value ${old} is above the sender's level ${senderLevel}`);
      }
      if (neu !== undefined && neu > senderLevel) {
        return reject("power_levels/raise-above-own", `cannot set ${key}.${k} to ${neu}, above the sender's level ${senderLevel}`);
      }
    }
  }

  // 10.9, 10.10: `users`.
  const oldUsers = levelMap(before, "users", syntax);
  const newUsers = levelMap(after, "users", syntax);
  for (const userId of new Set([...oldUsers.keys(), ...newUsers.keys()])) {
    const old = oldUsers.get(userId);
    const neu = newUsers.get(userId);
    if (old === neu) continue;
    if (old !== undefined && userId !== event.sender && old >= senderLevel) {
      return reject("power_levels/change-user-at-or-above-own", `cannot change the level of ${userId} (${old}): not below the sender's level ${senderLevel}`);
    }
    if (neu !== undefined && neu > senderLevel) {
      return reject("power_levels/raise-above-own", `cannot give ${userId} level ${neu}, above the sender's level ${senderLevel}`);
    }
  }
  return ALLOW;
}
