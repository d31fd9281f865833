// Push rules and pushers through the edge Worker (SELF.fetch), stored in the
// User actor, inside workerd. https://spec.matrix.org/v1.19/client-server-api/#push-rules-api
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { defaultRuleset } from "../../lib/push/default-rules.ts";
import { evaluatePushRules } from "../../lib/push/evaluate.ts";
import type { Ruleset } from "../../lib/push/types.ts";

const BASE = "http://127.0.0.1:8787";
const V3 = "/_matrix/client/v3";
const PR = `${V3}/pushrules/global`;

type Reply = { status: number; body: JsonObject };

async function call(method: string, path: string, body?: unknown, token?: string): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await SELF.fetch(BASE + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as JsonObject) : {} };
}

let n = 0;
async function register(deviceId?: string): Promise<{ token: string; userId: string; deviceId: string }> {
  const username = `push${++n}x${Math.floor(Math.random() * 1e9)}`;
  const req = { username, password: "correct horse battery", ...(deviceId ? { device_id: deviceId } : {}) };
  const first = await call("POST", `${V3}/register`, req);
  const done = await call("POST", `${V3}/register`, { ...req, auth: { type: "m.login.dummy", session: first.body.session } });
  expect(done.status, JSON.stringify(done.body)).toBe(200);
  return { token: done.body.access_token as string, userId: done.body.user_id as string, deviceId: done.body.device_id as string };
}

async function login(userId: string, deviceId: string): Promise<string> {
  const r = await call("POST", `${V3}/login`, {
    type: "m.login.password",
    identifier: { type: "m.id.user", user: userId },
    password: "correct horse battery",
    device_id: deviceId,
  });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.access_token as string;
}

const expectError = (r: Reply, status: number, errcode: string) => {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body.errcode).toBe(errcode);
};
const ruleIds = (rules: Ruleset, kind: keyof Ruleset) => rules[kind].map((r) => r.rule_id);

describe("[push: GET pushrules]", () => {
  it("[push: GET /pushrules/] a new user has exactly the server-default ruleset for their ID", async () => {
    const u = await register();
    const all = await call("GET", `${V3}/pushrules/`, undefined, u.token);
    expect(all.status).toBe(200);
    expect(all.body).toEqual({ global: defaultRuleset(u.userId) });
    const global = await call("GET", `${PR}/`, undefined, u.token);
    expect(global.body).toEqual(defaultRuleset(u.userId));
  });

  it("[push: GET rule] one rule, its enabled flag and its actions; unknown rules are 404", async () => {
    const u = await register();
    const master = await call("GET", `${PR}/override/.m.rule.master`, undefined, u.token);
    expect(master.body).toEqual({ rule_id: ".m.rule.master", default: true, enabled: false, conditions: [], actions: [] });
    expect((await call("GET", `${PR}/override/.m.rule.master/enabled`, undefined, u.token)).body).toEqual({ enabled: false });
    expect((await call("GET", `${PR}/underride/.m.rule.call/actions`, undefined, u.token)).body).toEqual({
      actions: ["notify", { set_tweak: "sound", value: "ring" }],
    });
    expectError(await call("GET", `${PR}/override/nope`, undefined, u.token), 404, "M_NOT_FOUND");
    expectError(await call("GET", `${PR}/underride/.m.rule.master`, undefined, u.token), 404, "M_NOT_FOUND");
    expectError(await call("GET", `${PR}/bogus/.m.rule.master`, undefined, u.token), 400, "M_INVALID_PARAM");
  });

  it("[push: auth] every push rule and pusher endpoint requires an access token", async () => {
    for (const [m, p] of [
      ["GET", `${V3}/pushrules/`],
      ["GET", `${PR}/`],
      ["GET", `${PR}/override/.m.rule.master`],
      ["PUT", `${PR}/override/x`],
      ["DELETE", `${PR}/override/x`],
      ["PUT", `${PR}/override/x/enabled`],
      ["GET", `${PR}/override/x/actions`],
      ["GET", `${V3}/pushers`],
      ["POST", `${V3}/pushers/set`],
    ] as const) {
      expectError(await call(m, p, m === "GET" || m === "DELETE" ? undefined : {}), 401, "M_MISSING_TOKEN");
    }
  });
});

