/**
 * Push rule evaluation: the first enabled rule that matches, in kind order
 * (override, content, room, sender, underride) and list order within a kind,
 * decides the actions. https://spec.matrix.org/v1.19/client-server-api/#push-rules
 *
 * Pure and synchronous: the room actor calls it for each local member (other
 * than the sender) with that member's ruleset and the room facts in `ctx`.
 */
import type { JsonObject } from "../json.ts";
import { isJsonObject } from "../json.ts";
import { conditionMatches, type PushContext } from "./conditions.ts";
import { globMatchesWords } from "./glob.ts";
import { RULE_KINDS, type PushAction, type PushRule, type RuleKind, type Ruleset } from "./types.ts";

export type { PushContext } from "./conditions.ts";

export interface PushOutcome {
  /** The event counts as a notification (`notify` action). */
  notify: boolean;
  /** The `highlight` tweak: present without a value means true; absent means false. */
  highlight: boolean;
  /** The `sound` tweak's value, when the rule sets one. */
  sound?: string;
  /** The matched rule's actions, historical ones (`dont_notify`, `coalesce`) removed. */
  actions: PushAction[];
  /** Which rule matched, if any. */
  rule?: { kind: RuleKind; rule_id: string };
}

const NOTHING: PushOutcome = Object.freeze({ notify: false, highlight: false, actions: [] }) as PushOutcome;

/** Actions that older spec versions defined; servers MUST ignore them. */
const HISTORICAL_ACTIONS: ReadonlySet<string> = new Set(["dont_notify", "coalesce"]);

export function stripHistoricalActions(actions: readonly PushAction[]): PushAction[] {
  return actions.filter((a) => !(typeof a === "string" && HISTORICAL_ACTIONS.has(a)));
}

/** The rule for `event`, or undefined when none matches. */
export function firstMatchingRule(
  event: JsonObject,
  ctx: PushContext,
  ruleset: Ruleset,
): { kind: RuleKind; rule: PushRule } | undefined {
  for (const kind of RULE_KINDS) {
    for (const rule of ruleset[kind] ?? []) {
      if (rule.enabled && ruleMatches(kind, rule, event, ctx)) return { kind, rule };
    }
  }
  return undefined;
}

export function ruleMatches(kind: RuleKind, rule: PushRule, event: JsonObject, ctx: PushContext): boolean {
  switch (kind) {
    case "override":
    case "underride":
      // No conditions: always matches.
      return (rule.conditions ?? []).every((c) => isJsonObject(c) && conditionMatches(c, event, ctx));
    case "content": {
      const content = event.content;
      const body = isJsonObject(content) ? content.body : undefined;
      return typeof rule.pattern === "string" && typeof body === "string" && globMatchesWords(rule.pattern, body);
    }
    case "room":
      return event.room_id === rule.rule_id;
    case "sender":
      return event.sender === rule.rule_id;
  }
}

/**
 * What `ruleset` says about `event` for the user in `ctx`. The user's own
 * events never notify them (the spec: servers MUST NOT notify for events the
 * user sent themselves).
 */
export function evaluatePushRules(event: JsonObject, ctx: PushContext, ruleset: Ruleset): PushOutcome {
  if (event.sender === ctx.userId) return { ...NOTHING, actions: [] };
  const hit = firstMatchingRule(event, ctx, ruleset);
  if (!hit) return { ...NOTHING, actions: [] };
  const actions = stripHistoricalActions(hit.rule.actions);
  const outcome: PushOutcome = {
    notify: actions.includes("notify"),
    highlight: false,
    actions,
    rule: { kind: hit.kind, rule_id: hit.rule.rule_id },
  };
  for (const a of actions) {
    if (!isJsonObject(a) || typeof a.set_tweak !== "string") continue;
    if (a.set_tweak === "highlight") outcome.highlight = !("value" in a) || a.value === true;
    else if (a.set_tweak === "sound" && typeof a.value === "string") outcome.sound = a.value;
  }
  return outcome;
}
