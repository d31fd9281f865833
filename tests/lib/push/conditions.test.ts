// Push rule conditions, glob matching and dotted property paths, with the
// spec's own examples. https://spec.matrix.org/v1.19/client-server-api/#conditions-1
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../lib/json.ts";
import { conditionMatches, parseMemberCountIs, type PushContext } from "../../../lib/push/conditions.ts";
import { splitDottedPath, valueAtPath } from "../../../lib/dotted-path.ts";
import { globMatchesWhole, globMatchesWords } from "../../../lib/push/glob.ts";
import type { PushCondition } from "../../../lib/push/types.ts";

const ctx: PushContext = { userId: "@alice:example.org", displayName: "Alice", roomMemberCount: 5, senderPowerLevel: 0 };
const match = (c: PushCondition, event: JsonObject, over: Partial<PushContext> = {}) =>
  conditionMatches(c, event, { ...ctx, ...over });

const topic = (t: unknown): JsonObject => ({ type: "m.room.topic", state_key: "", content: { topic: t } as JsonObject });
const body = (b: unknown): JsonObject => ({ type: "m.room.message", content: { msgtype: "m.text", body: b } as JsonObject });

describe("[appendices: dot-separated property paths]", () => {
  it("[appendices: dotted paths] dots and backslashes in names are escaped with a backslash", () => {
    expect(splitDottedPath("content.body")).toEqual(["content", "body"]);
    expect(splitDottedPath("content.m\\.relates_to")).toEqual(["content", "m.relates_to"]);
    expect(splitDottedPath("content.m\\\\foo")).toEqual(["content", "m\\foo"]);
  });

  it("[appendices: dotted paths] other escape sequences are left as they are (\\x is a backslash and x)", () => {
    expect(splitDottedPath("content.a\\xb")).toEqual(["content", "a\\xb"]);
    expect(splitDottedPath("a\\")).toEqual(["a\\"]);
  });

  it("[appendices: dotted paths] lookup walks objects and stops at anything else", () => {
    const ev: JsonObject = { content: { "m.relates_to": { rel_type: "m.replace" }, list: [1], s: "x" } };
    expect(valueAtPath(ev, "content.m\\.relates_to.rel_type")).toBe("m.replace");
    expect(valueAtPath(ev, "content.m.relates_to.rel_type")).toBeUndefined();
    expect(valueAtPath(ev, "content.s.length")).toBeUndefined();
    expect(valueAtPath(ev, "content.list.0")).toBeUndefined();
    expect(valueAtPath(ev, "content.__proto__")).toBeUndefined();
    expect(valueAtPath(ev, "content.constructor")).toBeUndefined();
  });
});

describe("[appendices: glob-style matching]", () => {
  it("[appendices: glob] * matches zero or more characters, ? exactly one, case-insensitively", () => {
    expect(globMatchesWhole("lunc?*", "Lunch plans")).toBe(true);
    expect(globMatchesWhole("lunc?*", "LUNCH")).toBe(true);
    expect(globMatchesWhole("lunc?*", " lunch")).toBe(false);
    expect(globMatchesWhole("lunc?*", "lunc")).toBe(false);
    expect(globMatchesWhole("a*", "a\nb")).toBe(true);
  });

  it("[appendices: glob] regex metacharacters in a pattern are literal", () => {
    expect(globMatchesWhole("a.b", "a.b")).toBe(true);
    expect(globMatchesWhole("a.b", "axb")).toBe(false);
    expect(globMatchesWhole("(x)+[y]", "(x)+[y]")).toBe(true);
    expect(globMatchesWhole("^$|\\", "^$|\\")).toBe(true);
  });

  it("[push: event_match content.body] a match must start and end at word boundaries", () => {
    expect(globMatchesWords("ex*ple", "An example event.")).toBe(true);
    expect(globMatchesWords("ex*ple", "exple")).toBe(true);
    expect(globMatchesWords("ex*ple", "An exciting triple-whammy")).toBe(true);
    expect(globMatchesWords("cake", "pancakes for tea")).toBe(false);
    expect(globMatchesWords("cake", "cake_lover")).toBe(false); // _ is a word character
    expect(globMatchesWords("cake", "cake's great")).toBe(true);
    expect(globMatchesWords("cake", "CAKE!")).toBe(true);
  });
});

