// Account endpoints through the edge Worker (SELF.fetch), inside workerd.
// The test env has REGISTRATION_MODE=open, rate limits off and a shared secret (vitest.config.ts);
// other settings are exercised by handing the router a modified env.
import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { router } from "../../party/edge/index.ts";
import { registrationMac } from "../../party/edge/admin.ts";
import { serverActor } from "../../party/stubs.ts";

const BASE = "http://127.0.0.1:8787";
const SERVER_NAME = "localhost:8787";
const PASSWORD = "correct horse battery";
const V3 = "/_matrix/client/v3";

type Reply = { status: number; body: JsonObject; res: Response };

async function call(method: string, path: string, body?: unknown, token?: string, raw?: string): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined || raw !== undefined) headers["Content-Type"] = "application/json";
  const res = await SELF.fetch(BASE + path, { method, headers, body: raw ?? (body === undefined ? undefined : JSON.stringify(body)) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as JsonObject) : {}, res };
}

/** The router with a modified environment (another registration mode, rate limits on). */
async function callWith(vars: Record<string, string>, method: string, path: string, body?: unknown): Promise<Reply> {
  const ctx = createExecutionContext();
  const req = new Request(BASE + path, {
    method,
    headers: { "Content-Type": "application/json", "CF-Connecting-IP": "198.51.100.7" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const res = await router.handle(req, { ...env, ...vars }, ctx);
  await waitOnExecutionContext(ctx);
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as JsonObject) : {}, res };
}

let n = 0;
const freshName = (tag: string) => `${tag}${++n}x${Math.floor(Math.random() * 1e9)}`;

/** Register through the two-step dummy flow; returns the login response. */
async function register(extra: JsonObject = {}, username = freshName("e")): Promise<JsonObject> {
  const first = await call("POST", `${V3}/register`, { username, password: PASSWORD, ...extra });
  expect(first.status).toBe(401);
  const done = await call("POST", `${V3}/register`, {
    username,
    password: PASSWORD,
    ...extra,
    auth: { type: "m.login.dummy", session: first.body.session },
  });
  expect(done.status, JSON.stringify(done.body)).toBe(200);
  return done.body;
}

const expectError = (r: Reply, status: number, errcode: string) => {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body.errcode).toBe(errcode);
};