describe("[push: PUT/DELETE pushrules]", () => {
  it("[push: PUT rule] creates rules, orders them with before/after, and they take effect in evaluation", async () => {
    const u = await register();
    expect((await call("PUT", `${PR}/content/cake`, { pattern: "cake", actions: ["notify", { set_tweak: "sound", value: "cakealarm.wav" }] }, u.token)).status).toBe(200);
    expect((await call("PUT", `${PR}/content/cakelie?before=cake`, { pattern: "cake*lie", actions: ["notify"] }, u.token)).status).toBe(200);
    expect((await call("PUT", `${PR}/content/last?after=cake`, { pattern: "zzz", actions: [] }, u.token)).status).toBe(200);
    const rules = (await call("GET", `${PR}/`, undefined, u.token)).body as unknown as Ruleset;
    expect(ruleIds(rules, "content")).toEqual(["cakelie", "cake", "last"]);
    expect(rules.content[1]).toEqual({
      rule_id: "cake",
      default: false,
      enabled: true,
      pattern: "cake",
      actions: ["notify", { set_tweak: "sound", value: "cakealarm.wav" }],
    });
    const ctx = { userId: u.userId, roomMemberCount: 5, senderPowerLevel: 0 };
    const msg = { type: "m.room.message", sender: "@x:example.org", room_id: "!r:example.org", content: { msgtype: "m.text", body: "more cake please" } };
    expect(evaluatePushRules(msg, ctx, rules)).toMatchObject({ notify: true, sound: "cakealarm.wav", rule: { rule_id: "cake" } });
  });

  it("[push: PUT rule] override rules sit below master and above the default overrides; room and sender rules by ID", async () => {
    const u = await register();
    const body = { conditions: [{ kind: "event_match", key: "content.body", pattern: "beer" }, { kind: "room_member_count", is: "<=10" }], actions: ["notify", { set_tweak: "sound", value: "beeroclock.wav" }] };
    expect((await call("PUT", `${PR}/override/beer`, body, u.token)).status).toBe(200);
    const room = encodeURIComponent("!dj234r78wl45Gh4D:matrix.org");
    expect((await call("PUT", `${PR}/room/${room}`, { actions: [] }, u.token)).status).toBe(200);
    const sender = encodeURIComponent("@spambot:matrix.org");
    expect((await call("PUT", `${PR}/sender/${sender}`, { actions: [] }, u.token)).status).toBe(200);
    const rules = (await call("GET", `${PR}/`, undefined, u.token)).body as unknown as Ruleset;
    expect(ruleIds(rules, "override").slice(0, 3)).toEqual([".m.rule.master", "beer", ".m.rule.suppress_notices"]);
    expect(rules.override[1]).toEqual({ rule_id: "beer", default: false, enabled: true, ...body });
    expect(ruleIds(rules, "room")).toEqual(["!dj234r78wl45Gh4D:matrix.org"]);
    expect(ruleIds(rules, "sender")).toEqual(["@spambot:matrix.org"]);
  });

  it("[push: PUT rule] malformed rules and reserved IDs get the right errcodes", async () => {
    const u = await register();
    expectError(await call("PUT", `${PR}/override/.mine`, { actions: [] }, u.token), 400, "M_INVALID_PARAM");
    expectError(await call("PUT", `${PR}/override/a%2Fb`, { actions: [] }, u.token), 400, "M_INVALID_PARAM");
    expectError(await call("PUT", `${PR}/override/x`, {}, u.token), 400, "M_MISSING_PARAM");
    expectError(await call("PUT", `${PR}/override/x`, { actions: "notify" }, u.token), 400, "M_BAD_JSON");
    expectError(await call("PUT", `${PR}/override/x`, { actions: ["explode"] }, u.token), 400, "M_BAD_JSON");
    expectError(await call("PUT", `${PR}/override/x`, { actions: [], conditions: [{ kind: "event_match" }] }, u.token), 400, "M_BAD_JSON");
    expectError(await call("PUT", `${PR}/content/x`, { actions: [] }, u.token), 400, "M_MISSING_PARAM");
    expectError(await call("PUT", `${PR}/room/not-a-room`, { actions: [] }, u.token), 400, "M_INVALID_PARAM");
    expectError(await call("PUT", `${PR}/override/x?before=someRuleId`, { actions: [] }, u.token), 400, "M_UNKNOWN");
    expectError(await call("PUT", `${PR}/override/x?after=.m.rule.master`, { actions: [] }, u.token), 400, "M_INVALID_PARAM");
    expectError(await call("PUT", `${PR}/nonsense/x`, { actions: [] }, u.token), 400, "M_INVALID_PARAM");
    const raw = await SELF.fetch(`${BASE}${PR}/override/x`, { method: "PUT", headers: { Authorization: `Bearer ${u.token}` }, body: "{nope" });
    expect(raw.status).toBe(400);
    expect(((await raw.json()) as JsonObject).errcode).toBe("M_NOT_JSON");
    // Nothing was stored by the failures.
    expect((await call("GET", `${PR}/`, undefined, u.token)).body).toEqual(defaultRuleset(u.userId));
  });

  it("[push: DELETE rule] user rules go; server-default rules cannot be deleted; unknown is 404", async () => {
    const u = await register();
    await call("PUT", `${PR}/underride/mine`, { actions: ["notify"] }, u.token);
    expect((await call("DELETE", `${PR}/underride/mine`, undefined, u.token)).status).toBe(200);
    expectError(await call("GET", `${PR}/underride/mine`, undefined, u.token), 404, "M_NOT_FOUND");
    expectError(await call("DELETE", `${PR}/underride/mine`, undefined, u.token), 404, "M_NOT_FOUND");
    expectError(await call("DELETE", `${PR}/override/.m.rule.master`, undefined, u.token), 400, "M_INVALID_PARAM");
    expect((await call("GET", `${PR}/override/.m.rule.master`, undefined, u.token)).status).toBe(200);
  });

  it("[push: PUT enabled/actions] server-default rules can be switched and retuned; bad bodies are refused", async () => {
    const u = await register();
    expect((await call("PUT", `${PR}/override/.m.rule.master/enabled`, { enabled: true }, u.token)).status).toBe(200);
    expect((await call("GET", `${PR}/override/.m.rule.master/enabled`, undefined, u.token)).body).toEqual({ enabled: true });
    expect((await call("PUT", `${PR}/underride/.m.rule.message/actions`, { actions: ["notify", { set_tweak: "highlight" }] }, u.token)).status).toBe(200);
    const rule = (await call("GET", `${PR}/underride/.m.rule.message`, undefined, u.token)).body;
    expect(rule).toMatchObject({ default: true, enabled: true, actions: ["notify", { set_tweak: "highlight" }] });
    expectError(await call("PUT", `${PR}/override/.m.rule.master/enabled`, { enabled: "yes" }, u.token), 400, "M_BAD_JSON");
    expectError(await call("PUT", `${PR}/override/.m.rule.master/enabled`, {}, u.token), 400, "M_MISSING_PARAM");
    expectError(await call("PUT", `${PR}/override/nope/enabled`, { enabled: true }, u.token), 404, "M_NOT_FOUND");
    expectError(await call("PUT", `${PR}/override/nope/actions`, { actions: [] }, u.token), 404, "M_NOT_FOUND");
    expectError(await call("PUT", `${PR}/underride/.m.rule.message/actions`, { actions: [1] }, u.token), 400, "M_BAD_JSON");
  });

  it("[push: m.push_rules] every change is published as m.push_rules account data with the full ruleset", async () => {
    const u = await register();
    const path = `${V3}/user/${encodeURIComponent(u.userId)}/account_data/m.push_rules`;
    expectError(await call("GET", path, undefined, u.token), 404, "M_NOT_FOUND");
    await call("PUT", `${PR}/override/.m.rule.master/enabled`, { enabled: true }, u.token);
    const content = (await call("GET", path, undefined, u.token)).body;
    expect(content).toEqual((await call("GET", `${V3}/pushrules/`, undefined, u.token)).body);
    expect((content.global as unknown as Ruleset).override[0]!.enabled).toBe(true);
    // Clients may not write it themselves.
    expectError(await call("PUT", path, { global: {} }, u.token), 405, "M_BAD_JSON");
  });

  it("[push: rules are per user] one user's rules do not affect another's", async () => {
    const a = await register();
    const b = await register();
    await call("PUT", `${PR}/override/mine`, { actions: [] }, a.token);
    expect((await call("GET", `${PR}/`, undefined, b.token)).body).toEqual(defaultRuleset(b.userId));
  });
});

