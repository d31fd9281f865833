// Accounts end to end: the real server (npm start) driven by matrix-js-sdk, with every
// response the SDK receives checked against the spec's OpenAPI.
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { MatrixError } from "matrix-js-sdk";
import { specJson } from "./openapi.ts";
import { errcodeOf, PASSWORD, sdkHarness } from "./sdk.ts";

const baseUrl = inject("baseUrl");
const serverName = inject("serverName");
const sharedSecret = inject("sharedSecret");

/** Every response the SDK sees, validated; problems are asserted per test. A 401 we provoke is not an error to log. */
const { client, countValidated } = sdkHarness({ ignoredErrors: ["Unable to refresh token"] });

/** The 401 body of a UIA challenge the SDK surfaced as an error. */
async function uiaSession(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof MatrixError && e.httpStatus === 401 && e.data.flows) return e.data.session as string;
    throw e;
  }
  throw new Error("expected a UIA challenge");
}

let n = 0;
const freshName = (tag: string) => `${tag}${Date.now().toString(36)}${++n}`;

async function register(opts: { refresh?: boolean; username?: string } = {}) {
  const anon = client();
  const username = opts.username ?? freshName("js");
  const session = await uiaSession(anon.registerRequest({ username, password: PASSWORD }));
  const res = await anon.registerRequest({
    username,
    password: PASSWORD,
    auth: { type: "m.login.dummy", session },
    initial_device_display_name: "e2e",
    refresh_token: opts.refresh ?? false,
  });
  return { ...res, username, client: client({ accessToken: res.access_token!, userId: res.user_id, deviceId: res.device_id }) };
}

const passwordAuth = (userId: string, session?: string) => ({
  type: "m.login.password",
  identifier: { type: "m.id.user", user: userId },
  password: PASSWORD,
  session,
});