describe("[cs: register] POST /register", () => {
  it("[cs: register] dummy flow: 401 with flows and session, then 200 with a working token", async () => {
    const username = freshName("reg");
    const first = await call("POST", `${V3}/register`, { username, password: PASSWORD });
    expect(first.status).toBe(401);
    expect(first.body.flows).toEqual([{ stages: ["m.login.dummy"] }]);
    expect(first.body).not.toHaveProperty("errcode");
    const done = await call("POST", `${V3}/register`, { username, password: PASSWORD, auth: { type: "m.login.dummy", session: first.body.session } });
    expect(done.status).toBe(200);
    expect(done.body.user_id).toBe(`@${username}:${SERVER_NAME}`);
    const who = await call("GET", `${V3}/account/whoami`, undefined, done.body.access_token as string);
    expect(who.body).toEqual({ user_id: done.body.user_id, device_id: done.body.device_id, is_guest: false });
  });

  it("[cs: register] usernames are lower-cased onto the localpart grammar", async () => {
    const name = freshName("Mixed");
    const s = await register({}, name);
    expect(s.user_id).toBe(`@${name.toLowerCase()}:${SERVER_NAME}`);
  });

  it("[cs: register] a flow-discovery request without username continues after the client picks one", async () => {
    const probe = await call("POST", `${V3}/register`, {});
    expect(probe.status).toBe(401);
    const username = freshName("later");
    const done = await call("POST", `${V3}/register`, { username, password: PASSWORD, auth: { type: "m.login.dummy", session: probe.body.session } });
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(done.body.user_id).toBe(`@${username}:${SERVER_NAME}`);
  });

  it("[cs: register] without a username the server generates a valid user ID", async () => {
    const first = await call("POST", `${V3}/register`, { password: PASSWORD });
    const done = await call("POST", `${V3}/register`, { password: PASSWORD, auth: { type: "m.login.dummy", session: first.body.session } });
    expect(done.status).toBe(200);
    expect(done.body.user_id).toMatch(/^@u[0-9a-f]{12}:localhost:8787$/);
  });

  it("[cs: register] refresh_token: true gives an expiring access token and a refresh token", async () => {
    const s = await register({ refresh_token: true, device_id: "REFRESHDEV", initial_device_display_name: "Phone" });
    expect(s.device_id).toBe("REFRESHDEV");
    expect(s.expires_in_ms).toBe(300_000);
    expect(s.refresh_token).toMatch(/^syr_/);
    const dev = await call("GET", `${V3}/devices/REFRESHDEV`, undefined, s.access_token as string);
    expect(dev.body.display_name).toBe("Phone");
  });

  it("[cs: register] inhibit_login returns only the user ID", async () => {
    const s = await register({ inhibit_login: true });
    expect(Object.keys(s)).toEqual(["user_id"]);
  });

  it("[cs: register] taken, invalid and reserved usernames", async () => {
    const s = await register();
    const taken = await call("POST", `${V3}/register`, { username: (s.user_id as string).slice(1).split(":")[0], password: PASSWORD });
    expectError(taken, 400, "M_USER_IN_USE");
    expectError(await call("POST", `${V3}/register`, { username: "has space", password: PASSWORD }), 400, "M_INVALID_USERNAME");
    expectError(await call("POST", `${V3}/register`, { username: "ümlaut", password: PASSWORD }), 400, "M_INVALID_USERNAME");
    expectError(await call("POST", `${V3}/register`, { username: "admin", password: PASSWORD }), 400, "M_INVALID_USERNAME");
    expectError(await call("POST", `${V3}/register`, { username: "_bridge_bot", password: PASSWORD }), 400, "M_INVALID_USERNAME");
    expectError(await call("POST", `${V3}/register`, { username: "x".repeat(250), password: PASSWORD }), 400, "M_INVALID_USERNAME");
  });

  it("[cs: register] weak password is M_WEAK_PASSWORD; missing password is M_MISSING_PARAM", async () => {
    expectError(await call("POST", `${V3}/register`, { username: freshName("w"), password: "short" }), 400, "M_WEAK_PASSWORD");
    const username = freshName("nopw");
    const first = await call("POST", `${V3}/register`, { username });
    expect(first.status).toBe(401);
    expectError(await call("POST", `${V3}/register`, { username, auth: { type: "m.login.dummy", session: first.body.session } }), 400, "M_MISSING_PARAM");
  });

  it("[cs: register] wrong types are 400 M_BAD_JSON", async () => {
    for (const body of [
      { username: 5, password: PASSWORD },
      { username: freshName("t"), password: 12345678 },
      { username: freshName("t"), password: PASSWORD, inhibit_login: "yes" },
      { username: freshName("t"), password: PASSWORD, refresh_token: 1 },
      { username: freshName("t"), password: PASSWORD, device_id: ["x"] },
      { username: freshName("t"), password: PASSWORD, auth: "dummy" },
      { username: freshName("t"), password: PASSWORD, auth: { type: 7 } },
    ]) {
      expectError(await call("POST", `${V3}/register`, body), 400, "M_BAD_JSON");
    }
  });

  it("[cs: register] malformed and non-object bodies", async () => {
    expectError(await call("POST", `${V3}/register`, undefined, undefined, "{not json"), 400, "M_NOT_JSON");
    expectError(await call("POST", `${V3}/register`, undefined, undefined, "[1,2]"), 400, "M_BAD_JSON");
  });

  it("[cs: register] kind=guest is 403 (no guest accounts); unknown kind 400", async () => {
    expectError(await call("POST", `${V3}/register?kind=guest`, {}), 403, "M_GUEST_ACCESS_FORBIDDEN");
    expectError(await call("POST", `${V3}/register?kind=robot`, {}), 400, "M_INVALID_PARAM");
  });

  it("[cs: register] closed mode is 403 M_FORBIDDEN", async () => {
    expectError(await callWith({ REGISTRATION_MODE: "closed" }, "POST", `${V3}/register`, { username: freshName("c"), password: PASSWORD }), 403, "M_FORBIDDEN");
  });

  it("[cs: registration_token] token mode offers m.login.registration_token and checks the token", async () => {
    const token = await serverActor(env).createRegistrationToken({ usesAllowed: 1 });
    const vars = { REGISTRATION_MODE: "token" };
    const username = freshName("tok");
    const first = await callWith(vars, "POST", `${V3}/register`, { username, password: PASSWORD });
    expect(first.status).toBe(401);
    expect(first.body.flows).toEqual([{ stages: ["m.login.registration_token"] }]);
    const wrong = await callWith(vars, "POST", `${V3}/register`, { username, password: PASSWORD, auth: { type: "m.login.registration_token", token: "wrong", session: first.body.session } });
    expect(wrong.status).toBe(401);
    expect(wrong.body.errcode).toBe("M_FORBIDDEN");
    const v = await callWith(vars, "GET", `/_matrix/client/v1/register/m.login.registration_token/validity?token=${token}`);
    expect(v.body).toEqual({ valid: true });
    const done = await callWith(vars, "POST", `${V3}/register`, { username, password: PASSWORD, auth: { type: "m.login.registration_token", token, session: first.body.session } });
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    const after = await callWith(vars, "GET", `/_matrix/client/v1/register/m.login.registration_token/validity?token=${token}`);
    expect(after.body).toEqual({ valid: false });
    expectError(await callWith(vars, "GET", `/_matrix/client/v1/register/m.login.registration_token/validity`), 400, "M_MISSING_PARAM");
    expectError(await callWith(vars, "GET", `/_matrix/client/v1/register/m.login.registration_token/validity?token=a%20b`), 400, "M_INVALID_PARAM");
    // In open mode the dummy stage is not accepted as a substitute, and vice versa.
    expectError(await callWith(vars, "POST", `${V3}/register`, { username: freshName("tok"), password: PASSWORD, auth: { type: "m.login.dummy" } }), 400, "M_UNRECOGNIZED");
  });

  it("[cs: rate limiting] registration is rate limited per client address", async () => {
    const vars = { RATE_LIMITS_ENABLED: "true", RATE_REGISTER_BURST: "2", RATE_REGISTER_PER_SECOND: "0.001" };
    const statuses: number[] = [];
    let last: Reply | undefined;
    for (let i = 0; i < 3; i++) {
      last = await callWith(vars, "GET", `${V3}/register/available?username=${freshName("rl")}`);
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 429]);
    expect(last!.body.errcode).toBe("M_LIMIT_EXCEEDED");
    expect(last!.body.retry_after_ms).toBeGreaterThan(0);
  });

  it("[cs: rate limiting] login is rate limited per client address", async () => {
    const vars = { RATE_LIMITS_ENABLED: "true", RATE_LOGIN_BURST: "1", RATE_LOGIN_PER_SECOND: "0.001" };
    const body = { type: "m.login.password", identifier: { type: "m.id.user", user: "nobody" }, password: PASSWORD };
    expect((await callWith(vars, "POST", `${V3}/login`, body)).status).toBe(403);
    expectError(await callWith(vars, "POST", `${V3}/login`, body), 429, "M_LIMIT_EXCEEDED");
  });
});

