// The server-default ruleset against the spec's own rule definitions (v1.19,
// extracted mechanically into fixtures/spec-v1.19-predefined-rules.json).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { defaultRuleset, isDefaultRule, isServerDefaultRuleId } from "../../../lib/push/default-rules.ts";
import type { PushRule } from "../../../lib/push/types.ts";

const spec = JSON.parse(readFileSync(new URL("./fixtures/spec-v1.19-predefined-rules.json", import.meta.url), "utf8")) as {
  override: PushRule[];
  underride: PushRule[];
};
const ALICE = "@alice:example.org";

/** The spec writes "[the user's Matrix ID]" where the rule names the user. */
function forUser(rules: PushRule[], userId: string): PushRule[] {
  return JSON.parse(JSON.stringify(rules).replaceAll("[the user's Matrix ID]", userId)) as PushRule[];
}

describe("[push: predefined rules] server-default ruleset", () => {
  it("[push: predefined rules] override rules are the spec's, in the spec's order", () => {
    expect(defaultRuleset(ALICE).override).toEqual(forUser(spec.override, ALICE));
  });

  it("[push: predefined rules] underride rules are the spec's, in the spec's order", () => {
    expect(defaultRuleset(ALICE).underride).toEqual(forUser(spec.underride, ALICE));
  });

  it("[push: predefined rules] v1.17 removed the body-matching defaults; no content/room/sender defaults", () => {
    const r = defaultRuleset(ALICE);
    expect(r.content).toEqual([]);
    expect(r.room).toEqual([]);
    expect(r.sender).toEqual([]);
    const ids = [...r.override, ...r.underride].map((x) => x.rule_id);
    for (const gone of [".m.rule.contains_display_name", ".m.rule.roomnotif", ".m.rule.contains_user_name"]) {
      expect(ids).not.toContain(gone);
    }
  });

  it("[push: predefined rules] user-specific rules name the user they are built for", () => {
    const bob = defaultRuleset("@bob:example.org");
    expect(bob.override.find((r) => r.rule_id === ".m.rule.invite_for_me")!.conditions).toContainEqual({
      kind: "event_match",
      key: "state_key",
      pattern: "@bob:example.org",
    });
    expect(bob.override.find((r) => r.rule_id === ".m.rule.is_user_mention")!.conditions![0]!.value).toBe("@bob:example.org");
  });

  it("[push: predefined rules] every default rule ID starts with a dot, is marked default, and is known per kind", () => {
    const r = defaultRuleset(ALICE);
    for (const kind of ["override", "underride"] as const) {
      for (const rule of r[kind]) {
        expect(rule.default).toBe(true);
        expect(isServerDefaultRuleId(rule.rule_id)).toBe(true);
        expect(isDefaultRule(kind, rule.rule_id)).toBe(true);
      }
    }
    expect(isDefaultRule("underride", ".m.rule.master")).toBe(false);
    expect(isDefaultRule("override", ".m.rule.nonexistent")).toBe(false);
  });

  it("[push: predefined rules] each call returns a fresh object (callers may change it)", () => {
    const a = defaultRuleset(ALICE);
    a.override[0]!.enabled = true;
    expect(defaultRuleset(ALICE).override[0]!.enabled).toBe(false);
  });
});
