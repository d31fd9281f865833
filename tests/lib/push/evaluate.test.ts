// Push rule evaluation with the v1.19 default ruleset (and user rules on top):
// which rule decides, and what notify / highlight / sound come out.
// https://spec.matrix.org/v1.19/client-server-api/#push-rules
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../lib/json.ts";
import { defaultRuleset } from "../../../lib/push/default-rules.ts";
import { evaluatePushRules, stripHistoricalActions, type PushContext } from "../../../lib/push/evaluate.ts";
import type { Ruleset } from "../../../lib/push/types.ts";

const ALICE = "@alice:example.org";
const BOB = "@bob:example.org";
const ROOM = "!room:example.org";

const group: PushContext = { userId: ALICE, displayName: "Alice", roomMemberCount: 5, senderPowerLevel: 0 };
const dm: PushContext = { ...group, roomMemberCount: 2 };

const ev = (type: string, content: JsonObject, extra: JsonObject = {}): JsonObject => ({
  type,
  content,
  sender: BOB,
  room_id: ROOM,
  event_id: "$e",
  ...extra,
});
const text = (body: string, extra: JsonObject = {}) => ev("m.room.message", { msgtype: "m.text", body, ...extra });

function run(event: JsonObject, ctx = group, rules: Ruleset = defaultRuleset(ALICE)) {
  return evaluatePushRules(event, ctx, rules);
}

describe("[push: default rules] messages", () => {
  it("[push: .m.rule.message] a group message notifies without sound or highlight", () => {
    const o = run(text("hello"));
    expect(o).toMatchObject({ notify: true, highlight: false, rule: { kind: "underride", rule_id: ".m.rule.message" } });
    expect(o.sound).toBeUndefined();
  });

  it("[push: .m.rule.room_one_to_one] a message in a two-member room notifies with the default sound", () => {
    const o = run(text("hello"), dm);
    expect(o).toMatchObject({ notify: true, highlight: false, sound: "default", rule: { rule_id: ".m.rule.room_one_to_one" } });
  });

  it("[push: .m.rule.room_one_to_one] three members is not one-to-one", () => {
    expect(run(text("hello"), { ...group, roomMemberCount: 3 }).rule?.rule_id).toBe(".m.rule.message");
  });

  it("[push: .m.rule.suppress_notices] m.notice messages do not notify", () => {
    const o = run(ev("m.room.message", { msgtype: "m.notice", body: "bot says" }), dm);
    expect(o).toMatchObject({ notify: false, highlight: false, rule: { rule_id: ".m.rule.suppress_notices" } });
  });

  it("[push: default rules] events no rule matches do not notify", () => {
    const o = run(ev("m.room.topic", { topic: "x" }, { state_key: "" }));
    expect(o).toEqual({ notify: false, highlight: false, actions: [] });
  });
});

describe("[push: default rules] mentions", () => {
  it("[push: .m.rule.is_user_mention] m.mentions.user_ids naming the user highlights", () => {
    const o = run(text("hi", { "m.mentions": { user_ids: [ALICE] } }));
    expect(o).toMatchObject({ notify: true, highlight: true, sound: "default", rule: { rule_id: ".m.rule.is_user_mention" } });
  });

  it("[push: .m.rule.is_user_mention] only the mentioned user is highlighted", () => {
    const mention = text("hi", { "m.mentions": { user_ids: [ALICE] } });
    const carol = { ...group, userId: "@carol:example.org", displayName: "Carol" };
    const o = evaluatePushRules(mention, carol, defaultRuleset("@carol:example.org"));
    expect(o).toMatchObject({ notify: true, highlight: false, rule: { rule_id: ".m.rule.message" } });
  });

  it("[push: .m.rule.is_user_mention] a user ID in the body alone is not a mention (legacy rules removed in v1.17)", () => {
    const o = run(text(`hey ${ALICE} and Alice`));
    expect(o.highlight).toBe(false);
    expect(o.rule?.rule_id).toBe(".m.rule.message");
  });

  it("[push: .m.rule.is_room_mention] @room via m.mentions highlights when the sender may notify the room", () => {
    const o = run(text("everyone!", { "m.mentions": { room: true } }), { ...group, senderPowerLevel: 50 });
    expect(o).toMatchObject({ notify: true, highlight: true, rule: { rule_id: ".m.rule.is_room_mention" } });
    expect(o.sound).toBeUndefined();
  });

  it("[push: .m.rule.is_room_mention] a sender below notifications.room gets no room highlight", () => {
    const o = run(text("everyone!", { "m.mentions": { room: true } }), { ...group, senderPowerLevel: 0 });
    expect(o).toMatchObject({ highlight: false, rule: { rule_id: ".m.rule.message" } });
    const lowered = { ...group, senderPowerLevel: 0, notificationPowerLevels: { room: 0 } };
    expect(run(text("everyone!", { "m.mentions": { room: true } }), lowered).highlight).toBe(true);
  });

  it("[push: .m.rule.is_room_mention] room must be exactly true", () => {
    const o = run(text("x", { "m.mentions": { room: "true" } }), { ...group, senderPowerLevel: 100 });
    expect(o.highlight).toBe(false);
  });

  it("[push: contains_display_name] a user rule with the deprecated condition matches on word boundaries", () => {
    const rules = defaultRuleset(ALICE);
    rules.override.splice(1, 0, {
      rule_id: "name",
      default: false,
      enabled: true,
      conditions: [{ kind: "contains_display_name" }],
      actions: ["notify", { set_tweak: "highlight" }],
    });
    expect(run(text("ask alice"), group, rules).highlight).toBe(true);
    expect(run(text("ask malice"), group, rules).highlight).toBe(false);
  });
});

