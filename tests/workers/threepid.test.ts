// Third-party identifiers on a server without email/SMS or an identity server, the
// support well-known from settings, and the routes that are absent because the feature is.
// https://spec.matrix.org/v1.19/client-server-api/#adding-account-administrative-contact-information
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { router } from "../../party/edge/index.ts";
import { parseSupport } from "../../party/edge/support.ts";
import { ConfigError } from "../../party/env.ts";
import { call, expectError, newUser, V3 } from "./room-helpers.ts";

const PASSWORD = "correct horse battery";

const email = { client_secret: "monkeys_are_GREAT", email: "alice@example.org", send_attempt: 1 };
const msisdn = { client_secret: "monkeys_are_GREAT", country: "GB", phone_number: "07700900001", send_attempt: 1 };

describe("[cs: 3pid] requestToken without email or SMS sending", () => {
  const routes = [
    ["register/email/requestToken", email],
    ["register/msisdn/requestToken", msisdn],
    ["account/3pid/email/requestToken", email],
    ["account/3pid/msisdn/requestToken", msisdn],
    ["account/password/email/requestToken", email],
    ["account/password/msisdn/requestToken", msisdn],
  ] as const;

  it("[cs: 3pid] a valid request is refused 400 M_THREEPID_MEDIUM_NOT_SUPPORTED (the medium cannot be validated here)", async () => {
    for (const [path, body] of routes) {
      const r = await call("POST", `${V3}/${path}`, body);
      expectError(r, 400, "M_THREEPID_MEDIUM_NOT_SUPPORTED");
    }
  });

  it("[cs: 3pid] bad bodies: missing fields M_MISSING_PARAM, client_secret outside [0-9a-zA-Z.=_-]{1,255} M_INVALID_PARAM, wrong types M_BAD_JSON", async () => {
    expectError(await call("POST", `${V3}/register/email/requestToken`, { email: "a@b.c", send_attempt: 1 }), 400, "M_MISSING_PARAM");
    expectError(await call("POST", `${V3}/register/email/requestToken`, { ...email, client_secret: "no spaces" }), 400, "M_INVALID_PARAM");
    expectError(await call("POST", `${V3}/register/email/requestToken`, { ...email, client_secret: "x".repeat(256) }), 400, "M_INVALID_PARAM");
    expectError(await call("POST", `${V3}/register/email/requestToken`, { ...email, client_secret: "" }), 400, "M_INVALID_PARAM");
    expectError(await call("POST", `${V3}/register/email/requestToken`, { ...email, send_attempt: "1" }), 400, "M_BAD_JSON");
    expectError(await call("POST", `${V3}/register/email/requestToken`, { ...email, email: "not-an-address" }), 400, "M_INVALID_PARAM");
    expectError(await call("POST", `${V3}/account/3pid/msisdn/requestToken`, { ...msisdn, country: "gb" }), 400, "M_INVALID_PARAM");
    expectError(await call("POST", `${V3}/account/3pid/msisdn/requestToken`, { ...msisdn, phone_number: undefined }), 400, "M_MISSING_PARAM");
    expectError(await call("POST", `${V3}/account/password/msisdn/requestToken`, { ...msisdn, phone_number: "call me" }), 400, "M_INVALID_PARAM");
    expectError(await call("POST", `${V3}/account/password/email/requestToken`, [email]), 400, "M_BAD_JSON");
  });

  it("[cs: 3pid] registration and login offer no 3PID stage (m.login.email.identity / m.login.msisdn)", async () => {
    const reg = await call("POST", `${V3}/register`, { username: `tp${Date.now()}`, password: PASSWORD });
    expect(reg.status).toBe(401);
    const stages = JSON.stringify(reg.body.flows);
    expect(stages).not.toContain("m.login.email.identity");
    expect(stages).not.toContain("m.login.msisdn");
    const login = await call("GET", `${V3}/login`);
    expect(JSON.stringify(login.body)).not.toMatch(/email|msisdn/);
  });
});

