/**
 * A user's push rules: what they stored (their own rules, and their changes to
 * server-default rules), merged with the server defaults into the ruleset that
 * clients see and the evaluator uses. Pure: the User actor loads and saves.
 * https://spec.matrix.org/v1.19/client-server-api/#push-rules-api
 *
 * Order within a kind: `.m.rule.master` first, then the user's rules, then the
 * other server-default rules (user-defined rules outrank server defaults,
 * except the master rule, which outranks everything).
 */
import { MatrixError, invalidParam, notFound } from "../errors.ts";
import { MASTER_RULE_ID, defaultRuleset, isDefaultRule, isServerDefaultRuleId } from "./default-rules.ts";
import { checkUserRuleId } from "./rule-body.ts";
import { RULE_KINDS, type PushAction, type PushRule, type RuleKind, type Ruleset, type UserRuleBody } from "./types.ts";

/** A change the user made to a server-default rule. */
export interface DefaultRuleChange {
  enabled?: boolean;
  actions?: PushAction[];
}

export interface StoredPushRules {
  /** The user's own rules per kind, most important first. */
  user: Record<RuleKind, PushRule[]>;
  /** Changes to server-default rules, by kind and rule ID. */
  defaults: Record<RuleKind, Record<string, DefaultRuleChange>>;
}

/** Bounds the ruleset a user can build (it travels in every initial /sync). */
export const MAX_USER_RULES = 500;

export function emptyStoredRules(): StoredPushRules {
  const user = {} as StoredPushRules["user"];
  const defaults = {} as StoredPushRules["defaults"];
  for (const k of RULE_KINDS) {
    user[k] = [];
    defaults[k] = {};
  }
  return { user, defaults };
}

/** The ruleset `userId` has: server defaults (with the user's changes) and the user's rules, in order. */
export function mergeRuleset(userId: string, stored: StoredPushRules): Ruleset {
  const defaults = defaultRuleset(userId);
  const out = {} as Ruleset;
  for (const kind of RULE_KINDS) {
    const serverRules = defaults[kind].map((r) => applyChange(r, stored.defaults[kind][r.rule_id]));
    const master = serverRules.filter((r) => r.rule_id === MASTER_RULE_ID);
    const rest = serverRules.filter((r) => r.rule_id !== MASTER_RULE_ID);
    out[kind] = [...master, ...stored.user[kind].map((r) => structuredClone(r)), ...rest];
  }
  return out;
}

function applyChange(rule: PushRule, change: DefaultRuleChange | undefined): PushRule {
  if (!change) return rule;
  return {
    ...rule,
    ...(change.enabled !== undefined ? { enabled: change.enabled } : {}),
    ...(change.actions !== undefined ? { actions: structuredClone(change.actions) } : {}),
  };
}

/** One rule of the merged ruleset, or 404 M_NOT_FOUND. */
export function findRule(ruleset: Ruleset, kind: RuleKind, ruleId: string): PushRule {
  const rule = ruleset[kind].find((r) => r.rule_id === ruleId);
  if (!rule) throw notFound("The push rule was not found");
  return rule;
}

export interface RulePosition {
  before?: string;
  after?: string;
}

/**
 * PUT /pushrules/global/{kind}/{ruleId}: creates or replaces a user rule.
 * A new rule is enabled and, without before/after, becomes the most important
 * user rule of its kind; an updated rule keeps its place and enabled state
 * unless before/after moves it. With both, `before` decides (the spec).
 */
export function putUserRule(
  stored: StoredPushRules,
  kind: RuleKind,
  ruleId: string,
  body: UserRuleBody,
  position: RulePosition = {},
): StoredPushRules {
  checkUserRuleId(kind, ruleId);
  for (const anchor of [position.before, position.after]) {
    if (anchor !== undefined && isServerDefaultRuleId(anchor)) {
      throw invalidParam("A rule cannot be placed relative to a server-default rule");
    }
  }
  const next = structuredClone(stored);
  const list = next.user[kind];
  const index = list.findIndex((r) => r.rule_id === ruleId);
  const existing = index >= 0 ? list[index] : undefined;
  if (!existing && countUserRules(stored) >= MAX_USER_RULES) {
    throw new MatrixError("M_FORBIDDEN", 403, `At most ${MAX_USER_RULES} push rules per user`);
  }
  const rule: PushRule = { rule_id: ruleId, default: false, enabled: existing?.enabled ?? true, actions: structuredClone(body.actions) };
  if (kind === "override" || kind === "underride") rule.conditions = structuredClone(body.conditions ?? []);
  if (kind === "content") rule.pattern = body.pattern;
  const anchorId = position.before ?? position.after;
  if (anchorId === undefined) {
    if (existing) list[index] = rule;
    else list.unshift(rule);
    return next;
  }
  if (existing) list.splice(index, 1);
  const at = list.findIndex((r) => r.rule_id === anchorId);
  if (at < 0) throw new MatrixError("M_UNKNOWN", 400, `before/after rule not found: ${anchorId}`);
  list.splice(position.before !== undefined ? at : at + 1, 0, rule);
  return next;
}

/** DELETE: user rules only; server-default rules can be disabled but not deleted. */
export function deleteUserRule(stored: StoredPushRules, kind: RuleKind, ruleId: string): StoredPushRules {
  if (isDefaultRule(kind, ruleId)) {
    throw invalidParam("Server-default push rules cannot be deleted (disable them instead)");
  }
  const next = structuredClone(stored);
  const index = next.user[kind].findIndex((r) => r.rule_id === ruleId);
  if (index < 0) throw notFound("The push rule was not found");
  next.user[kind].splice(index, 1);
  return next;
}

/** PUT …/enabled, for user and server-default rules alike. */
export function setRuleEnabled(
  stored: StoredPushRules,
  kind: RuleKind,
  ruleId: string,
  enabled: boolean,
): StoredPushRules {
  return changeRule(stored, kind, ruleId, { enabled });
}

/** PUT …/actions, for user and server-default rules alike. */
export function setRuleActions(
  stored: StoredPushRules,
  kind: RuleKind,
  ruleId: string,
  actions: PushAction[],
): StoredPushRules {
  return changeRule(stored, kind, ruleId, { actions });
}

function changeRule(
  stored: StoredPushRules,
  kind: RuleKind,
  ruleId: string,
  change: DefaultRuleChange,
): StoredPushRules {
  const next = structuredClone(stored);
  const own = next.user[kind].find((r) => r.rule_id === ruleId);
  if (own) {
    if (change.enabled !== undefined) own.enabled = change.enabled;
    if (change.actions !== undefined) own.actions = structuredClone(change.actions);
    return next;
  }
  if (!isDefaultRule(kind, ruleId)) throw notFound("The push rule was not found");
  next.defaults[kind][ruleId] = { ...next.defaults[kind][ruleId], ...structuredClone(change) };
  return next;
}

export function countUserRules(stored: StoredPushRules): number {
  return RULE_KINDS.reduce((n, k) => n + stored.user[k].length, 0);
}