describe("[cs: register/available]", () => {
  it("free names are available, taken ones M_USER_IN_USE, bad ones M_INVALID_USERNAME", async () => {
    expect((await call("GET", `${V3}/register/available?username=${freshName("free")}`)).body).toEqual({ available: true });
    const s = await register();
    const lp = (s.user_id as string).slice(1).split(":")[0];
    expectError(await call("GET", `${V3}/register/available?username=${lp}`), 400, "M_USER_IN_USE");
    expectError(await call("GET", `${V3}/register/available?username=a%20b`), 400, "M_INVALID_USERNAME");
    expectError(await call("GET", `${V3}/register/available`), 400, "M_MISSING_PARAM");
  });
});

describe("[cs: login]", () => {
  it("GET /login lists password and token flows", async () => {
    const r = await call("GET", `${V3}/login`);
    expect(r.body).toEqual({ flows: [{ type: "m.login.password" }, { type: "m.login.token", get_login_token: true }] });
  });

  it("[cs: login] m.login.password with m.id.user (localpart or full ID) and the deprecated top-level user", async () => {
    const s = await register();
    const userId = s.user_id as string;
    const lp = userId.slice(1).split(":")[0]!;
    for (const body of [
      { type: "m.login.password", identifier: { type: "m.id.user", user: lp }, password: PASSWORD },
      { type: "m.login.password", identifier: { type: "m.id.user", user: userId }, password: PASSWORD },
      { type: "m.login.password", identifier: { type: "m.id.user", user: lp.toUpperCase() }, password: PASSWORD },
      { type: "m.login.password", user: lp, password: PASSWORD },
    ]) {
      const r = await call("POST", `${V3}/login`, body);
      expect(r.status, JSON.stringify(body)).toBe(200);
      expect(r.body.user_id).toBe(userId);
      expect(r.body.well_known).toEqual({ "m.homeserver": { base_url: "http://127.0.0.1:8787" } });
    }
  });

  it("[cs: login] wrong password, unknown user and foreign server are all 403 M_FORBIDDEN", async () => {
    const s = await register();
    const lp = (s.user_id as string).slice(1).split(":")[0]!;
    for (const user of [lp, freshName("nobody"), `@${lp}:elsewhere.example`]) {
      const password = user === lp ? "wrong password" : PASSWORD;
      expectError(await call("POST", `${V3}/login`, { type: "m.login.password", identifier: { type: "m.id.user", user }, password }), 403, "M_FORBIDDEN");
    }
  });

  it("[cs: login] bad input: missing type/password/identifier, wrong types, unknown type or identifier", async () => {
    expectError(await call("POST", `${V3}/login`, { password: PASSWORD }), 400, "M_MISSING_PARAM");
    expectError(await call("POST", `${V3}/login`, { type: "m.login.password", identifier: { type: "m.id.user", user: "x" } }), 400, "M_MISSING_PARAM");
    expectError(await call("POST", `${V3}/login`, { type: "m.login.password", password: PASSWORD }), 400, "M_MISSING_PARAM");
    expectError(await call("POST", `${V3}/login`, { type: 3 }), 400, "M_BAD_JSON");
    expectError(await call("POST", `${V3}/login`, { type: "m.login.password", identifier: "alice", password: PASSWORD }), 400, "M_BAD_JSON");
    expectError(await call("POST", `${V3}/login`, { type: "m.login.password", identifier: { type: "m.id.user", user: 1 }, password: PASSWORD }), 400, "M_BAD_JSON");
    expectError(await call("POST", `${V3}/login`, { type: "m.login.sso" }), 400, "M_UNKNOWN");
    expectError(await call("POST", `${V3}/login`, { type: "m.login.password", identifier: { type: "m.id.thirdparty", medium: "email", address: "a@b.c" }, password: PASSWORD }), 400, "M_UNKNOWN");
  });

  it("[cs: login/get_token] UIA-protected token logs in once via m.login.token", async () => {
    const s = await register();
    const token = s.access_token as string;
    const first = await call("POST", "/_matrix/client/v1/login/get_token", {}, token);
    expect(first.status).toBe(401);
    expect(first.body.flows).toEqual([{ stages: ["m.login.password"] }]);
    const ok = await call("POST", "/_matrix/client/v1/login/get_token", { auth: { type: "m.login.password", identifier: { type: "m.id.user", user: s.user_id }, password: PASSWORD, session: first.body.session } }, token);
    expect(ok.status).toBe(200);
    const login = await call("POST", `${V3}/login`, { type: "m.login.token", token: ok.body.login_token });
    expect(login.status).toBe(200);
    expect(login.body.user_id).toBe(s.user_id);
    expectError(await call("POST", `${V3}/login`, { type: "m.login.token", token: ok.body.login_token }), 403, "M_FORBIDDEN");
    expectError(await call("POST", `${V3}/login`, { type: "m.login.token", token: "garbage" }), 403, "M_FORBIDDEN");
    expectError(await call("POST", `${V3}/login`, { type: "m.login.token", token: s.access_token }), 403, "M_FORBIDDEN");
  });
});