describe("[push: default rules] edits, reactions, membership, state", () => {
  it("[push: .m.rule.suppress_edits] replacements do not notify; a new mention in an edit still does", () => {
    const edit = text("* hi", { "m.relates_to": { rel_type: "m.replace", event_id: "$orig" }, "m.mentions": { user_ids: [ALICE] } });
    // is_user_mention comes before suppress_edits in the override list, and an edit's top-level
    // m.mentions names only newly mentioned users (the spec's m.mentions rules for edits).
    expect(run(edit).rule?.rule_id).toBe(".m.rule.is_user_mention");
    const plain = text("* hi", { "m.relates_to": { rel_type: "m.replace", event_id: "$orig" } });
    expect(run(plain, dm)).toMatchObject({ notify: false, rule: { rule_id: ".m.rule.suppress_edits" } });
  });

  it("[push: .m.rule.reaction] reactions do not notify", () => {
    const o = run(ev("m.reaction", { "m.relates_to": { rel_type: "m.annotation", event_id: "$x", key: "👍" } }), dm);
    expect(o).toMatchObject({ notify: false, rule: { rule_id: ".m.rule.reaction" } });
  });

  it("[push: .m.rule.invite_for_me] an invite for the user notifies with sound", () => {
    const o = run(ev("m.room.member", { membership: "invite" }, { state_key: ALICE }));
    expect(o).toMatchObject({ notify: true, highlight: false, sound: "default", rule: { rule_id: ".m.rule.invite_for_me" } });
  });

  it("[push: .m.rule.member_event] other membership events do not notify", () => {
    const o = run(ev("m.room.member", { membership: "invite" }, { state_key: "@carol:example.org" }));
    expect(o).toMatchObject({ notify: false, rule: { rule_id: ".m.rule.member_event" } });
    expect(run(ev("m.room.member", { membership: "join" }, { state_key: BOB })).notify).toBe(false);
  });

  it("[push: .m.rule.tombstone] a tombstone state event highlights; a non-state one does not match", () => {
    const state = ev("m.room.tombstone", { body: "moved", replacement_room: "!new:example.org" }, { state_key: "" });
    expect(run(state)).toMatchObject({ notify: true, highlight: true, rule: { rule_id: ".m.rule.tombstone" } });
    expect(run(ev("m.room.tombstone", { body: "moved" })).rule).toBeUndefined();
  });

  it("[push: .m.rule.room.server_acl] ACL changes do not notify", () => {
    const o = run(ev("m.room.server_acl", { allow: ["*"] }, { state_key: "" }));
    expect(o).toMatchObject({ notify: false, rule: { rule_id: ".m.rule.room.server_acl" } });
  });

  it("[push: .m.rule.call] a call invite rings", () => {
    const o = run(ev("m.call.invite", { call_id: "1", lifetime: 60000, offer: { sdp: "", type: "offer" }, version: 1 }));
    expect(o).toMatchObject({ notify: true, highlight: false, sound: "ring", rule: { rule_id: ".m.rule.call" } });
  });
});

describe("[push: default rules] encrypted events", () => {
  const enc = ev("m.room.encrypted", { algorithm: "m.megolm.v1.aes-sha2", ciphertext: "AAAA" });

  it("[push: .m.rule.encrypted_room_one_to_one] encrypted events in a DM notify with sound", () => {
    expect(run(enc, dm)).toMatchObject({ notify: true, sound: "default", rule: { rule_id: ".m.rule.encrypted_room_one_to_one" } });
  });

  it("[push: .m.rule.encrypted] encrypted events in group rooms notify silently", () => {
    const o = run(enc);
    expect(o).toMatchObject({ notify: true, highlight: false, rule: { rule_id: ".m.rule.encrypted" } });
    expect(o.sound).toBeUndefined();
  });
});