describe("[push: conditions] event_match", () => {
  const c = { kind: "event_match", key: "content.topic", pattern: "lunc?*" };

  it("[push: event_match] the spec's topic example matches the whole value", () => {
    expect(match(c, topic("Lunch plans"))).toBe(true);
    expect(match(c, topic("LUNCH"))).toBe(true);
    expect(match(c, topic(" lunch"))).toBe(false);
    expect(match(c, topic("lunc"))).toBe(false);
  });

  it("[push: event_match] absent or non-string values never match, even for *", () => {
    const star = { kind: "event_match", key: "content.topic", pattern: "*" };
    expect(match(star, topic(null))).toBe(false);
    expect(match(star, topic(5))).toBe(false);
    expect(match(star, { type: "m.room.topic", content: {} })).toBe(false);
    expect(match(star, topic(""))).toBe(true);
  });

  it("[push: event_match] content.body matches words, other keys the whole value", () => {
    expect(match({ kind: "event_match", key: "content.body", pattern: "ex*ple" }, body("An exciting triple-whammy"))).toBe(true);
    const whole = { kind: "event_match", key: "content.msgtype", pattern: "m.text" };
    expect(match(whole, body("hi"))).toBe(true);
    expect(match({ ...whole, pattern: "text" }, body("hi"))).toBe(false);
  });

  it("[push: event_match] there is no implicit state_key condition", () => {
    const t = { kind: "event_match", key: "type", pattern: "m.room.topic" };
    expect(match(t, { type: "m.room.topic", content: {} })).toBe(true);
    expect(match({ kind: "event_match", key: "state_key", pattern: "" }, { type: "m.room.topic", content: {} })).toBe(false);
  });

  it("[push: event_match] a condition without key or pattern does not match", () => {
    expect(match({ kind: "event_match", key: "type" }, body("x"))).toBe(false);
    expect(match({ kind: "event_match", pattern: "*" }, body("x"))).toBe(false);
  });
});

describe("[push: conditions] event_property_is / event_property_contains", () => {
  const create: JsonObject = { type: "m.room.create", state_key: "", content: { "m.federate": true, n: 1, s: "true", z: null } };

  it("[push: event_property_is] exact values with escaped keys; no type casts", () => {
    expect(match({ kind: "event_property_is", key: "content.m\\.federate", value: true }, create)).toBe(true);
    expect(match({ kind: "event_property_is", key: "content.m\\.federate", value: "true" }, create)).toBe(false);
    expect(match({ kind: "event_property_is", key: "content.m\\.federate", value: 1 }, create)).toBe(false);
    expect(match({ kind: "event_property_is", key: "content.n", value: 1 }, create)).toBe(true);
    expect(match({ kind: "event_property_is", key: "content.n", value: true }, create)).toBe(false);
    expect(match({ kind: "event_property_is", key: "content.s", value: "true" }, create)).toBe(true);
    expect(match({ kind: "event_property_is", key: "content.z", value: null }, create)).toBe(true);
    expect(match({ kind: "event_property_is", key: "content.absent", value: null }, create)).toBe(false);
  });

  it("[push: event_property_is] compound or non-integer values never match", () => {
    const ev: JsonObject = { content: { o: {}, a: [], f: 1.5 } };
    expect(match({ kind: "event_property_is", key: "content.o", value: null }, ev)).toBe(false);
    expect(match({ kind: "event_property_is", key: "content.a", value: null }, ev)).toBe(false);
    expect(match({ kind: "event_property_is", key: "content.f", value: 1.5 }, ev)).toBe(false);
    expect(match({ kind: "event_property_is", key: "content.o" }, ev)).toBe(false);
  });

  it("[push: event_property_contains] the spec's alt_aliases example", () => {
    const ev: JsonObject = {
      type: "m.room.canonical_alias",
      content: { alias: "#somewhere:localhost", alt_aliases: ["#somewhere:example.org", "#myroom:example.com"] },
    };
    expect(match({ kind: "event_property_contains", key: "content.alt_aliases", value: "#myroom:example.com" }, ev)).toBe(true);
    expect(match({ kind: "event_property_contains", key: "content.alt_aliases", value: ":example.com" }, ev)).toBe(false);
    expect(match({ kind: "event_property_contains", key: "content.alias", value: "#somewhere:localhost" }, ev)).toBe(false);
  });

  it("[push: event_property_contains] compound array items are ignored; types are exact", () => {
    const ev: JsonObject = { content: { xs: [{ a: 1 }, [1], 1, "1", true, null] } };
    expect(match({ kind: "event_property_contains", key: "content.xs", value: 1 }, ev)).toBe(true);
    expect(match({ kind: "event_property_contains", key: "content.xs", value: "1" }, ev)).toBe(true);
    expect(match({ kind: "event_property_contains", key: "content.xs", value: null }, ev)).toBe(true);
    expect(match({ kind: "event_property_contains", key: "content.xs", value: false }, ev)).toBe(false);
    expect(match({ kind: "event_property_contains", key: "content.ys", value: 1 }, ev)).toBe(false);
  });
});