describe("[cs: tokens] refresh, logout, whoami", () => {
  it("[cs: refresh] rotation through the endpoint; bad refresh tokens are 401 M_UNKNOWN_TOKEN", async () => {
    const s = await register({ refresh_token: true });
    const r = await call("POST", `${V3}/refresh`, { refresh_token: s.refresh_token });
    expect(r.status).toBe(200);
    expect(Object.keys(r.body).sort()).toEqual(["access_token", "expires_in_ms", "refresh_token"]);
    expectError(await call("GET", `${V3}/account/whoami`, undefined, s.access_token as string), 401, "M_UNKNOWN_TOKEN");
    expect((await call("GET", `${V3}/account/whoami`, undefined, r.body.access_token as string)).status).toBe(200);
    expectError(await call("POST", `${V3}/refresh`, { refresh_token: s.refresh_token }), 401, "M_UNKNOWN_TOKEN");
    expectError(await call("POST", `${V3}/refresh`, { refresh_token: s.access_token }), 401, "M_UNKNOWN_TOKEN");
    expectError(await call("POST", `${V3}/refresh`, {}), 400, "M_MISSING_PARAM");
  });

  it("[cs: logout] the token stops working at once; logout/all ends every session", async () => {
    const s = await register();
    const other = await call("POST", `${V3}/login`, { type: "m.login.password", identifier: { type: "m.id.user", user: s.user_id }, password: PASSWORD });
    const third = await call("POST", `${V3}/login`, { type: "m.login.password", identifier: { type: "m.id.user", user: s.user_id }, password: PASSWORD });
    expect((await call("POST", `${V3}/logout`, {}, s.access_token as string)).status).toBe(200);
    const after = await call("GET", `${V3}/account/whoami`, undefined, s.access_token as string);
    expectError(after, 401, "M_UNKNOWN_TOKEN");
    expect(after.body.soft_logout).toBe(false);
    expect((await call("GET", `${V3}/account/whoami`, undefined, other.body.access_token as string)).status).toBe(200);
    expect((await call("POST", `${V3}/logout/all`, {}, other.body.access_token as string)).status).toBe(200);
    expectError(await call("GET", `${V3}/account/whoami`, undefined, third.body.access_token as string), 401, "M_UNKNOWN_TOKEN");
  });

  it("[cs: auth] missing and invalid tokens", async () => {
    expectError(await call("GET", `${V3}/account/whoami`), 401, "M_MISSING_TOKEN");
    expectError(await call("GET", `${V3}/devices`, undefined, "not-a-token"), 401, "M_UNKNOWN_TOKEN");
    const s = await register();
    const forged = (s.access_token as string).replace(/_([0-9A-Za-z]{20})_/, "_AAAAAAAAAAAAAAAAAAAA_");
    expectError(await call("GET", `${V3}/account/whoami`, undefined, forged), 401, "M_UNKNOWN_TOKEN");
  });
});

