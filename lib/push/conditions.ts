/**
 * Push rule conditions. https://spec.matrix.org/v1.19/client-server-api/#conditions-1
 *
 * Every condition is total: a malformed or unknown condition does not match
 * (the spec: unrecognised conditions MUST NOT match any events), it never throws.
 */
import type { JsonObject, JsonValue } from "../json.ts";
import { isJsonObject } from "../json.ts";
import { valueAtPath } from "../dotted-path.ts";
import { globMatchesWhole, globMatchesWords, literalMatchesWords } from "./glob.ts";
import type { PushCondition } from "./types.ts";

/** What the evaluator needs to know about the room and the user, beyond the event. */
export interface PushContext {
  /** The user whose rules are evaluated. */
  userId: string;
  /** The user's display name in this room (their m.room.member `displayname`), if any. */
  displayName?: string | null;
  /** Joined members of the room now. */
  roomMemberCount: number;
  /**
   * The sender's power level in the room, as the room's rules compute it
   * (Infinity for v12 room creators).
   */
  senderPowerLevel: number;
  /** The `notifications` object of the room's m.room.power_levels content, if any. */
  notificationPowerLevels?: JsonObject;
}

/** The spec's default for `notifications.room` in m.room.power_levels. */
export const DEFAULT_ROOM_NOTIFICATION_LEVEL = 50;

const MAX_SAFE = 2 ** 53 - 1;

export function conditionMatches(condition: PushCondition, event: JsonObject, ctx: PushContext): boolean {
  switch (condition.kind) {
    case "event_match":
      return eventMatch(condition, event);
    case "event_property_is":
      return eventPropertyIs(condition, event);
    case "event_property_contains":
      return eventPropertyContains(condition, event);
    case "contains_display_name":
      return containsDisplayName(event, ctx);
    case "room_member_count":
      return roomMemberCount(condition, ctx);
    case "sender_notification_permission":
      return senderNotificationPermission(condition, ctx);
    default:
      return false;
  }
}

/** Glob on a string property: the whole value, or words of `content.body`. */
function eventMatch(c: PushCondition, event: JsonObject): boolean {
  if (typeof c.key !== "string" || typeof c.pattern !== "string") return false;
  const value = valueAtPath(event, c.key);
  if (typeof value !== "string") return false; // absent or not a string: no match, even for "*"
  return c.key === "content.body" ? globMatchesWords(c.pattern, value) : globMatchesWhole(c.pattern, value);
}

/** The non-compound canonical JSON values these conditions compare: strings, safe integers, booleans, null. */
function isScalar(v: unknown): v is string | number | boolean | null {
  return (
    v === null ||
    typeof v === "string" ||
    typeof v === "boolean" ||
    (typeof v === "number" && Number.isInteger(v) && Math.abs(v) <= MAX_SAFE)
  );
}

function sameScalar(a: JsonValue, b: string | number | boolean | null): boolean {
  // Exact: no casts ("true" is not true, 1 is not true).
  return isScalar(a) && typeof a === typeof b && a === b;
}

function eventPropertyIs(c: PushCondition, event: JsonObject): boolean {
  if (typeof c.key !== "string" || !("value" in c) || !isScalar(c.value)) return false;
  const value = valueAtPath(event, c.key);
  return value !== undefined && sameScalar(value, c.value);
}

function eventPropertyContains(c: PushCondition, event: JsonObject): boolean {
  if (typeof c.key !== "string" || !("value" in c) || !isScalar(c.value)) return false;
  const value = valueAtPath(event, c.key);
  if (!Array.isArray(value)) return false;
  const wanted = c.value;
  return value.some((item) => sameScalar(item, wanted));
}

/** Deprecated since v1.17 but still defined: the user's room display name as a word in the body. */
function containsDisplayName(event: JsonObject, ctx: PushContext): boolean {
  const name = ctx.displayName;
  if (!name) return false; // no display name, or empty: nothing to look for
  const content = event.content;
  const body = isJsonObject(content) ? content.body : undefined;
  return typeof body === "string" && literalMatchesWords(name, body);
}

/** `is`: a decimal integer, optionally prefixed by ==, <, >, <= or >= (no prefix means ==). */
export function parseMemberCountIs(is: string): { op: "==" | "<" | ">" | "<=" | ">="; n: number } | null {
  const m = /^(==|<=|>=|<|>)?([0-9]+)$/.exec(is);
  if (!m) return null;
  const n = Number(m[2]);
  if (!Number.isSafeInteger(n)) return null;
  return { op: (m[1] ?? "==") as "==" | "<" | ">" | "<=" | ">=", n };
}

function roomMemberCount(c: PushCondition, ctx: PushContext): boolean {
  if (typeof c.is !== "string") return false;
  const parsed = parseMemberCountIs(c.is);
  if (!parsed) return false;
  const count = ctx.roomMemberCount;
  switch (parsed.op) {
    case "==":
      return count === parsed.n;
    case "<":
      return count < parsed.n;
    case ">":
      return count > parsed.n;
    case "<=":
      return count <= parsed.n;
    case ">=":
      return count >= parsed.n;
  }
}

/**
 * The sender's power reaches `notifications[key]` of the room's power levels.
 * Only `room` has a default (50); any other key must be set in the power levels,
 * or the condition does not match.
 */
function senderNotificationPermission(c: PushCondition, ctx: PushContext): boolean {
  if (typeof c.key !== "string") return false;
  const levels = ctx.notificationPowerLevels ?? {};
  let required: number | undefined;
  if (Object.prototype.hasOwnProperty.call(levels, c.key)) {
    const v = levels[c.key];
    // Room versions before 10 allowed string power levels ("50"); accept integer strings.
    if (typeof v === "number" && Number.isInteger(v)) required = v;
    else if (typeof v === "string" && /^[+-]?[0-9]+$/.test(v.trim())) required = Number(v.trim());
  }
  if (required === undefined && c.key === "room") required = DEFAULT_ROOM_NOTIFICATION_LEVEL;
  if (required === undefined) return false;
  return ctx.senderPowerLevel >= required;
}
