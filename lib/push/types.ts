/**
 * Push rule shapes, from the spec's schemas (push_rule.yaml, push_condition.yaml,
 * push_ruleset.yaml). https://spec.matrix.org/v1.19/client-server-api/#push-rules
 */
import type { JsonObject } from "../json.ts";

/** The kinds, in the order they are checked. */
export const RULE_KINDS = ["override", "content", "room", "sender", "underride"] as const;
export type RuleKind = (typeof RULE_KINDS)[number];

export function isRuleKind(s: string): s is RuleKind {
  return (RULE_KINDS as readonly string[]).includes(s);
}

/**
 * A push condition as stored and served. Unknown kinds and extra fields are kept
 * (clients may know conditions this server does not; such a condition never matches).
 */
export interface PushCondition {
  kind: string;
  key?: string;
  pattern?: string;
  is?: string;
  value?: string | number | boolean | null;
  [extra: string]: unknown;
}

/** `"notify"`, or an object such as `{ set_tweak: "sound", value: "default" }`. */
export type PushAction = string | JsonObject;

export interface PushRule {
  rule_id: string;
  default: boolean;
  enabled: boolean;
  actions: PushAction[];
  /** override and underride rules only. */
  conditions?: PushCondition[];
  /** content rules only. */
  pattern?: string;
}

/** The `global` ruleset: every kind, each list ordered most important first. */
export type Ruleset = Record<RuleKind, PushRule[]>;

/** A rule as a client writes it (PUT /pushrules/global/{kind}/{ruleId}), already validated. */
export interface UserRuleBody {
  actions: PushAction[];
  conditions?: PushCondition[];
  pattern?: string;
}