describe("[e2e: accounts] matrix-js-sdk against the real server", () => {
  it("[cs: register] register with UIA (m.login.dummy), then whoami", async () => {
    const r = await register();
    expect(r.user_id).toBe(`@${r.username}:${serverName}`);
    expect(await r.client.whoami()).toEqual({ user_id: r.user_id, device_id: r.device_id, is_guest: false });
    expect(await client().isUsernameAvailable(freshName("free"))).toBe(true);
  });

  it("[cs: login] password login (identifier and full user ID), login flows", async () => {
    const r = await register();
    const anon = client();
    const flows = await anon.loginFlows();
    expect(flows.flows.map((f) => f.type)).toEqual(["m.login.password", "m.login.token"]);
    const byLocalpart = await anon.loginRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: r.username }, password: PASSWORD });
    expect(byLocalpart.user_id).toBe(r.user_id);
    const byId = await anon.loginRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: r.user_id }, password: PASSWORD, device_id: "JSDEVICE" });
    expect(byId.device_id).toBe("JSDEVICE");
    expect(await errcodeOf(anon.loginRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: r.user_id }, password: "nope nope nope" }))).toEqual([403, "M_FORBIDDEN"]);
  });

  it("[cs: devices] list, get, rename, delete with UIA", async () => {
    const r = await register();
    const second = await client().loginRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: r.user_id }, password: PASSWORD });
    const { devices } = await r.client.getDevices();
    expect(devices.map((d) => d.device_id).sort()).toEqual([r.device_id, second.device_id].sort());
    await r.client.setDeviceDetails(r.device_id!, { display_name: "Renamed" });
    expect((await r.client.getDevice(r.device_id!)).display_name).toBe("Renamed");
    const session = await uiaSession(r.client.deleteDevice(second.device_id));
    await r.client.deleteDevice(second.device_id, passwordAuth(r.user_id, session));
    expect((await r.client.getDevices()).devices.map((d) => d.device_id)).toEqual([r.device_id]);
    const gone = client({ accessToken: second.access_token, userId: r.user_id });
    expect(await errcodeOf(gone.whoami())).toEqual([401, "M_UNKNOWN_TOKEN"]);
  });

  it("[cs: logout] logout invalidates the token at once", async () => {
    const r = await register();
    const token = r.access_token!;
    await r.client.logout();
    const stale = client({ accessToken: token, userId: r.user_id });
    expect(await errcodeOf(stale.whoami())).toEqual([401, "M_UNKNOWN_TOKEN"]);
  });

  it("[cs: refresh] refresh rotation: new pair works, old access and old refresh tokens stop", async () => {
    const r = await register({ refresh: true });
    expect(r.refresh_token).toBeTruthy();
    expect(r.expires_in_ms).toBe(300_000);
    const anon = client();
    const next = await anon.refreshToken(r.refresh_token!);
    expect(next.access_token).not.toBe(r.access_token);
    const fresh = client({ accessToken: next.access_token, userId: r.user_id });
    expect((await fresh.whoami()).device_id).toBe(r.device_id);
    expect(await errcodeOf(client({ accessToken: r.access_token!, userId: r.user_id }).whoami())).toEqual([401, "M_UNKNOWN_TOKEN"]);
    expect(await errcodeOf(anon.refreshToken(r.refresh_token!))).toEqual([401, "M_UNKNOWN_TOKEN"]);
    const third = await anon.refreshToken(next.refresh_token!);
    expect((await client({ accessToken: third.access_token, userId: r.user_id }).whoami()).user_id).toBe(r.user_id);
  });

  it("[cs: account data] global and room account data round-trip", async () => {
    const r = await register();
    await r.client.setAccountDataRaw("org.example.settings" as never, { theme: "dark" } as never);
    expect(await r.client.getAccountDataFromServer("org.example.settings" as never)).toEqual({ theme: "dark" });
    const roomId = `!someroom:${serverName}`;
    await r.client.setRoomAccountData(roomId, "m.tag", { tags: { "m.favourite": { order: 0.5 } } });
    const res = await fetch(`${baseUrl}/_matrix/client/v3/user/${encodeURIComponent(r.user_id)}/rooms/${encodeURIComponent(roomId)}/account_data/m.tag`, {
      headers: { Authorization: `Bearer ${r.access_token}` },
    });
    expect(await specJson(res, "GET", "/_matrix/client/v3/user/x/rooms/y/account_data/m.tag")).toEqual({ tags: { "m.favourite": { order: 0.5 } } });
    countValidated();
    expect(await errcodeOf(r.client.setAccountDataRaw("m.push_rules" as never, {} as never))).toEqual([405, "M_BAD_JSON"]);
  });

  it("[cs: filters] upload and fetch a filter", async () => {
    const r = await register();
    const definition = { room: { timeline: { limit: 5, types: ["m.room.message"] } }, presence: { not_types: ["*"] } };
    const filter = await r.client.createFilter(definition);
    expect(filter.filterId).toBeTruthy();
    const back = await r.client.getFilter(r.user_id, filter.filterId!, false);
    expect(back.getDefinition()).toEqual(definition);
  });

  it("[cs: profile] display name and avatar", async () => {
    const r = await register();
    expect(await r.client.getProfileInfo(r.user_id)).toEqual({ displayname: r.username });
    await r.client.setDisplayName("Jay Ess");
    await r.client.setAvatarUrl("mxc://example.org/avatar123");
    expect(await client().getProfileInfo(r.user_id)).toEqual({ displayname: "Jay Ess", avatar_url: "mxc://example.org/avatar123" });
    expect(await client().getProfileInfo(r.user_id, "displayname")).toEqual({ displayname: "Jay Ess" });
    expect(await errcodeOf(client().getProfileInfo(`@${freshName("nobody")}:${serverName}`))).toEqual([404, "M_NOT_FOUND"]);
  });

  it("[cs: login/get_token] a login token from one device logs in another once", async () => {
    const r = await register();
    const session = await uiaSession(r.client.requestLoginToken());
    const { login_token } = await r.client.requestLoginToken(passwordAuth(r.user_id, session));
    const anon = client();
    expect((await anon.loginRequest({ type: "m.login.token", token: login_token })).user_id).toBe(r.user_id);
    expect(await errcodeOf(anon.loginRequest({ type: "m.login.token", token: login_token }))).toEqual([403, "M_FORBIDDEN"]);
  });

  it("[cs: account/password] change password with UIA; other devices are logged out", async () => {
    const r = await register();
    const other = await client().loginRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: r.user_id }, password: PASSWORD });
    const session = await uiaSession(r.client.setPassword({}, "a brand new password"));
    await r.client.setPassword(passwordAuth(r.user_id, session), "a brand new password", true);
    expect((await r.client.whoami()).user_id).toBe(r.user_id);
    expect(await errcodeOf(client({ accessToken: other.access_token, userId: r.user_id }).whoami())).toEqual([401, "M_UNKNOWN_TOKEN"]);
    expect((await client().loginRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: r.user_id }, password: "a brand new password" })).user_id).toBe(r.user_id);
  });

  it("[cs: account/deactivate] deactivation revokes tokens and blocks login", async () => {
    const r = await register();
    const session = await uiaSession(r.client.deactivateAccount());
    await r.client.deactivateAccount(passwordAuth(r.user_id, session), true);
    expect(await errcodeOf(r.client.whoami())).toEqual([401, "M_UNKNOWN_TOKEN"]);
    expect(await errcodeOf(client().loginRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: r.user_id }, password: PASSWORD }))).toEqual([403, "M_USER_DEACTIVATED"]);
    expect(await errcodeOf(client().registerRequest({ username: r.username, password: PASSWORD }))).toEqual([400, "M_USER_IN_USE"]);
  });

  it("[operator] `npm run user:create -- NAME --admin` creates a user who can log in", async () => {
    const username = freshName("op");
    const out = spawnSync(
      "npm",
      ["run", "--silent", "user:create", "--", username, "--admin", "--password", PASSWORD, "--url", baseUrl, "--secret", sharedSecret],
      { cwd: resolve(import.meta.dirname, "../.."), encoding: "utf8", timeout: 30_000 },
    );
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout).toContain(`created @${username}:${serverName} (admin)`);
    const login = await client().loginRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: username }, password: PASSWORD });
    expect(login.user_id).toBe(`@${username}:${serverName}`);
    const wrong = spawnSync("npm", ["run", "--silent", "user:create", "--", freshName("op"), "--url", baseUrl, "--secret", "not-the-secret"], {
      cwd: resolve(import.meta.dirname, "../.."),
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(wrong.status).not.toBe(0);
    expect(wrong.stderr).toContain("M_FORBIDDEN");
  });
});
