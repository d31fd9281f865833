/**
 * The server-default push rules of Matrix v1.19, in the spec's order.
 * https://spec.matrix.org/v1.19/client-server-api/#predefined-rules
 *
 * v1.17 removed the legacy body-matching defaults (`.m.rule.contains_display_name`,
 * `.m.rule.contains_user_name`, `.m.rule.roomnotif`; MSC4210): mentions now go
 * through `m.mentions` (`.m.rule.is_user_mention`, `.m.rule.is_room_mention`).
 * They are therefore absent here; the `contains_display_name` condition itself is
 * still evaluated for user-defined rules (lib/push/conditions.ts).
 */
import type { PushRule, RuleKind, Ruleset } from "./types.ts";

const SOUND_DEFAULT = { set_tweak: "sound", value: "default" };
const HIGHLIGHT = { set_tweak: "highlight" };

const eventMatch = (key: string, pattern: string) => ({ kind: "event_match", key, pattern });

/** The default override rules, in order (two of them name the user). */
function overrideRules(userId: string): PushRule[] {
  return [
    // Disabled by default; when enabled it outranks every rule, user-defined ones too.
    { rule_id: ".m.rule.master", default: true, enabled: false, conditions: [], actions: [] },
    {
      rule_id: ".m.rule.suppress_notices",
      default: true,
      enabled: true,
      conditions: [eventMatch("content.msgtype", "m.notice")],
      actions: [],
    },
    {
      rule_id: ".m.rule.invite_for_me",
      default: true,
      enabled: true,
      conditions: [
        eventMatch("type", "m.room.member"),
        eventMatch("content.membership", "invite"),
        eventMatch("state_key", userId),
      ],
      actions: ["notify", SOUND_DEFAULT],
    },
    {
      rule_id: ".m.rule.member_event",
      default: true,
      enabled: true,
      conditions: [eventMatch("type", "m.room.member")],
      actions: [],
    },
    {
      rule_id: ".m.rule.is_user_mention",
      default: true,
      enabled: true,
      conditions: [{ kind: "event_property_contains", key: "content.m\\.mentions.user_ids", value: userId }],
      actions: ["notify", SOUND_DEFAULT, HIGHLIGHT],
    },
    {
      rule_id: ".m.rule.is_room_mention",
      default: true,
      enabled: true,
      conditions: [
        { kind: "event_property_is", key: "content.m\\.mentions.room", value: true },
        { kind: "sender_notification_permission", key: "room" },
      ],
      actions: ["notify", HIGHLIGHT],
    },
    {
      rule_id: ".m.rule.tombstone",
      default: true,
      enabled: true,
      conditions: [eventMatch("type", "m.room.tombstone"), eventMatch("state_key", "")],
      actions: ["notify", HIGHLIGHT],
    },
    {
      rule_id: ".m.rule.reaction",
      default: true,
      enabled: true,
      conditions: [eventMatch("type", "m.reaction")],
      actions: [],
    },
    {
      rule_id: ".m.rule.room.server_acl",
      default: true,
      enabled: true,
      conditions: [eventMatch("type", "m.room.server_acl"), eventMatch("state_key", "")],
      actions: [],
    },
    {
      rule_id: ".m.rule.suppress_edits",
      default: true,
      enabled: true,
      conditions: [{ kind: "event_property_is", key: "content.m\\.relates_to.rel_type", value: "m.replace" }],
      actions: [],
    },
  ];
}

function underrideRules(): PushRule[] {
  return [
    {
      rule_id: ".m.rule.call",
      default: true,
      enabled: true,
      conditions: [eventMatch("type", "m.call.invite")],
      actions: ["notify", { set_tweak: "sound", value: "ring" }],
    },
    {
      rule_id: ".m.rule.encrypted_room_one_to_one",
      default: true,
      enabled: true,
      conditions: [{ kind: "room_member_count", is: "2" }, eventMatch("type", "m.room.encrypted")],
      actions: ["notify", SOUND_DEFAULT],
    },
    {
      rule_id: ".m.rule.room_one_to_one",
      default: true,
      enabled: true,
      conditions: [{ kind: "room_member_count", is: "2" }, eventMatch("type", "m.room.message")],
      actions: ["notify", SOUND_DEFAULT],
    },
    {
      rule_id: ".m.rule.message",
      default: true,
      enabled: true,
      conditions: [eventMatch("type", "m.room.message")],
      actions: ["notify"],
    },
    {
      rule_id: ".m.rule.encrypted",
      default: true,
      enabled: true,
      conditions: [eventMatch("type", "m.room.encrypted")],
      actions: ["notify"],
    },
  ];
}

/** The rule ID that outranks even user-defined override rules. */
export const MASTER_RULE_ID = ".m.rule.master";

/**
 * The server-default ruleset for `userId` (some rules name the user). A fresh
 * object each call, so callers may change it.
 */
export function defaultRuleset(userId: string): Ruleset {
  return structuredClone({
    override: overrideRules(userId),
    content: [],
    room: [],
    sender: [],
    underride: underrideRules(),
  });
}

/** Server-default rule IDs start with a dot; clients may not create such rules. */
export function isServerDefaultRuleId(ruleId: string): boolean {
  return ruleId.startsWith(".");
}

// Rule IDs do not depend on the user; any user ID will do to list them.
const DEFAULT_IDS: Readonly<Record<string, ReadonlySet<string>>> = Object.fromEntries(
  Object.entries(defaultRuleset("@_:_")).map(([kind, rules]) => [kind, new Set(rules.map((r) => r.rule_id))]),
);

/** `ruleId` is a server-default rule of `kind`. */
export function isDefaultRule(kind: RuleKind, ruleId: string): boolean {
  return DEFAULT_IDS[kind]?.has(ruleId) ?? false;
}