describe("[cs: 3pid] account 3PID management", () => {
  it("[cs: 3pid] /3pid/add is behind UIA (401 with a password flow), then 400 M_THREEPID_AUTH_FAILED: no session was ever validated", async () => {
    const u = await newUser("tp");
    const first = await u.call("POST", `${V3}/account/3pid/add`, { client_secret: "d0nt-T3ll", sid: "abc123987" });
    expect(first.status).toBe(401);
    expect(first.body.flows).toEqual([{ stages: ["m.login.password"] }]);
    const session = first.body.session as string;
    const wrong = await u.call("POST", `${V3}/account/3pid/add`, {
      client_secret: "d0nt-T3ll",
      sid: "abc123987",
      auth: { type: "m.login.password", identifier: { type: "m.id.user", user: u.userId }, password: "wrong", session },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body.errcode).toBe("M_FORBIDDEN");
    const done = await u.call("POST", `${V3}/account/3pid/add`, {
      client_secret: "d0nt-T3ll",
      sid: "abc123987",
      auth: { type: "m.login.password", identifier: { type: "m.id.user", user: u.userId }, password: PASSWORD, session },
    });
    expectError(done, 400, "M_THREEPID_AUTH_FAILED");
    expect((await u.ok("GET", `${V3}/account/3pid`)).threepids).toEqual([]);
  });

  it("[cs: 3pid] /3pid/add checks its body before UIA: missing sid M_MISSING_PARAM, bad client_secret M_INVALID_PARAM; no token 401", async () => {
    const u = await newUser("tp");
    expectError(await u.call("POST", `${V3}/account/3pid/add`, { client_secret: "abc" }), 400, "M_MISSING_PARAM");
    expectError(await u.call("POST", `${V3}/account/3pid/add`, { client_secret: "a b", sid: "x" }), 400, "M_INVALID_PARAM");
    expectError(await call("POST", `${V3}/account/3pid/add`, { client_secret: "abc", sid: "x" }), 401, "M_MISSING_TOKEN");
  });

  it("[cs: 3pid] /3pid/bind and deprecated POST /3pid: no identity server is trusted → 400 M_SERVER_NOT_TRUSTED after validation", async () => {
    const u = await newUser("tp");
    const creds = { client_secret: "d0nt-T3ll", id_server: "example.org", id_access_token: "abc", sid: "abc123987" };
    expectError(await u.call("POST", `${V3}/account/3pid/bind`, creds), 400, "M_SERVER_NOT_TRUSTED");
    expectError(await u.call("POST", `${V3}/account/3pid/bind`, { ...creds, id_access_token: undefined }), 400, "M_MISSING_PARAM");
    expectError(await u.call("POST", `${V3}/account/3pid`, { three_pid_creds: creds }), 400, "M_SERVER_NOT_TRUSTED");
    expectError(await u.call("POST", `${V3}/account/3pid`, {}), 400, "M_MISSING_PARAM");
    expectError(await u.call("POST", `${V3}/account/3pid`, { three_pid_creds: "x" }), 400, "M_BAD_JSON");
    expectError(await call("POST", `${V3}/account/3pid/bind`, creds), 401, "M_MISSING_TOKEN");
  });

  it("[cs: 3pid] /3pid/delete and /3pid/unbind: nothing to remove, no identity server known → 200 id_server_unbind_result no-support", async () => {
    const u = await newUser("tp");
    for (const path of ["account/3pid/delete", "account/3pid/unbind"]) {
      expect(await u.ok("POST", `${V3}/${path}`, { medium: "email", address: "a@example.org" })).toEqual({ id_server_unbind_result: "no-support" });
      expect(await u.ok("POST", `${V3}/${path}`, { medium: "msisdn", address: "447700900001", id_server: "example.org" })).toEqual({
        id_server_unbind_result: "no-support",
      });
      expectError(await u.call("POST", `${V3}/${path}`, { medium: "pigeon", address: "x" }), 400, "M_INVALID_PARAM");
      expectError(await u.call("POST", `${V3}/${path}`, { medium: "email" }), 400, "M_MISSING_PARAM");
      expectError(await call("POST", `${V3}/${path}`, { medium: "email", address: "a@example.org" }), 401, "M_MISSING_TOKEN");
    }
  });
});

async function get(path: string, vars: Record<string, string> = {}): Promise<{ status: number; body: JsonObject }> {
  const ctx = createExecutionContext();
  const res = await router.handle(new Request(`http://127.0.0.1:8787${path}`), { ...env, ...vars }, ctx);
  await waitOnExecutionContext(ctx);
  return { status: res.status, body: await res.json<JsonObject>() };
}

describe("[cs: support] /.well-known/matrix/support", () => {
  it("[cs: support] not configured → 404 (the spec's 'no support information available')", async () => {
    const r = await get("/.well-known/matrix/support");
    expect(r.status).toBe(404);
    expect(r.body.errcode).toBe("M_NOT_FOUND");
  });

  it("[cs: support] contacts and support_page from SUPPORT_CONTACTS / SUPPORT_PAGE, without authentication", async () => {
    const contacts = [
      { role: "m.role.admin", matrix_id: "@admin:example.org", email_address: "admin@example.org" },
      { role: "m.role.security", email_address: "security@example.org" },
    ];
    const r = await get("/.well-known/matrix/support", { SUPPORT_CONTACTS: JSON.stringify(contacts), SUPPORT_PAGE: "https://example.org/support.html" });
    expect(r).toEqual({ status: 200, body: { contacts, support_page: "https://example.org/support.html" } });
    const pageOnly = await get("/.well-known/matrix/support", { SUPPORT_PAGE: "https://example.org/help" });
    expect(pageOnly).toEqual({ status: 200, body: { support_page: "https://example.org/help" } });
  });

  it("[config] SUPPORT_CONTACTS: a contact needs a role and matrix_id or email_address; bad JSON, unknown fields, bad URLs are ConfigErrors", () => {
    for (const bad of [
      { SUPPORT_CONTACTS: "not json" },
      { SUPPORT_CONTACTS: "[]" },
      { SUPPORT_CONTACTS: '[{"role":"m.role.admin"}]' },
      { SUPPORT_CONTACTS: '[{"matrix_id":"@a:b.c"}]' },
      { SUPPORT_CONTACTS: '[{"role":"admin","matrix_id":"@a:b.c"}]' },
      { SUPPORT_CONTACTS: '[{"role":"m.role.admin","matrix_id":"a:b.c"}]' },
      { SUPPORT_CONTACTS: '[{"role":"m.role.admin","email_address":"nope"}]' },
      { SUPPORT_CONTACTS: '[{"role":"m.role.admin","email_address":"a@b.c","phone":"1"}]' },
      { SUPPORT_PAGE: "example.org/support" },
      { SUPPORT_PAGE: "ftp://example.org/support" },
    ]) {
      expect(() => parseSupport(bad), JSON.stringify(bad)).toThrow(ConfigError);
    }
    expect(parseSupport({ SUPPORT_CONTACTS: '[{"role":"org.example.abuse","email_address":"abuse@example.org"}]' })).toEqual({
      contacts: [{ role: "org.example.abuse", email_address: "abuse@example.org" }],
    });
    expect(parseSupport({})).toBeNull();
  });
});

describe("[cs: absent] features Parley does not have answer the spec's 'not supported'", () => {
  it("[cs: absent] /auth_metadata (no OAuth 2.0 API): 404 M_UNRECOGNIZED, as the spec's authentication API discovery requires", async () => {
    expectError(await call("GET", "/_matrix/client/v1/auth_metadata"), 404, "M_UNRECOGNIZED");
  });

  it("[cs: absent] SSO redirects without SSO, policy_server well-known: 404 M_UNRECOGNIZED", async () => {
    expectError(await call("GET", `${V3}/login/sso/redirect?redirectUrl=https%3A%2F%2Fexample.org`), 404, "M_UNRECOGNIZED");
    expectError(await call("GET", `${V3}/login/sso/redirect/oidc-github?redirectUrl=https%3A%2F%2Fexample.org`), 404, "M_UNRECOGNIZED");
    expectError(await call("GET", "/.well-known/matrix/policy_server"), 404, "M_UNRECOGNIZED");
    // And login offers no m.login.sso flow to send clients there.
    expect(JSON.stringify((await call("GET", `${V3}/login`)).body)).not.toContain("m.login.sso");
  });
});