describe("[push: conditions] contains_display_name", () => {
  const c = { kind: "contains_display_name" };

  it("[push: contains_display_name] the room display name as a word of the body", () => {
    expect(match(c, body("hey alice, lunch?"))).toBe(true);
    expect(match(c, body("Alice"))).toBe(true);
    expect(match(c, body("malice aforethought"))).toBe(false);
    expect(match(c, body("alice_bot says hi"))).toBe(false);
  });

  it("[push: contains_display_name] the name is literal text, not a glob or regex", () => {
    expect(match(c, body("hi A.ice"), { displayName: "A.ice" })).toBe(true);
    expect(match(c, body("hi Abice"), { displayName: "A.ice" })).toBe(false);
    expect(match(c, body("hi A*"), { displayName: "A*" })).toBe(true);
    expect(match(c, body("hi Abc"), { displayName: "A*" })).toBe(false);
  });

  it("[push: contains_display_name] no display name, an empty one, or no string body: no match", () => {
    expect(match(c, body("alice"), { displayName: null })).toBe(false);
    expect(match(c, body("alice"), { displayName: "" })).toBe(false);
    expect(match(c, body(7))).toBe(false);
  });
});

describe("[push: conditions] room_member_count", () => {
  it("[push: room_member_count] 'is' grammar: optional ==, <, >, <=, >= then a decimal integer", () => {
    expect(parseMemberCountIs("2")).toEqual({ op: "==", n: 2 });
    expect(parseMemberCountIs("==2")).toEqual({ op: "==", n: 2 });
    expect(parseMemberCountIs("<=10")).toEqual({ op: "<=", n: 10 });
    for (const bad of ["", "=2", "=<2", "2.0", "-1", " 2", "two", ">"]) expect(parseMemberCountIs(bad)).toBeNull();
  });

  it("[push: room_member_count] each comparison against the current member count", () => {
    const at = (is: string, n: number) => match({ kind: "room_member_count", is }, body("x"), { roomMemberCount: n });
    expect(at("2", 2)).toBe(true);
    expect(at("2", 3)).toBe(false);
    expect(at("==3", 3)).toBe(true);
    expect(at("<3", 2)).toBe(true);
    expect(at("<3", 3)).toBe(false);
    expect(at(">3", 4)).toBe(true);
    expect(at(">3", 3)).toBe(false);
    expect(at("<=3", 3)).toBe(true);
    expect(at("<=3", 4)).toBe(false);
    expect(at(">=3", 3)).toBe(true);
    expect(at(">=3", 2)).toBe(false);
    expect(at("bogus", 2)).toBe(false);
  });
});

describe("[push: conditions] sender_notification_permission", () => {
  const room = { kind: "sender_notification_permission", key: "room" };

  it("[push: sender_notification_permission] notifications.room defaults to 50", () => {
    expect(match(room, body("x"), { senderPowerLevel: 50 })).toBe(true);
    expect(match(room, body("x"), { senderPowerLevel: 49 })).toBe(false);
  });

  it("[push: sender_notification_permission] the level comes from the power levels' notifications", () => {
    expect(match(room, body("x"), { senderPowerLevel: 10, notificationPowerLevels: { room: 10 } })).toBe(true);
    expect(match(room, body("x"), { senderPowerLevel: 60, notificationPowerLevels: { room: 100 } })).toBe(false);
    expect(match(room, body("x"), { senderPowerLevel: 20, notificationPowerLevels: { room: "20" } })).toBe(true);
    expect(match(room, body("x"), { senderPowerLevel: Infinity, notificationPowerLevels: { room: 100 } })).toBe(true);
  });

  it("[push: sender_notification_permission] other keys need a level in the power levels", () => {
    const custom = { kind: "sender_notification_permission", key: "custom" };
    expect(match(custom, body("x"), { senderPowerLevel: 100 })).toBe(false);
    expect(match(custom, body("x"), { senderPowerLevel: 5, notificationPowerLevels: { custom: 5 } })).toBe(true);
    expect(match({ kind: "sender_notification_permission" }, body("x"), { senderPowerLevel: 100 })).toBe(false);
  });
});

describe("[push: conditions] unknown conditions", () => {
  it("[push: conditions] unrecognised conditions MUST NOT match any events", () => {
    expect(match({ kind: "org.example.future" }, body("x"))).toBe(false);
    expect(match({ kind: "device", profile_tag: "x" }, body("x"))).toBe(false);
  });
});
