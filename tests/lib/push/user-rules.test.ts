// The push rules API's decisions: validation of bodies, placement (before/after),
// server-default rules, and the merged ruleset.
// https://spec.matrix.org/v1.19/client-server-api/#push-rules-api
import { describe, expect, it } from "vitest";
import { MatrixError } from "../../../lib/errors.ts";
import type { JsonObject } from "../../../lib/json.ts";
import { parseActions, parseCondition, parseEnabled, parseRuleBody } from "../../../lib/push/rule-body.ts";
import {
  MAX_USER_RULES,
  deleteUserRule,
  emptyStoredRules,
  findRule,
  mergeRuleset,
  putUserRule,
  setRuleActions,
  setRuleEnabled,
  type StoredPushRules,
} from "../../../lib/push/user-rules.ts";
import type { RuleKind } from "../../../lib/push/types.ts";

const ALICE = "@alice:example.org";

function err(f: () => unknown): { errcode: string; status: number } {
  try {
    f();
  } catch (e) {
    if (e instanceof MatrixError) return { errcode: e.errcode, status: e.status };
    throw e;
  }
  throw new Error("expected a MatrixError");
}

const put = (s: StoredPushRules, kind: RuleKind, id: string, body: JsonObject, pos: { before?: string; after?: string } = {}) =>
  putUserRule(s, kind, id, parseRuleBody(kind, body), pos);
const ids = (s: StoredPushRules, kind: RuleKind) => mergeRuleset(ALICE, s)[kind].map((r) => r.rule_id);

describe("[push: PUT rule] bodies", () => {
  it("[push: PUT rule] actions are required and must be known actions or tweaks", () => {
    expect(err(() => parseRuleBody("override", {}))).toEqual({ errcode: "M_MISSING_PARAM", status: 400 });
    expect(err(() => parseActions("notify"))).toEqual({ errcode: "M_BAD_JSON", status: 400 });
    expect(err(() => parseActions(["explode"]))).toEqual({ errcode: "M_BAD_JSON", status: 400 });
    expect(err(() => parseActions([{ value: 1 }]))).toEqual({ errcode: "M_BAD_JSON", status: 400 });
    expect(err(() => parseActions([{ set_tweak: "highlight", value: "yes" }]))).toEqual({ errcode: "M_BAD_JSON", status: 400 });
    expect(err(() => parseActions([{ set_tweak: "sound", value: 3 }]))).toEqual({ errcode: "M_BAD_JSON", status: 400 });
    expect(parseActions(["notify", { set_tweak: "sound", value: "x" }, { set_tweak: "custom", value: { a: 1 } }])).toHaveLength(3);
  });

  it("[push: historical actions] dont_notify and coalesce are accepted and stripped", () => {
    expect(parseActions(["dont_notify"])).toEqual([]);
    expect(parseActions(["coalesce", "notify"])).toEqual(["notify"]);
  });

  it("[push: PUT rule] conditions: objects with a kind; known kinds need their parameters; unknown kinds are kept", () => {
    expect(err(() => parseRuleBody("override", { actions: [], conditions: {} }))).toMatchObject({ errcode: "M_BAD_JSON" });
    expect(err(() => parseCondition({ key: "type" }))).toMatchObject({ errcode: "M_BAD_JSON" });
    expect(err(() => parseCondition({ kind: "event_match", key: "type" }))).toMatchObject({ errcode: "M_BAD_JSON" });
    expect(err(() => parseCondition({ kind: "event_property_is", key: "x", value: [1] }))).toMatchObject({ errcode: "M_BAD_JSON" });
    expect(err(() => parseCondition({ kind: "event_property_is", key: "x", value: 1.5 }))).toMatchObject({ errcode: "M_BAD_JSON" });
    expect(err(() => parseCondition({ kind: "room_member_count", is: "=2" }))).toMatchObject({ errcode: "M_BAD_JSON" });
    expect(err(() => parseCondition({ kind: "sender_notification_permission" }))).toMatchObject({ errcode: "M_BAD_JSON" });
    expect(parseCondition({ kind: "org.example.future", whatever: 1 })).toEqual({ kind: "org.example.future", whatever: 1 });
    expect(parseCondition({ kind: "event_property_is", key: "x", value: null })).toMatchObject({ value: null });
  });

  it("[push: PUT rule] content rules need a string pattern; conditions and patterns only where they apply", () => {
    expect(err(() => parseRuleBody("content", { actions: [] }))).toMatchObject({ errcode: "M_MISSING_PARAM" });
    expect(err(() => parseRuleBody("content", { actions: [], pattern: 1 }))).toMatchObject({ errcode: "M_BAD_JSON" });
    expect(parseRuleBody("room", { actions: [], pattern: "x", conditions: [] })).toEqual({ actions: [] });
    expect(parseRuleBody("content", { actions: [], pattern: "x", conditions: [] })).toEqual({ actions: [], pattern: "x" });
  });

  it("[push: PUT enabled] enabled must be a boolean", () => {
    expect(parseEnabled({ enabled: false })).toBe(false);
    expect(err(() => parseEnabled({}))).toMatchObject({ errcode: "M_MISSING_PARAM" });
    expect(err(() => parseEnabled({ enabled: "true" }))).toMatchObject({ errcode: "M_BAD_JSON" });
  });
});