describe("[cs: account] password and deactivation", () => {
  it("[cs: account/password] UIA then change; new_password validated first", async () => {
    const s = await register();
    const t = s.access_token as string;
    expectError(await call("POST", `${V3}/account/password`, {}, t), 400, "M_MISSING_PARAM");
    expectError(await call("POST", `${V3}/account/password`, { new_password: "short" }, t), 400, "M_WEAK_PASSWORD");
    expectError(await call("POST", `${V3}/account/password`, { new_password: "long enough pw", logout_devices: "no" }, t), 400, "M_BAD_JSON");
    const first = await call("POST", `${V3}/account/password`, { new_password: "long enough pw" }, t);
    expect(first.status).toBe(401);
    const done = await call("POST", `${V3}/account/password`, { new_password: "long enough pw", auth: { type: "m.login.password", user: s.user_id, password: PASSWORD, session: first.body.session } }, t);
    expect(done.status).toBe(200);
    expect((await call("POST", `${V3}/login`, { type: "m.login.password", user: s.user_id, password: "long enough pw" })).status).toBe(200);
  });

  it("[cs: account/deactivate] then login is 403 M_USER_DEACTIVATED", async () => {
    const s = await register();
    const t = s.access_token as string;
    const first = await call("POST", `${V3}/account/deactivate`, {}, t);
    expect(first.status).toBe(401);
    const done = await call("POST", `${V3}/account/deactivate`, { erase: true, auth: { type: "m.login.password", identifier: { type: "m.id.user", user: s.user_id }, password: PASSWORD, session: first.body.session } }, t);
    expect(done.body).toEqual({ id_server_unbind_result: "no-support" });
    expectError(await call("GET", `${V3}/account/whoami`, undefined, t), 401, "M_UNKNOWN_TOKEN");
    expectError(await call("POST", `${V3}/login`, { type: "m.login.password", user: s.user_id, password: PASSWORD }), 403, "M_USER_DEACTIVATED");
    expectError(await call("GET", `${V3}/profile/${encodeURIComponent(s.user_id as string)}`), 404, "M_NOT_FOUND");
  });
});

