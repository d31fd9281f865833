// OpenID tokens: POST /user/{userId}/openid/request_token and the federation
// GET /openid/userinfo that checks them, through the edge Worker, inside workerd.
// https://spec.matrix.org/v1.19/client-server-api/#openid
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { hashToken } from "../../lib/access-token.ts";
import { router } from "../../party/edge/index.ts";
import { BASE, call, enc, expectError, newUser, SERVER_NAME, V3 } from "./room-helpers.ts";

const requestPath = (userId: string) => `${V3}/user/${enc(userId)}/openid/request_token`;
const userinfo = (token: string) => `/_matrix/federation/v1/openid/userinfo?access_token=${enc(token)}`;

describe("[cs: openid] request_token and federation userinfo", () => {
  it("[cs: openid] a token is issued with the spec's fields and exchanges for the user's ID", async () => {
    const alice = await newUser("oid");
    const t = await alice.ok("POST", requestPath(alice.userId), {});
    expect(t).toEqual({ access_token: expect.any(String), token_type: "Bearer", matrix_server_name: SERVER_NAME, expires_in: 3600 });
    expect(await call("GET", userinfo(t.access_token as string))).toEqual({ status: 200, body: { sub: alice.userId } });
    // Only the token's hash is stored.
    expect(await env.SECRETS.get(`openid:${t.access_token as string}`)).toBeNull();
    expect(await env.SECRETS.get(`openid:${await hashToken(t.access_token as string)}`)).not.toBeNull();
  });

  it("[cs: openid] the OpenID token is not an access token, and an access token is not an OpenID token", async () => {
    const alice = await newUser("oid");
    const t = (await alice.ok("POST", requestPath(alice.userId), {})).access_token as string;
    expectError(await call("GET", `${V3}/account/whoami`, undefined, t), 401, "M_UNKNOWN_TOKEN");
    expectError(await call("POST", requestPath(alice.userId), {}, t), 401, "M_UNKNOWN_TOKEN");
    expectError(await call("GET", userinfo(alice.token)), 401, "M_UNKNOWN_TOKEN");
  });

  it("[cs: openid] unknown or expired tokens are 401 M_UNKNOWN_TOKEN; a missing one 400 M_MISSING_PARAM", async () => {
    const alice = await newUser("oid");
    expectError(await call("GET", userinfo("oid_" + "x".repeat(32))), 401, "M_UNKNOWN_TOKEN");
    expectError(await call("GET", "/_matrix/federation/v1/openid/userinfo"), 400, "M_MISSING_PARAM");
    // An entry past its expiry (KV may keep it up to its own TTL) is refused.
    const token = "oid_" + "e".repeat(32);
    await env.SECRETS.put(`openid:${await hashToken(token)}`, JSON.stringify({ user_id: alice.userId, expires_ts: Date.now() - 1 }));
    expectError(await call("GET", userinfo(token)), 401, "M_UNKNOWN_TOKEN");
  });

  it("[cs: openid] only for yourself (403 M_FORBIDDEN); body must be a JSON object; lifetime is OPENID_TOKEN_LIFETIME_SECONDS", async () => {
    const alice = await newUser("oid");
    const bob = await newUser("oid");
    expectError(await alice.call("POST", requestPath(bob.userId), {}), 403, "M_FORBIDDEN");
    expectError(await alice.call("POST", requestPath(alice.userId), [1]), 400, "M_BAD_JSON");
    expectError(await call("POST", requestPath(alice.userId), {}), 401, "M_MISSING_TOKEN");
    const ctx = createExecutionContext();
    const req = new Request(BASE + requestPath(alice.userId), { method: "POST", headers: { Authorization: `Bearer ${alice.token}` }, body: "{}" });
    const res = await router.handle(req, { ...env, OPENID_TOKEN_LIFETIME_SECONDS: "120" }, ctx);
    await waitOnExecutionContext(ctx);
    expect(((await res.json()) as JsonObject).expires_in).toBe(120);
  });
});