describe("[push: pushers]", () => {
  const pusher = {
    kind: "http",
    app_id: "com.example.app.ios",
    pushkey: "Xp/MzCt8/9DcSNE9cuiaoT5Ac55job3TdLSSmtmYl4A=",
    app_display_name: "Appy McAppface",
    device_display_name: "Alice's Phone",
    profile_tag: "xyz",
    lang: "en-US",
    data: { url: "https://example.com/_matrix/push/v1/notify", format: "event_id_only", custom: "kept" },
  };

  it("[push: pushers/set] set, list, update and delete", async () => {
    const u = await register();
    expect((await call("GET", `${V3}/pushers`, undefined, u.token)).body).toEqual({ pushers: [] });
    expect((await call("POST", `${V3}/pushers/set`, pusher, u.token)).status).toBe(200);
    const { profile_tag, ...noTag } = pusher;
    void profile_tag;
    expect((await call("GET", `${V3}/pushers`, undefined, u.token)).body).toEqual({ pushers: [pusher] });
    await call("POST", `${V3}/pushers/set`, { ...noTag, lang: "de" }, u.token);
    expect((await call("GET", `${V3}/pushers`, undefined, u.token)).body).toEqual({ pushers: [{ ...noTag, lang: "de" }] });
    await call("POST", `${V3}/pushers/set`, { ...pusher, pushkey: "second" }, u.token);
    expect(((await call("GET", `${V3}/pushers`, undefined, u.token)).body.pushers as unknown[]).length).toBe(2);
    expect((await call("POST", `${V3}/pushers/set`, { kind: null, app_id: pusher.app_id, pushkey: pusher.pushkey }, u.token)).status).toBe(200);
    expect((await call("GET", `${V3}/pushers`, undefined, u.token)).body).toEqual({ pushers: [{ ...pusher, pushkey: "second" }] });
  });

  it("[push: pushers/set] bad input gets the right errcodes and stores nothing", async () => {
    const u = await register();
    const { lang, data, ...partial } = pusher;
    void lang;
    void data;
    const missing = await call("POST", `${V3}/pushers/set`, partial, u.token);
    expectError(missing, 400, "M_MISSING_PARAM");
    expect(missing.body.error).toBe("Missing parameters: lang, data");
    expectError(await call("POST", `${V3}/pushers/set`, { ...pusher, kind: "email" }, u.token), 400, "M_INVALID_PARAM");
    expectError(await call("POST", `${V3}/pushers/set`, { ...pusher, data: { url: "https://example.com/push" } }, u.token), 400, "M_INVALID_PARAM");
    expectError(await call("POST", `${V3}/pushers/set`, { ...pusher, data: { url: "http://example.com/_matrix/push/v1/notify" } }, u.token), 400, "M_INVALID_PARAM");
    expectError(await call("POST", `${V3}/pushers/set`, { ...pusher, pushkey: "k".repeat(513) }, u.token), 400, "M_INVALID_PARAM");
    expectError(await call("POST", `${V3}/pushers/set`, { ...pusher, lang: 5 }, u.token), 400, "M_BAD_JSON");
    expect((await call("GET", `${V3}/pushers`, undefined, u.token)).body).toEqual({ pushers: [] });
  });

  it("[push: pushers] a pusher goes with the device that set it", async () => {
    const u = await register("PHONE");
    const laptop = await login(u.userId, "LAPTOP");
    await call("POST", `${V3}/pushers/set`, pusher, u.token);
    await call("POST", `${V3}/pushers/set`, { ...pusher, pushkey: "laptop-key" }, laptop);
    expect(((await call("GET", `${V3}/pushers`, undefined, laptop)).body.pushers as JsonObject[]).map((p) => p.pushkey)).toEqual([pusher.pushkey, "laptop-key"]);
    expect((await call("POST", `${V3}/logout`, {}, u.token)).status).toBe(200);
    expect(((await call("GET", `${V3}/pushers`, undefined, laptop)).body.pushers as JsonObject[]).map((p) => p.pushkey)).toEqual(["laptop-key"]);
  });
});