describe("[cs: devices]", () => {
  it("list, get, rename, delete with UIA, delete_devices", async () => {
    const s = await register({ initial_device_display_name: "Laptop" });
    const t = s.access_token as string;
    const b = await call("POST", `${V3}/login`, { type: "m.login.password", user: s.user_id, password: PASSWORD });
    const c = await call("POST", `${V3}/login`, { type: "m.login.password", user: s.user_id, password: PASSWORD });
    const list = await call("GET", `${V3}/devices`, undefined, t);
    expect((list.body.devices as JsonObject[]).map((d) => d.device_id).sort()).toEqual([s.device_id, b.body.device_id, c.body.device_id].sort());
    expect((await call("PUT", `${V3}/devices/${s.device_id}`, { display_name: "Desk" }, t)).status).toBe(200);
    expect((await call("GET", `${V3}/devices/${s.device_id}`, undefined, t)).body.display_name).toBe("Desk");
    expectError(await call("PUT", `${V3}/devices/${s.device_id}`, { display_name: 5 }, t), 400, "M_BAD_JSON");
    expectError(await call("GET", `${V3}/devices/NOPE`, undefined, t), 404, "M_NOT_FOUND");
    expectError(await call("PUT", `${V3}/devices/NOPE`, { display_name: "x" }, t), 404, "M_NOT_FOUND");
    // DELETE with no body at all still gets the UIA challenge.
    const first = await call("DELETE", `${V3}/devices/${b.body.device_id}`, undefined, t);
    expect(first.status).toBe(401);
    const auth = { type: "m.login.password", identifier: { type: "m.id.user", user: s.user_id }, password: PASSWORD, session: first.body.session };
    expect((await call("DELETE", `${V3}/devices/${b.body.device_id}`, { auth }, t)).status).toBe(200);
    expectError(await call("GET", `${V3}/account/whoami`, undefined, b.body.access_token as string), 401, "M_UNKNOWN_TOKEN");
    expectError(await call("POST", `${V3}/delete_devices`, {}, t), 400, "M_MISSING_PARAM");
    expectError(await call("POST", `${V3}/delete_devices`, { devices: [1] }, t), 400, "M_BAD_JSON");
    const dd = await call("POST", `${V3}/delete_devices`, { devices: [c.body.device_id, "UNKNOWN"] }, t);
    expect(dd.status).toBe(401);
    const ok = await call("POST", `${V3}/delete_devices`, { devices: [c.body.device_id, "UNKNOWN"], auth: { ...auth, session: dd.body.session } }, t);
    expect(ok.status).toBe(200);
    expect(((await call("GET", `${V3}/devices`, undefined, t)).body.devices as JsonObject[]).map((d) => d.device_id)).toEqual([s.device_id]);
  });
});