describe("[push: rules] order, master, kinds, own events", () => {
  it("[push: .m.rule.master] enabled master silences everything, even mentions and user rules", () => {
    const rules = defaultRuleset(ALICE);
    rules.override[0]!.enabled = true;
    rules.override.splice(1, 0, { rule_id: "all", default: false, enabled: true, conditions: [], actions: ["notify"] });
    const o = run(text("hi", { "m.mentions": { user_ids: [ALICE] } }), group, rules);
    expect(o).toMatchObject({ notify: false, highlight: false, rule: { rule_id: ".m.rule.master" } });
  });

  it("[push: rules] disabled rules never match", () => {
    const rules = defaultRuleset(ALICE);
    rules.underride.find((r) => r.rule_id === ".m.rule.message")!.enabled = false;
    expect(run(text("hello"), group, rules).notify).toBe(false);
  });

  it("[push: rules] kinds are checked override, content, room, sender, underride", () => {
    const rules = defaultRuleset(ALICE);
    rules.sender.push({ rule_id: BOB, default: false, enabled: true, actions: [] });
    rules.room.push({ rule_id: ROOM, default: false, enabled: true, actions: ["notify", { set_tweak: "sound", value: "room" }] });
    rules.content.push({ rule_id: "cake", default: false, enabled: true, pattern: "cake", actions: ["notify", { set_tweak: "highlight" }] });
    expect(run(text("I like cake"), group, rules).rule).toEqual({ kind: "content", rule_id: "cake" });
    expect(run(text("I like pie"), group, rules)).toMatchObject({ sound: "room", rule: { kind: "room" } });
    rules.room.length = 0;
    expect(run(text("I like pie"), group, rules)).toMatchObject({ notify: false, rule: { kind: "sender", rule_id: BOB } });
    expect(run(text("I like pie", {}), group, { ...rules, sender: [] }).rule?.rule_id).toBe(".m.rule.message");
  });

  it("[push: rules] content rules match content.body words, case-insensitively", () => {
    const rules = defaultRuleset(ALICE);
    rules.content.push({ rule_id: "c", default: false, enabled: true, pattern: "cake*lie", actions: ["notify", { set_tweak: "highlight" }] });
    expect(run(text("the CAKE is a lie"), group, rules).highlight).toBe(true);
    expect(run(text("the cake is a lies"), group, rules).highlight).toBe(false);
    rules.content[0]!.pattern = undefined;
    expect(run(text("cake lie"), group, rules).highlight).toBe(false);
  });

  it("[push: rules] within a kind the first matching rule wins", () => {
    const rules = defaultRuleset(ALICE);
    rules.content.push(
      { rule_id: "time", default: false, enabled: true, pattern: "time", actions: [] },
      { rule_id: "tea", default: false, enabled: true, pattern: "tea", actions: ["notify"] },
    );
    expect(run(text("It's time for tea"), group, rules).rule?.rule_id).toBe("time");
  });

  it("[push: rules] the user's own events never notify them", () => {
    const own = { ...text("hi", { "m.mentions": { user_ids: [ALICE] } }), sender: ALICE };
    expect(run(own, dm)).toEqual({ notify: false, highlight: false, actions: [] });
  });

  it("[push: actions] highlight tweak: absent value means true, false means false; other tweaks pass through", () => {
    const rules = defaultRuleset(ALICE);
    const custom = (actions: Ruleset["override"][number]["actions"]) => {
      rules.override.splice(1, 1, { rule_id: "x", default: false, enabled: true, conditions: [], actions });
      return run(text("x"), group, rules);
    };
    rules.override.splice(1, 0, { rule_id: "x", default: false, enabled: true, conditions: [], actions: [] });
    expect(custom(["notify", { set_tweak: "highlight", value: false }]).highlight).toBe(false);
    expect(custom(["notify", { set_tweak: "highlight", value: true }]).highlight).toBe(true);
    expect(custom(["notify", { set_tweak: "highlight" }]).highlight).toBe(true);
    const o = custom(["notify", { set_tweak: "org.example.light", value: "blue" }]);
    expect(o.actions).toEqual(["notify", { set_tweak: "org.example.light", value: "blue" }]);
  });

  it("[push: historical actions] dont_notify and coalesce are ignored", () => {
    expect(stripHistoricalActions(["dont_notify"])).toEqual([]);
    expect(stripHistoricalActions(["coalesce", "notify"])).toEqual(["notify"]);
    const rules = defaultRuleset(ALICE);
    rules.override.splice(1, 0, { rule_id: "old", default: false, enabled: true, conditions: [], actions: ["dont_notify"] });
    expect(run(text("x"), group, rules)).toEqual({ notify: false, highlight: false, actions: [], rule: { kind: "override", rule_id: "old" } });
  });

  it("[push: conditions] a rule with an unknown condition is effectively disabled", () => {
    const rules = defaultRuleset(ALICE);
    rules.override.splice(1, 0, { rule_id: "f", default: false, enabled: true, conditions: [{ kind: "org.example.future" }], actions: ["notify", { set_tweak: "highlight" }] });
    expect(run(text("x"), group, rules).rule?.rule_id).toBe(".m.rule.message");
  });
});
