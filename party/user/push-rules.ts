/**
 * The User actor's push rules and pushers (schema/user.sql migration 2). Plain
 * functions over the actor's SQLite, called from party/user.ts inside its
 * synchronous transactions; the rules themselves are lib/push.
 *
 * Every change to the rules also rewrites the `m.push_rules` global account
 * data (content `{ global: ruleset }`) at a new account-data stream position,
 * so /sync delivers it like any other account data (the spec: "Push Rules:
 * Events"). Until the first change there is no such row: /sync should then
 * send `pushRulesContent()`.
 */
import type { Pusher, PusherChange } from "../../lib/push/pusher.ts";
import { RULE_KINDS, isRuleKind, type PushAction, type PushCondition, type PushRule, type RuleKind, type Ruleset } from "../../lib/push/types.ts";
import {
  deleteUserRule,
  emptyStoredRules,
  mergeRuleset,
  putUserRule,
  setRuleActions,
  setRuleEnabled,
  type StoredPushRules,
} from "../../lib/push/user-rules.ts";

/** An edit, as the edge hands it to the actor (bodies already validated by lib/push/rule-body.ts). */
export type PushRuleEdit =
  | { op: "put"; kind: RuleKind; ruleId: string; rule: { actions: PushAction[]; conditions?: PushCondition[]; pattern?: string }; before?: string; after?: string }
  | { op: "delete"; kind: RuleKind; ruleId: string }
  | { op: "enabled"; kind: RuleKind; ruleId: string; enabled: boolean }
  | { op: "actions"; kind: RuleKind; ruleId: string; actions: PushAction[] };

export function loadPushRules(sql: SqlStorage): StoredPushRules {
  const stored = emptyStoredRules();
  for (const row of sql.exec<{ kind: string; rule: string }>("SELECT kind, rule FROM push_rules ORDER BY kind, position")) {
    if (isRuleKind(row.kind)) stored.user[row.kind].push(JSON.parse(row.rule) as PushRule);
  }
  const changes = sql.exec<{ kind: string; rule_id: string; enabled: number | null; actions: string | null }>(
    "SELECT kind, rule_id, enabled, actions FROM push_rule_defaults",
  );
  for (const row of changes) {
    if (!isRuleKind(row.kind)) continue;
    stored.defaults[row.kind][row.rule_id] = {
      ...(row.enabled !== null ? { enabled: row.enabled === 1 } : {}),
      ...(row.actions !== null ? { actions: JSON.parse(row.actions) as PushAction[] } : {}),
    };
  }
  return stored;
}

/** The stored rules after `edit` (lib/push/user-rules.ts decides; errors are MatrixErrors). */
export function applyPushRuleEdit(stored: StoredPushRules, edit: PushRuleEdit): StoredPushRules {
  switch (edit.op) {
    case "put":
      return putUserRule(stored, edit.kind, edit.ruleId, edit.rule, { before: edit.before, after: edit.after });
    case "delete":
      return deleteUserRule(stored, edit.kind, edit.ruleId);
    case "enabled":
      return setRuleEnabled(stored, edit.kind, edit.ruleId, edit.enabled);
    case "actions":
      return setRuleActions(stored, edit.kind, edit.ruleId, edit.actions);
  }
}

/** Replaces the stored rules (a user has at most a few hundred) and publishes m.push_rules. */
export function savePushRules(sql: SqlStorage, userId: string, stored: StoredPushRules): void {
  rulesJson.delete(sql);
  sql.exec("DELETE FROM push_rules");
  sql.exec("DELETE FROM push_rule_defaults");
  for (const kind of RULE_KINDS) {
    stored.user[kind].forEach((rule, position) => {
      sql.exec("INSERT INTO push_rules (kind, rule_id, position, rule) VALUES (?, ?, ?, ?)", kind, rule.rule_id, position, JSON.stringify(rule));
    });
    for (const [ruleId, change] of Object.entries(stored.defaults[kind])) {
      sql.exec(
        "INSERT INTO push_rule_defaults (kind, rule_id, enabled, actions) VALUES (?, ?, ?, ?)",
        kind,
        ruleId,
        change.enabled === undefined ? null : change.enabled ? 1 : 0,
        change.actions === undefined ? null : JSON.stringify(change.actions),
      );
    }
  }
  const pos = sql
    .exec<{ value: number }>(
      "INSERT INTO counters (name, value) VALUES ('account_data', 1) ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
    )
    .one().value;
  sql.exec(
    "INSERT INTO account_data (room_id, type, content, stream_pos) VALUES ('', 'm.push_rules', ?, ?) " +
      "ON CONFLICT (room_id, type) DO UPDATE SET content = excluded.content, stream_pos = excluded.stream_pos",
    JSON.stringify(pushRulesContent(userId, stored)),
    pos,
  );
}

/** Per actor storage: `pushRulesContent` as JSON, until the rules are saved or deleted again. */
const rulesJson = new WeakMap<SqlStorage, { userId: string; text: string }>();

/**
 * `{ global: ruleset }` as JSON text — what rooms count notifications with — read once
 * per change of the rules (every sync of every device needs it; building it merges the
 * defaults anew).
 */
export function pushRulesJson(sql: SqlStorage, userId: string): string {
  const hit = rulesJson.get(sql);
  if (hit && hit.userId === userId) return hit.text;
  const text = JSON.stringify(pushRulesContent(userId, loadPushRules(sql)));
  rulesJson.set(sql, { userId, text });
  return text;
}

/** The merged ruleset the user has now. */
export function currentRuleset(sql: SqlStorage, userId: string): Ruleset {
  return mergeRuleset(userId, loadPushRules(sql));
}

/** The content of `m.push_rules` and of GET /pushrules/. */
export function pushRulesContent(userId: string, stored: StoredPushRules): { global: Ruleset } {
  return { global: mergeRuleset(userId, stored) };
}

export function deletePushRules(sql: SqlStorage): void {
  rulesJson.delete(sql);
  sql.exec("DELETE FROM push_rules");
  sql.exec("DELETE FROM push_rule_defaults");
}

// ---- pushers ------------------------------------------------------------------------

export function listPushers(sql: SqlStorage): Pusher[] {
  return sql
    .exec<{ pusher: string }>("SELECT pusher FROM pushers ORDER BY created_ts, app_id, pushkey")
    .toArray()
    .map((r) => JSON.parse(r.pusher) as Pusher);
}

/** Creates, replaces or removes one pusher; a pusher belongs to the device that set it. */
export function applyPusherChange(sql: SqlStorage, change: PusherChange, deviceId: string | null): void {
  if (change.remove) {
    sql.exec("DELETE FROM pushers WHERE app_id = ? AND pushkey = ?", change.app_id, change.pushkey);
    return;
  }
  const p = change.pusher;
  sql.exec(
    "INSERT INTO pushers (app_id, pushkey, pusher, device_id, created_ts) VALUES (?, ?, ?, ?, ?) " +
      "ON CONFLICT (app_id, pushkey) DO UPDATE SET pusher = excluded.pusher, device_id = excluded.device_id",
    p.app_id,
    p.pushkey,
    JSON.stringify(p),
    deviceId,
    Date.now(),
  );
}

/** Pushers go with their device (logout, device deletion). */
export function deletePushersOfDevices(sql: SqlStorage, deviceIds: readonly string[]): void {
  for (const id of deviceIds) sql.exec("DELETE FROM pushers WHERE device_id = ?", id);
}

export function deleteAllPushers(sql: SqlStorage): void {
  sql.exec("DELETE FROM pushers");
}