describe("[cs: profile]", () => {
  it("get, set, delete; validation; unknown user 404", async () => {
    const s = await register();
    const t = s.access_token as string;
    const me = encodeURIComponent(s.user_id as string);
    expect((await call("PUT", `${V3}/profile/${me}/displayname`, { displayname: "Alice A." }, t)).status).toBe(200);
    expect((await call("PUT", `${V3}/profile/${me}/avatar_url`, { avatar_url: "mxc://example.org/AbC_12-x" }, t)).status).toBe(200);
    expect((await call("GET", `${V3}/profile/${me}`)).body).toEqual({ displayname: "Alice A.", avatar_url: "mxc://example.org/AbC_12-x" });
    expect((await call("GET", `${V3}/profile/${me}/displayname`)).body).toEqual({ displayname: "Alice A." });
    expectError(await call("PUT", `${V3}/profile/${me}/avatar_url`, { avatar_url: "https://example.org/a.png" }, t), 400, "M_INVALID_PARAM");
    expectError(await call("PUT", `${V3}/profile/${me}/displayname`, { displayname: "x".repeat(257) }, t), 400, "M_INVALID_PARAM");
    expectError(await call("PUT", `${V3}/profile/${me}/displayname`, { displayname: 5 }, t), 400, "M_BAD_JSON");
    expectError(await call("PUT", `${V3}/profile/${me}/displayname`, { other: "x" }, t), 400, "M_MISSING_PARAM");
    expectError(await call("PUT", `${V3}/profile/${me}/Bad-Key`, { "Bad-Key": 1 }, t), 400, "M_INVALID_PARAM");
    expect((await call("PUT", `${V3}/profile/${me}/org.example.pronouns`, { "org.example.pronouns": ["she"] }, t)).status).toBe(200);
    expect((await call("DELETE", `${V3}/profile/${me}/avatar_url`, undefined, t)).status).toBe(200);
    expectError(await call("GET", `${V3}/profile/${me}/avatar_url`), 404, "M_NOT_FOUND");
    const other = await register();
    expectError(await call("PUT", `${V3}/profile/${encodeURIComponent(other.user_id as string)}/displayname`, { displayname: "x" }, t), 403, "M_FORBIDDEN");
    expectError(await call("GET", `${V3}/profile/${encodeURIComponent(`@${freshName("ghost")}:${SERVER_NAME}`)}`), 404, "M_NOT_FOUND");
    expectError(await call("GET", `${V3}/profile/not-a-user-id`), 400, "M_INVALID_PARAM");
  });
});

describe("[cs: account data]", () => {
  it("global and room account data; server-managed types 405; other users 403", async () => {
    const s = await register();
    const t = s.access_token as string;
    const me = encodeURIComponent(s.user_id as string);
    const room = encodeURIComponent("!abc:example.org");
    expectError(await call("GET", `${V3}/user/${me}/account_data/org.example.x`, undefined, t), 404, "M_NOT_FOUND");
    expect((await call("PUT", `${V3}/user/${me}/account_data/org.example.x`, { a: 1 }, t)).status).toBe(200);
    expect((await call("GET", `${V3}/user/${me}/account_data/org.example.x`, undefined, t)).body).toEqual({ a: 1 });
    expect((await call("PUT", `${V3}/user/${me}/rooms/${room}/account_data/m.tag`, { tags: {} }, t)).status).toBe(200);
    expect((await call("GET", `${V3}/user/${me}/rooms/${room}/account_data/m.tag`, undefined, t)).body).toEqual({ tags: {} });
    for (const type of ["m.fully_read", "m.push_rules"]) {
      expectError(await call("PUT", `${V3}/user/${me}/account_data/${type}`, {}, t), 405, "M_BAD_JSON");
      expectError(await call("PUT", `${V3}/user/${me}/rooms/${room}/account_data/${type}`, {}, t), 405, "M_BAD_JSON");
    }
    expectError(await call("PUT", `${V3}/user/${me}/rooms/not-a-room/account_data/x.y`, {}, t), 400, "M_INVALID_PARAM");
    expectError(await call("PUT", `${V3}/user/${me}/account_data/x.y`, undefined, t, "[1]"), 400, "M_BAD_JSON");
    expectError(await call("PUT", `${V3}/user/${me}/account_data/x.y`, undefined, t, "nope"), 400, "M_NOT_JSON");
    const other = encodeURIComponent(`@someone:${SERVER_NAME}`);
    expectError(await call("GET", `${V3}/user/${other}/account_data/org.example.x`, undefined, t), 403, "M_FORBIDDEN");
    expectError(await call("PUT", `${V3}/user/${other}/account_data/org.example.x`, {}, t), 403, "M_FORBIDDEN");
  });
});