describe("[push: PUT rule] rule IDs and placement", () => {
  it("[push: PUT rule] IDs starting with '.' are reserved; '/' and '\\' are not allowed", () => {
    for (const id of [".mine", ".m.rule.master", "a/b", "a\\b"]) {
      expect(err(() => put(emptyStoredRules(), "override", id, { actions: [] }))).toEqual({ errcode: "M_INVALID_PARAM", status: 400 });
    }
  });

  it("[push: PUT rule] room rules are named by a room ID, sender rules by a user ID", () => {
    expect(err(() => put(emptyStoredRules(), "room", "not-a-room", { actions: [] }))).toMatchObject({ errcode: "M_INVALID_PARAM" });
    expect(err(() => put(emptyStoredRules(), "sender", "bob", { actions: [] }))).toMatchObject({ errcode: "M_INVALID_PARAM" });
    expect(ids(put(emptyStoredRules(), "room", "!r:example.org", { actions: [] }), "room")).toEqual(["!r:example.org"]);
    expect(ids(put(emptyStoredRules(), "sender", "@bob:example.org", { actions: [] }), "sender")).toEqual(["@bob:example.org"]);
  });

  it("[push: PUT rule] a new rule is enabled and the most important user rule of its kind, below master", () => {
    let s = put(emptyStoredRules(), "override", "a", { actions: ["notify"], conditions: [] });
    s = put(s, "override", "b", { actions: [] });
    const merged = mergeRuleset(ALICE, s).override;
    expect(merged.slice(0, 4).map((r) => r.rule_id)).toEqual([".m.rule.master", "b", "a", ".m.rule.suppress_notices"]);
    expect(findRule(mergeRuleset(ALICE, s), "override", "b")).toEqual({ rule_id: "b", default: false, enabled: true, actions: [], conditions: [] });
  });

  it("[push: PUT rule] user underride rules come before the default underride rules", () => {
    const s = put(emptyStoredRules(), "underride", "u", { actions: ["notify"] });
    expect(ids(s, "underride")[0]).toBe("u");
    expect(ids(s, "underride")).toContain(".m.rule.message");
  });

  it("[push: PUT rule] before puts the rule just above its anchor, after just below", () => {
    let s = emptyStoredRules();
    for (const id of ["c", "b", "a"]) s = put(s, "content", id, { actions: [], pattern: id });
    expect(ids(s, "content")).toEqual(["a", "b", "c"]);
    expect(ids(put(s, "content", "x", { actions: [], pattern: "x" }, { before: "b" }), "content")).toEqual(["a", "x", "b", "c"]);
    expect(ids(put(s, "content", "x", { actions: [], pattern: "x" }, { after: "b" }), "content")).toEqual(["a", "b", "x", "c"]);
    expect(ids(put(s, "content", "x", { actions: [], pattern: "x" }, { after: "c" }), "content")).toEqual(["a", "b", "c", "x"]);
  });

  it("[push: PUT rule] with both before and after, before decides", () => {
    let s = emptyStoredRules();
    for (const id of ["c", "b", "a"]) s = put(s, "content", id, { actions: [], pattern: id });
    expect(ids(put(s, "content", "x", { actions: [], pattern: "x" }, { before: "c", after: "a" }), "content")).toEqual(["a", "b", "x", "c"]);
  });

  it("[push: PUT rule] an update keeps its place and enabled state unless moved", () => {
    let s = emptyStoredRules();
    for (const id of ["c", "b", "a"]) s = put(s, "content", id, { actions: [], pattern: id });
    s = setRuleEnabled(s, "content", "b", false);
    s = put(s, "content", "b", { actions: ["notify"], pattern: "bee" });
    expect(ids(s, "content")).toEqual(["a", "b", "c"]);
    expect(findRule(mergeRuleset(ALICE, s), "content", "b")).toEqual({ rule_id: "b", default: false, enabled: false, actions: ["notify"], pattern: "bee" });
    s = put(s, "content", "b", { actions: [], pattern: "b" }, { after: "c" });
    expect(ids(s, "content")).toEqual(["a", "c", "b"]);
  });

  it("[push: PUT rule] an unknown anchor is 400 M_UNKNOWN; a server-default anchor is refused", () => {
    expect(err(() => put(emptyStoredRules(), "override", "x", { actions: [] }, { before: "nope" }))).toEqual({ errcode: "M_UNKNOWN", status: 400 });
    expect(err(() => put(emptyStoredRules(), "override", "x", { actions: [] }, { after: ".m.rule.master" }))).toEqual({ errcode: "M_INVALID_PARAM", status: 400 });
    // An anchor of another kind is not found.
    const s = put(emptyStoredRules(), "underride", "u", { actions: [] });
    expect(err(() => put(s, "override", "x", { actions: [] }, { before: "u" }))).toMatchObject({ errcode: "M_UNKNOWN" });
  });

  it("[push: PUT rule] the stored rules are not changed in place (a failed edit leaves them as they were)", () => {
    const s = put(emptyStoredRules(), "override", "a", { actions: [] });
    const before = structuredClone(s);
    err(() => put(s, "override", "a", { actions: ["notify"] }, { before: "missing" }));
    put(s, "override", "b", { actions: [] });
    expect(s).toEqual(before);
  });

  it("[push: PUT rule] the number of user rules is bounded", () => {
    let s = emptyStoredRules();
    for (let i = 0; i < MAX_USER_RULES; i++) s.user.override.push({ rule_id: `r${i}`, default: false, enabled: true, actions: [], conditions: [] });
    expect(err(() => put(s, "content", "one-more", { actions: [], pattern: "x" }))).toEqual({ errcode: "M_FORBIDDEN", status: 403 });
    s = put(s, "override", "r0", { actions: ["notify"] }); // replacing is fine
    expect(s.user.override).toHaveLength(MAX_USER_RULES);
  });
});

