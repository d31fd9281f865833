import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { redactEvent } from "../../lib/redaction.ts";
import { roomVersionRules } from "../../lib/room-versions.ts";

const rules = (v: string) => roomVersionRules(v)!;
const base: JsonObject = {
  event_id: "$e:x",
  type: "m.room.message",
  room_id: "!r:x",
  sender: "@a:x",
  content: { body: "hi" },
  hashes: { sha256: "h" },
  signatures: { x: { "ed25519:1": "s" } },
  depth: 5,
  prev_events: ["$p"],
  auth_events: ["$a"],
  origin_server_ts: 7,
  origin: "x",
  membership: "join",
  prev_state: [],
  unsigned: { age: 1 },
  extra_top_level: true,
};
const ev = (type: string, content: JsonObject, stateKey = ""): JsonObject => ({ ...base, type, content, state_key: stateKey });
const redactedContent = (v: string, type: string, content: JsonObject) => redactEvent(ev(type, content), rules(v)).content;

describe("redaction: top-level keys", () => {
  it("[redaction: v1] keeps the listed keys incl. origin, membership, prev_state; drops unsigned and others", () => {
    const r = redactEvent(base, rules("1"));
    expect(Object.keys(r).sort()).toEqual(
      ["auth_events", "content", "depth", "event_id", "hashes", "membership", "origin", "origin_server_ts", "prev_events", "prev_state", "room_id", "sender", "signatures", "type"].sort(),
    );
    expect(r.content).toEqual({});
  });
  it("[redaction: v10] still keeps origin, membership, prev_state", () => {
    const r = redactEvent(base, rules("10"));
    expect(r).toHaveProperty("origin", "x");
    expect(r).toHaveProperty("membership", "join");
    expect(r).toHaveProperty("prev_state", []);
  });
  it("[redaction: v11] no longer keeps origin, membership, prev_state", () => {
    const r = redactEvent(base, rules("11"));
    expect(Object.keys(r).sort()).toEqual(
      ["auth_events", "content", "depth", "event_id", "hashes", "origin_server_ts", "prev_events", "room_id", "sender", "signatures", "type"].sort(),
    );
  });
  it("[redaction: v1] state_key is kept when present, not invented when absent", () => {
    expect(redactEvent(ev("m.room.topic", { topic: "t" }, "k"), rules("1")).state_key).toBe("k");
    expect("state_key" in redactEvent(base, rules("1"))).toBe(false);
  });
  it("does not modify its input; non-object content becomes {}", () => {
    const e = ev("m.room.member", { membership: "join", displayname: "A" });
    const before = JSON.stringify(e);
    redactEvent(e, rules("11"));
    expect(JSON.stringify(e)).toBe(before);
    expect(redactEvent({ ...base, content: "nope" }, rules("11")).content).toEqual({});
  });
});

