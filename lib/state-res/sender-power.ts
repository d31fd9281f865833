/**
 * The sender's power level "when looking at their respective auth_events", the first tie-break
 * of the reverse topological power ordering (https://spec.matrix.org/v1.19/rooms/v2/#definitions).
 * Read from the m.room.power_levels event among the event's auth events, with the creator
 * rules of the room version when there is none.
 */
import type { EventStore } from "../auth-chain.ts";
import { isJsonObject, type JsonValue } from "../json.ts";
import type { Pdu } from "../pdu.ts";
import type { AuthorizationRules, RoomVersionRules } from "../room-versions.ts";
import { isCreateEvent, roomCreateEventOf } from "./room-create.ts";

/** Integers only since v10; before, integer strings (spec "stringy" levels) and truncated floats are accepted. */
export function parsePowerLevel(v: JsonValue | undefined, rules: AuthorizationRules): number | undefined {
  if (typeof v === "number") {
    if (Number.isInteger(v)) return v;
    return !rules.integerPowerLevels && Number.isFinite(v) ? Math.trunc(v) : undefined;
  }
  if (typeof v === "string" && !rules.integerPowerLevels) {
    const m = /^\s*([+-]?\d+)\s*$/.exec(v);
    return m ? Number.parseInt(m[1]!, 10) : undefined;
  }
  return undefined;
}

/** The users who created the room: since v12 the sender plus `additional_creators`; before, one creator. */
export function roomCreators(create: Pdu, rules: AuthorizationRules): Set<string> {
  if (rules.creatorsHaveInfinitePower) {
    const out = new Set([create.sender]);
    const extra = create.content["additional_creators"];
    if (Array.isArray(extra)) for (const u of extra) if (typeof u === "string") out.add(u);
    return out;
  }
  const creator = rules.useRoomCreateSender ? create.sender : create.content["creator"];
  return new Set(typeof creator === "string" ? [creator] : []);
}

/** Per-resolution cache: the create event is the same for every event of the room. */
export interface SenderPowerContext {
  store: EventStore;
  rules: RoomVersionRules;
  creators?: Set<string>;
}

export function senderPowerLevel(event: Pdu, ctx: SenderPowerContext): number {
  const auth = ctx.rules.authorization;
  let powerLevels: Pdu | undefined;
  for (const a of event.auth_events) {
    const ev = ctx.store.getEvent(a);
    if (ev && ev.type === "m.room.power_levels" && ev.state_key === "") {
      powerLevels = ev;
      break;
    }
  }
  if (!ctx.creators) {
    const create = roomCreateEventOf(event, ctx.store, ctx.rules);
    if (create) ctx.creators = roomCreators(create, auth);
  }
  const creators = ctx.creators;
  // v12: creators outrank everyone, whatever power levels say.
  if (auth.creatorsHaveInfinitePower && creators?.has(event.sender)) return Number.POSITIVE_INFINITY;
  if (powerLevels) {
    const users = powerLevels.content["users"];
    const own = isJsonObject(users) ? parsePowerLevel(users[event.sender], auth) : undefined;
    return own ?? parsePowerLevel(powerLevels.content["users_default"], auth) ?? 0;
  }
  // No power levels yet: the creator has 100, everyone else 0 (the create event itself included).
  if (isCreateEvent(event)) return auth.creatorsHaveInfinitePower ? Number.POSITIVE_INFINITY : 100;
  return creators?.has(event.sender) ? 100 : 0;
}