describe("[push: DELETE rule / enabled / actions]", () => {
  it("[push: DELETE rule] user rules can be deleted; unknown ones are 404", () => {
    const s = put(emptyStoredRules(), "override", "a", { actions: [] });
    expect(ids(deleteUserRule(s, "override", "a"), "override")).not.toContain("a");
    expect(err(() => deleteUserRule(s, "override", "zzz"))).toEqual({ errcode: "M_NOT_FOUND", status: 404 });
    expect(err(() => deleteUserRule(s, "underride", "a"))).toEqual({ errcode: "M_NOT_FOUND", status: 404 });
  });

  it("[push: DELETE rule] server-default rules cannot be deleted", () => {
    expect(err(() => deleteUserRule(emptyStoredRules(), "override", ".m.rule.master"))).toEqual({ errcode: "M_INVALID_PARAM", status: 400 });
    expect(err(() => deleteUserRule(emptyStoredRules(), "override", ".m.rule.message"))).toEqual({ errcode: "M_NOT_FOUND", status: 404 });
  });

  it("[push: PUT enabled] server-default rules can be enabled and disabled, and keep their place", () => {
    let s = setRuleEnabled(emptyStoredRules(), "override", ".m.rule.master", true);
    expect(findRule(mergeRuleset(ALICE, s), "override", ".m.rule.master").enabled).toBe(true);
    s = setRuleEnabled(s, "underride", ".m.rule.message", false);
    const merged = mergeRuleset(ALICE, s);
    expect(findRule(merged, "underride", ".m.rule.message")).toMatchObject({ enabled: false, default: true, actions: ["notify"] });
    expect(merged.underride.map((r) => r.rule_id)).toEqual(mergeRuleset(ALICE, emptyStoredRules()).underride.map((r) => r.rule_id));
  });

  it("[push: PUT actions] server-default rules' actions can be changed; enabled state is kept separately", () => {
    let s = setRuleActions(emptyStoredRules(), "underride", ".m.rule.message", []);
    s = setRuleEnabled(s, "underride", ".m.rule.message", false);
    s = setRuleActions(s, "underride", ".m.rule.message", ["notify", { set_tweak: "sound", value: "x" }]);
    expect(findRule(mergeRuleset(ALICE, s), "underride", ".m.rule.message")).toMatchObject({
      enabled: false,
      actions: ["notify", { set_tweak: "sound", value: "x" }],
    });
  });

  it("[push: PUT enabled/actions] unknown rules (or the wrong kind) are 404", () => {
    expect(err(() => setRuleEnabled(emptyStoredRules(), "underride", ".m.rule.master", true))).toEqual({ errcode: "M_NOT_FOUND", status: 404 });
    expect(err(() => setRuleActions(emptyStoredRules(), "override", "nope", []))).toEqual({ errcode: "M_NOT_FOUND", status: 404 });
    expect(err(() => findRule(mergeRuleset(ALICE, emptyStoredRules()), "content", "nope"))).toEqual({ errcode: "M_NOT_FOUND", status: 404 });
  });

  it("[push: PUT enabled/actions] user rules change in place", () => {
    let s = put(emptyStoredRules(), "room", "!r:example.org", { actions: ["notify"] });
    s = setRuleEnabled(s, "room", "!r:example.org", false);
    s = setRuleActions(s, "room", "!r:example.org", []);
    expect(findRule(mergeRuleset(ALICE, s), "room", "!r:example.org")).toEqual({ rule_id: "!r:example.org", default: false, enabled: false, actions: [] });
  });
});
