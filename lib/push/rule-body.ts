/**
 * Validation of what clients send to the push rules API: rule IDs, rule bodies,
 * actions and conditions. https://spec.matrix.org/v1.19/client-server-api/#put_matrixclientv3pushrulesglobalkindruleid
 *
 * Errcodes: a missing required field is M_MISSING_PARAM, a field of the wrong
 * shape M_BAD_JSON, a bad path or query parameter M_INVALID_PARAM.
 */
import { badJson, invalidParam, missingParam } from "../errors.ts";
import { isValidRoomId, isValidUserId } from "../identifiers.ts";
import type { JsonObject, JsonValue } from "../json.ts";
import { isJsonObject } from "../json.ts";
import { isServerDefaultRuleId } from "./default-rules.ts";
import { parseMemberCountIs } from "./conditions.ts";
import { stripHistoricalActions } from "./evaluate.ts";
import type { PushAction, PushCondition, RuleKind, UserRuleBody } from "./types.ts";

/** Action strings this server understands; historical ones are accepted and dropped. */
const KNOWN_ACTIONS: ReadonlySet<string> = new Set(["notify", "dont_notify", "coalesce"]);

/**
 * A rule ID a client may create: not starting with "." (reserved for
 * server-default rules), no "/" or "\"; room rules are named by a room ID and
 * sender rules by a user ID.
 */
export function checkUserRuleId(kind: RuleKind, ruleId: string): void {
  if (isServerDefaultRuleId(ruleId)) {
    throw invalidParam("Rule IDs starting with '.' are reserved for server-default rules");
  }
  if (ruleId.includes("/") || ruleId.includes("\\")) throw invalidParam("Rule IDs may not contain '/' or '\\'");
  if (kind === "room" && !isValidRoomId(ruleId)) throw invalidParam("A room rule's ID must be a room ID");
  if (kind === "sender" && !isValidUserId(ruleId)) throw invalidParam("A sender rule's ID must be a user ID");
}

/** The `actions` array of a rule or of PUT …/actions, with historical actions removed. */
export function parseActions(value: JsonValue | undefined): PushAction[] {
  if (value === undefined) throw missingParam("Missing 'actions'");
  if (!Array.isArray(value)) throw badJson("'actions' must be an array");
  const out: PushAction[] = [];
  for (const a of value) {
    if (typeof a === "string") {
      if (!KNOWN_ACTIONS.has(a)) throw badJson(`Unrecognised action ${JSON.stringify(a)}`);
      out.push(a);
    } else if (isJsonObject(a) && typeof a.set_tweak === "string") {
      if (a.set_tweak === "highlight" && "value" in a && typeof a.value !== "boolean") {
        throw badJson("The highlight tweak's value must be a boolean");
      }
      if (a.set_tweak === "sound" && "value" in a && typeof a.value !== "string") {
        throw badJson("The sound tweak's value must be a string");
      }
      out.push(a);
    } else {
      throw badJson("Each action must be a string or an object with 'set_tweak'");
    }
  }
  return stripHistoricalActions(out);
}

const isScalar = (v: unknown) =>
  v === null || typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isSafeInteger(v));

/**
 * One condition. Known kinds must carry their parameters; unknown kinds are kept
 * (a client may know conditions this server does not) and simply never match.
 */
export function parseCondition(value: JsonValue): PushCondition {
  if (!isJsonObject(value) || typeof value.kind !== "string") {
    throw badJson("Each condition must be an object with a string 'kind'");
  }
  const c = value as PushCondition & JsonObject;
  const needString = (field: "key" | "pattern" | "is") => {
    if (typeof c[field] !== "string") throw badJson(`A ${c.kind} condition needs a string '${field}'`);
  };
  switch (c.kind) {
    case "event_match":
      needString("key");
      needString("pattern");
      break;
    case "event_property_is":
    case "event_property_contains":
      needString("key");
      if (!("value" in c) || !isScalar(c.value)) {
        throw badJson(`A ${c.kind} condition needs a 'value' that is a string, integer, boolean or null`);
      }
      break;
    case "room_member_count":
      needString("is");
      if (!parseMemberCountIs(c.is!)) throw badJson("'is' must be an integer optionally prefixed by ==, <, >, <= or >=");
      break;
    case "sender_notification_permission":
      needString("key");
      break;
  }
  return c;
}

/**
 * The body of PUT /pushrules/global/{kind}/{ruleId}. Conditions belong to
 * override and underride rules, a pattern to content rules; either is ignored
 * on other kinds.
 */
export function parseRuleBody(kind: RuleKind, body: JsonObject): UserRuleBody {
  const rule: UserRuleBody = { actions: parseActions(body.actions) };
  if (kind === "override" || kind === "underride") {
    if (body.conditions !== undefined) {
      if (!Array.isArray(body.conditions)) throw badJson("'conditions' must be an array");
      rule.conditions = body.conditions.map(parseCondition);
    }
  } else if (kind === "content") {
    if (body.pattern === undefined) throw missingParam("Content rules need a 'pattern'");
    if (typeof body.pattern !== "string") throw badJson("'pattern' must be a string");
    rule.pattern = body.pattern;
  }
  return rule;
}

/** The `enabled` body of PUT …/enabled. */
export function parseEnabled(body: JsonObject): boolean {
  if (body.enabled === undefined) throw missingParam("Missing 'enabled'");
  if (typeof body.enabled !== "boolean") throw badJson("'enabled' must be a boolean");
  return body.enabled;
}