describe("redaction: content per event type", () => {
  it("[redaction: v1] m.room.member keeps membership only", () => {
    expect(redactedContent("1", "m.room.member", { membership: "join", displayname: "A", join_authorised_via_users_server: "@b:y" })).toEqual({ membership: "join" });
  });
  it("[redaction: v8] m.room.member drops join_authorised_via_users_server", () => {
    expect(redactedContent("8", "m.room.member", { membership: "join", join_authorised_via_users_server: "@b:y" })).toEqual({ membership: "join" });
  });
  it("[redaction: v9] m.room.member keeps join_authorised_via_users_server", () => {
    expect(redactedContent("9", "m.room.member", { membership: "join", join_authorised_via_users_server: "@b:y", avatar_url: "mxc://x/y" })).toEqual({
      membership: "join",
      join_authorised_via_users_server: "@b:y",
    });
  });
  const tpi = { membership: "invite", third_party_invite: { display_name: "d", signed: { mxid: "@a:x", token: "t", signatures: {} } } };
  it("[redaction: v10] m.room.member drops third_party_invite", () => {
    expect(redactedContent("10", "m.room.member", tpi)).toEqual({ membership: "invite" });
  });
  it("[redaction: v11] m.room.member keeps only third_party_invite.signed", () => {
    expect(redactedContent("11", "m.room.member", tpi)).toEqual({ membership: "invite", third_party_invite: { signed: tpi.third_party_invite.signed } });
    expect(redactedContent("11", "m.room.member", { membership: "invite", third_party_invite: { display_name: "d" } })).toEqual({ membership: "invite" });
  });
  const create = { creator: "@a:x", room_version: "1", "m.federate": false, predecessor: { room_id: "!o:x" } };
  it("[redaction: v10] create event keeps only creator", () => {
    expect(redactedContent("10", "m.room.create", create)).toEqual({ creator: "@a:x" });
  });
  it("[redaction: v11] create event keeps all content", () => {
    expect(redactedContent("11", "m.room.create", create)).toEqual(create);
    expect(redactedContent("12", "m.room.create", { room_version: "12", additional_creators: ["@b:y"] })).toEqual({ room_version: "12", additional_creators: ["@b:y"] });
  });
  const joinRules = { join_rule: "restricted", allow: [{ type: "m.room_membership", room_id: "!s:x" }], other: 1 };
  it("[redaction: v7] m.room.join_rules keeps join_rule only", () => {
    expect(redactedContent("7", "m.room.join_rules", joinRules)).toEqual({ join_rule: "restricted" });
  });
  it("[redaction: v8] m.room.join_rules keeps join_rule and allow", () => {
    expect(redactedContent("8", "m.room.join_rules", joinRules)).toEqual({ join_rule: "restricted", allow: joinRules.allow });
  });
  const pl = { ban: 50, events: { "m.room.name": 50 }, events_default: 0, invite: 0, kick: 50, redact: 50, state_default: 50, users: { "@a:x": 100 }, users_default: 0, notifications: { room: 50 }, historical: 100 };
  it("[redaction: v10] m.room.power_levels drops invite and notifications", () => {
    const { invite: _i, notifications: _n, historical: _h, ...kept } = pl;
    expect(redactedContent("10", "m.room.power_levels", pl)).toEqual(kept);
  });
  it("[redaction: v11] m.room.power_levels keeps invite (not notifications)", () => {
    const { notifications: _n, historical: _h, ...kept } = pl;
    expect(redactedContent("11", "m.room.power_levels", pl)).toEqual(kept);
  });
  it("[redaction: v5] m.room.aliases keeps aliases", () => {
    expect(redactedContent("5", "m.room.aliases", { aliases: ["#a:x"], x: 1 })).toEqual({ aliases: ["#a:x"] });
  });
  it("[redaction: v6] m.room.aliases keeps nothing", () => {
    expect(redactedContent("6", "m.room.aliases", { aliases: ["#a:x"] })).toEqual({});
  });
  it("[redaction: v1] m.room.history_visibility keeps history_visibility", () => {
    expect(redactedContent("1", "m.room.history_visibility", { history_visibility: "shared", x: 1 })).toEqual({ history_visibility: "shared" });
  });
  it("[redaction: v10] m.room.redaction content loses redacts", () => {
    expect(redactedContent("10", "m.room.redaction", { redacts: "$x", reason: "r" })).toEqual({});
  });
  it("[redaction: v11] m.room.redaction keeps content.redacts", () => {
    expect(redactedContent("11", "m.room.redaction", { redacts: "$x", reason: "r" })).toEqual({ redacts: "$x" });
  });
  it("[redaction: v1] other event types keep no content; absent keys are not invented", () => {
    expect(redactedContent("12", "m.room.topic", { topic: "t" })).toEqual({});
    expect(redactedContent("12", "m.room.power_levels", { ban: 1 })).toEqual({ ban: 1 });
  });
  it("[hostile JSON] a __proto__ content key of a v11 create event stays data", () => {
    const content = JSON.parse('{"__proto__":{"x":1},"room_version":"11"}') as JsonObject;
    const out = redactedContent("11", "m.room.create", content) as JsonObject;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out)).toEqual(["__proto__", "room_version"]);
  });
  it("accepts the redaction rule group or the whole rules", () => {
    expect(redactEvent(base, rules("11").redaction)).toEqual(redactEvent(base, rules("11")));
  });
});