describe("[cs: filters]", () => {
  it("upload, fetch; invalid filters 400 M_BAD_JSON; other users 403", async () => {
    const s = await register();
    const t = s.access_token as string;
    const me = encodeURIComponent(s.user_id as string);
    const filter = { room: { timeline: { limit: 20, types: ["m.room.message"] } }, event_format: "client" };
    const up = await call("POST", `${V3}/user/${me}/filter`, filter, t);
    expect(up.status).toBe(200);
    expect(typeof up.body.filter_id).toBe("string");
    expect((await call("GET", `${V3}/user/${me}/filter/${up.body.filter_id}`, undefined, t)).body).toEqual(filter);
    expectError(await call("GET", `${V3}/user/${me}/filter/424242`, undefined, t), 404, "M_NOT_FOUND");
    expectError(await call("POST", `${V3}/user/${me}/filter`, { room: { timeline: { limit: "20" } } }, t), 400, "M_BAD_JSON");
    expectError(await call("POST", `${V3}/user/${encodeURIComponent(`@x:${SERVER_NAME}`)}/filter`, {}, t), 403, "M_FORBIDDEN");
  });
});

describe("[synapse admin] shared-secret registration", () => {
  const secret = "test-shared-secret";

  it("nonce + HMAC-SHA1 creates an admin user; nonces are single use; wrong MAC is 403", async () => {
    const username = freshName("op");
    const nonce = (await call("GET", "/_synapse/admin/v1/register")).body.nonce as string;
    expect(nonce).toMatch(/^[0-9a-f]{32}$/);
    const badMac = await call("POST", "/_synapse/admin/v1/register", { nonce, username, password: PASSWORD, admin: true, mac: "00".repeat(20) });
    expectError(badMac, 403, "M_FORBIDDEN");
    // The nonce was spent by the failed attempt.
    const mac = await registrationMac(secret, { nonce, username, password: PASSWORD, admin: true });
    expectError(await call("POST", "/_synapse/admin/v1/register", { nonce, username, password: PASSWORD, admin: true, mac }), 400, "M_UNKNOWN");
    const nonce2 = (await call("GET", "/_synapse/admin/v1/register")).body.nonce as string;
    const mac2 = await registrationMac(secret, { nonce: nonce2, username, password: PASSWORD, admin: true });
    const ok = await call("POST", "/_synapse/admin/v1/register", { nonce: nonce2, username, password: PASSWORD, admin: true, displayname: "Operator", mac: mac2 });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.user_id).toBe(`@${username}:${SERVER_NAME}`);
    expect(ok.body.home_server).toBe(SERVER_NAME);
    const who = await call("GET", `${V3}/account/whoami`, undefined, ok.body.access_token as string);
    expect(who.body.user_id).toBe(ok.body.user_id);
    expect((await call("GET", `${V3}/profile/${encodeURIComponent(ok.body.user_id as string)}`)).body).toEqual({ displayname: "Operator" });
    // Reserved names are fine for the operator.
    const nonce3 = (await call("GET", "/_synapse/admin/v1/register")).body.nonce as string;
    const adminName = `admin${n++}`;
    const mac3 = await registrationMac(secret, { nonce: nonce3, username: adminName, password: PASSWORD, admin: false });
    expect((await call("POST", "/_synapse/admin/v1/register", { nonce: nonce3, username: adminName, password: PASSWORD, admin: false, mac: mac3 })).status).toBe(200);
  });

  it("the MAC matches Synapse's documented construction (independent HMAC over NUL-joined fields)", async () => {
    const key = await crypto.subtle.importKey("raw", new TextEncoder().encode("s3cret"), { name: "HMAC", hash: "SHA-1" }, false, ["sign"]);
    const expected = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode("n\u0000u\u0000p\u0000notadmin")));
    const hex = [...expected].map((b) => b.toString(16).padStart(2, "0")).join("");
    expect(await registrationMac("s3cret", { nonce: "n", username: "u", password: "p", admin: false })).toBe(hex);
  });

  it("missing fields are M_MISSING_PARAM; disabled without a shared secret", async () => {
    expectError(await call("POST", "/_synapse/admin/v1/register", { username: "x" }), 400, "M_MISSING_PARAM");
    expect((await callWith({ REGISTRATION_SHARED_SECRET: "" }, "GET", "/_synapse/admin/v1/register")).status).toBe(400);
  });
});
