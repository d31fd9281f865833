// The User actor through its RPC methods, inside workerd, with its real SQLite storage.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { hashToken } from "../../lib/access-token.ts";
import type { MatrixError } from "../../lib/errors.ts";
import type { UiaConfig } from "../../lib/uia.ts";
import { asMatrixError } from "../../party/edge/http.ts";
import { serverActor, userActor } from "../../party/stubs.ts";
import type { User } from "../../party/user.ts";
import { parseMigrations } from "../../party/migrations.ts";
import userSchema from "../../schema/user.sql";

const SERVER_NAME = "localhost:8787";
const PASSWORD = "correct horse battery";
const DUMMY: UiaConfig = { flows: [{ stages: ["m.login.dummy"] }] };
const TOKEN_FLOW: UiaConfig = { flows: [{ stages: ["m.login.registration_token"] }] };

let n = 0;
const freshId = (tag: string) => `@${tag}${++n}x${Math.floor(Math.random() * 1e9)}:${SERVER_NAME}`;

/** The 401 body of a reply that asks for another UIA round. */
function challenge(r: { done: false; body: string } | { done: true }): Record<string, unknown> {
  if (r.done) throw new Error("expected a UIA challenge");
  return JSON.parse(r.body) as Record<string, unknown>;
}

/** The MatrixError an RPC call rejected with (as the edge sees it). */
async function rejection(p: Promise<unknown>): Promise<MatrixError> {
  try {
    await p;
  } catch (e) {
    const m = asMatrixError(e);
    if (m) return m;
    throw e;
  }
  throw new Error("expected the call to fail");
}

function sql<T extends Record<string, SqlStorageValue>>(userId: string, query: string, ...args: SqlStorageValue[]) {
  return runInDurableObject(userActor(env, userId), (_: User, state) => state.storage.sql.exec<T>(query, ...args).toArray());
}

async function registered(tag = "u", refreshable = false) {
  const userId = freshId(tag);
  const stub = userActor(env, userId);
  const first = await stub.register({ password: PASSWORD, auth: null, uia: DUMMY, device: { refreshable }, inhibitLogin: false, imported: null });
  if (first.done) throw new Error("registration skipped UIA");
  const second = await stub.register({
    password: PASSWORD,
    auth: { type: "m.login.dummy", session: challenge(first).session },
    uia: DUMMY,
    device: { refreshable, displayName: "first device" },
    inhibitLogin: false,
    imported: null,
  });
  if (!second.done || !("access_token" in second.value)) throw new Error("registration did not complete");
  return { userId, stub, session: second.value };
}

const passwordAuth = (session: unknown, user: string, password = PASSWORD) => ({
  type: "m.login.password",
  identifier: { type: "m.id.user", user },
  password,
  session,
});

describe("User actor: registration", () => {
  it("[uia: register] first request answers the flows and a session; dummy completes it", async () => {
    const userId = freshId("reg");
    const stub = userActor(env, userId);
    const first = await stub.register({ password: PASSWORD, auth: null, uia: DUMMY, device: { refreshable: false }, inhibitLogin: false, imported: null });
    expect(first.done).toBe(false);
    if (first.done) return;
    expect(challenge(first).flows).toEqual([{ stages: ["m.login.dummy"] }]);
    expect(typeof challenge(first).session).toBe("string");
    expect(await stub.isRegistered()).toBe(false);
    const second = await stub.register({
      password: PASSWORD,
      auth: { type: "m.login.dummy", session: challenge(first).session },
      uia: DUMMY,
      device: { refreshable: false, deviceId: "MYDEVICE" },
      inhibitLogin: false,
      imported: null,
    });
    expect(second.done).toBe(true);
    if (!second.done || !("access_token" in second.value)) return;
    expect(second.value.user_id).toBe(userId);
    expect(second.value.device_id).toBe("MYDEVICE");
    expect(await stub.isRegistered()).toBe(true);
    expect(await stub.authenticate(await hashToken(second.value.access_token))).toEqual({ userId, deviceId: "MYDEVICE", admin: false, expiresTs: null, locked: false, suspended: false });
  });

  it("[register] a taken user ID is M_USER_IN_USE", async () => {
    const { stub } = await registered();
    const e = await rejection(stub.register({ password: PASSWORD, auth: null, uia: DUMMY, device: { refreshable: false }, inhibitLogin: false, imported: null }));
    expect([e.status, e.errcode]).toEqual([400, "M_USER_IN_USE"]);
  });

  it("[register] inhibit_login creates the account without a device or token", async () => {
    const userId = freshId("inh");
    const stub = userActor(env, userId);
    const first = await stub.register({ password: PASSWORD, auth: { type: "m.login.dummy" }, uia: DUMMY, device: { refreshable: false }, inhibitLogin: true, imported: null });
    expect(first).toEqual({ done: true, value: { user_id: userId } });
    expect(await stub.listDevices()).toEqual([]);
    expect(await sql(userId, "SELECT id FROM tokens")).toEqual([]);
  });

  it("[register] the UIA session survives while the password is missing, and the password is then required", async () => {
    const userId = freshId("nopw");
    const stub = userActor(env, userId);
    const first = await stub.register({ password: null, auth: null, uia: DUMMY, device: { refreshable: false }, inhibitLogin: false, imported: null });
    if (first.done) throw new Error("no UIA");
    const e = await rejection(stub.register({ password: null, auth: { type: "m.login.dummy", session: challenge(first).session }, uia: DUMMY, device: { refreshable: false }, inhibitLogin: false, imported: null }));
    expect(e.errcode).toBe("M_MISSING_PARAM");
    expect(await stub.isRegistered()).toBe(false);
  });

  it("[register] concurrent registrations of one user ID: exactly one wins", async () => {
    const userId = freshId("race");
    const stub = userActor(env, userId);
    const attempt = () =>
      stub.register({ password: PASSWORD, auth: { type: "m.login.dummy" }, uia: DUMMY, device: { refreshable: false }, inhibitLogin: false, imported: null })
        .then(() => "ok", (e) => asMatrixError(e)?.errcode ?? String(e));
    const results = await Promise.all([attempt(), attempt(), attempt()]);
    expect(results.filter((r) => r === "ok")).toHaveLength(1);
    expect(results.filter((r) => r === "M_USER_IN_USE")).toHaveLength(2);
    expect(await sql<{ n: number }>(userId, "SELECT COUNT(*) AS n FROM account")).toEqual([{ n: 1 }]);
  });

  it("[uia: registration_token] a valid token completes registration and is counted; an exhausted one fails", async () => {
    const token = await serverActor(env).createRegistrationToken({ usesAllowed: 1 });
    const a = userActor(env, freshId("tok"));
    const done = await a.register({ password: PASSWORD, auth: { type: "m.login.registration_token", token }, uia: TOKEN_FLOW, device: { refreshable: false }, inhibitLogin: false, imported: null });
    expect(done.done).toBe(true);
    expect(await serverActor(env).registrationTokenValid(token)).toBe(false);
    const b = userActor(env, freshId("tok"));
    const refused = await b.register({ password: PASSWORD, auth: { type: "m.login.registration_token", token }, uia: TOKEN_FLOW, device: { refreshable: false }, inhibitLogin: false, imported: null });
    expect(refused.done).toBe(false);
    expect(challenge(refused)).toMatchObject({ errcode: "M_FORBIDDEN", flows: TOKEN_FLOW.flows });
    expect(await b.isRegistered()).toBe(false);
  });

  it("[uia] a stage that is not offered is 400 M_UNRECOGNIZED", async () => {
    const stub = userActor(env, freshId("unoff"));
    const e = await rejection(stub.register({ password: PASSWORD, auth: { type: "m.login.dummy" }, uia: TOKEN_FLOW, device: { refreshable: false }, inhibitLogin: false, imported: null }));
    expect([e.status, e.errcode]).toEqual([400, "M_UNRECOGNIZED"]);
  });

  it("[uia] an unknown session is refused", async () => {
    const stub = userActor(env, freshId("unk"));
    const e = await rejection(stub.register({ password: PASSWORD, auth: { type: "m.login.dummy", session: "nope" }, uia: DUMMY, device: { refreshable: false }, inhibitLogin: false, imported: null }));
    expect(e.status).toBe(400);
  });

  it("[uia] a session handed over from another actor continues there", async () => {
    const a = userActor(env, freshId("from"));
    const first = await a.register({ password: null, auth: null, uia: DUMMY, device: { refreshable: false }, inhibitLogin: false, imported: null });
    if (first.done) throw new Error("no UIA");
    const session = await a.takeUiaSession(String(challenge(first).session), "register");
    expect(session?.id).toBe(challenge(first).session);
    expect(await a.takeUiaSession(String(challenge(first).session), "register")).toBeNull(); // moved, not copied
    const b = userActor(env, freshId("to"));
    const done = await b.register({ password: PASSWORD, auth: { type: "m.login.dummy", session: challenge(first).session }, uia: DUMMY, device: { refreshable: false }, inhibitLogin: false, imported: session });
    expect(done.done).toBe(true);
  });
});

describe("User actor: tokens", () => {
  it("[tokens] only SHA-256 hashes of tokens are stored", async () => {
    const { userId, session } = await registered("hash");
    const rows = await sql<{ access_hash: string }>(userId, "SELECT access_hash FROM tokens");
    expect(rows).toEqual([{ access_hash: await hashToken(session.access_token) }]);
    const dump = JSON.stringify(await sql(userId, "SELECT * FROM tokens"));
    expect(dump).not.toContain(session.access_token);
  });

  it("[tokens] an unknown token is 401 M_UNKNOWN_TOKEN without soft_logout", async () => {
    const { stub } = await registered("unk");
    const e = await rejection(stub.authenticate(await hashToken("syt_nope")));
    expect([e.status, e.errcode, e.extra.soft_logout]).toEqual([401, "M_UNKNOWN_TOKEN", false]);
  });

  it("[tokens: soft logout] an expired access token is M_UNKNOWN_TOKEN with soft_logout true", async () => {
    const { userId, stub, session } = await registered("exp", true);
    expect(session.expires_in_ms).toBe(5 * 60 * 1000);
    expect(session.refresh_token).toMatch(/^syr_/);
    await sql(userId, "UPDATE tokens SET expires_ts = ?", Date.now() - 1);
    const e = await rejection(stub.authenticate(await hashToken(session.access_token)));
    expect([e.status, e.errcode, e.extra.soft_logout]).toEqual([401, "M_UNKNOWN_TOKEN", true]);
  });

  it("[refresh] rotation: old access token dies at once, old refresh token dies when the new pair is used", async () => {
    const { stub, session } = await registered("rot", true);
    const next = await stub.refresh(session.refresh_token!);
    expect(next.access_token).not.toBe(session.access_token);
    expect(next.refresh_token).not.toBe(session.refresh_token);
    expect(next.expires_in_ms).toBe(5 * 60 * 1000);
    expect((await rejection(stub.authenticate(await hashToken(session.access_token)))).errcode).toBe("M_UNKNOWN_TOKEN");
    // Response lost: the old refresh token still works, and replaces the unused pair.
    const retry = await stub.refresh(session.refresh_token!);
    expect((await rejection(stub.authenticate(await hashToken(next.access_token)))).errcode).toBe("M_UNKNOWN_TOKEN");
    const me = await stub.authenticate(await hashToken(retry.access_token));
    expect(me.deviceId).toBe(session.device_id);
    // Now that the new access token was used, the old refresh token is revoked.
    expect((await rejection(stub.refresh(session.refresh_token!))).errcode).toBe("M_UNKNOWN_TOKEN");
    const third = await stub.refresh(retry.refresh_token);
    expect((await stub.authenticate(await hashToken(third.access_token))).deviceId).toBe(session.device_id);
  });

  it("[refresh] using the new refresh token also revokes the old one", async () => {
    const { stub, session } = await registered("rot2", true);
    const next = await stub.refresh(session.refresh_token!);
    await stub.refresh(next.refresh_token);
    expect((await rejection(stub.refresh(session.refresh_token!))).errcode).toBe("M_UNKNOWN_TOKEN");
  });

  it("[logout] logout deletes the device and its tokens at once", async () => {
    const { stub, session } = await registered("lo");
    const other = await stub.loginWithPassword(PASSWORD, { refreshable: false });
    await stub.logout(session.device_id);
    expect((await rejection(stub.authenticate(await hashToken(session.access_token)))).errcode).toBe("M_UNKNOWN_TOKEN");
    expect((await stub.listDevices()).map((d) => d.device_id)).toEqual([other.device_id]);
    expect((await stub.authenticate(await hashToken(other.access_token))).deviceId).toBe(other.device_id);
  });

  it("[logout/all] every token and device goes", async () => {
    const { stub, session } = await registered("loa");
    const other = await stub.loginWithPassword(PASSWORD, { refreshable: false });
    await stub.logoutAll();
    for (const t of [session.access_token, other.access_token]) {
      expect((await rejection(stub.authenticate(await hashToken(t)))).errcode).toBe("M_UNKNOWN_TOKEN");
    }
    expect(await stub.listDevices()).toEqual([]);
  });

  it("[login] wrong password is 403 M_FORBIDDEN; unknown user the same", async () => {
    const { stub } = await registered("pw");
    const e = await rejection(stub.loginWithPassword("wrong password!", { refreshable: false }));
    expect([e.status, e.errcode]).toEqual([403, "M_FORBIDDEN"]);
    const nobody = await rejection(userActor(env, freshId("nobody")).loginWithPassword(PASSWORD, { refreshable: false }));
    expect([nobody.status, nobody.errcode, nobody.message]).toEqual([403, "M_FORBIDDEN", e.message]);
  });

  it("[login] logging in as an existing device replaces that device's token", async () => {
    const { stub, session } = await registered("dev");
    const again = await stub.loginWithPassword(PASSWORD, { refreshable: false, deviceId: session.device_id });
    expect(again.device_id).toBe(session.device_id);
    expect((await rejection(stub.authenticate(await hashToken(session.access_token)))).errcode).toBe("M_UNKNOWN_TOKEN");
    expect(await stub.listDevices()).toHaveLength(1);
  });

  it("[login: m.login.token] get_token needs UIA; the token logs in once", async () => {
    const { userId, stub } = await registered("lt");
    const first = await stub.getLoginToken(null);
    expect(first.done).toBe(false);
    if (first.done) return;
    const bad = await stub.getLoginToken(passwordAuth(challenge(first).session, userId, "wrong password"));
    expect(challenge(bad).errcode).toBe("M_FORBIDDEN");
    const ok = await stub.getLoginToken(passwordAuth(challenge(first).session, userId));
    if (!ok.done) throw new Error("UIA did not complete");
    expect(ok.value.login_token).toMatch(/^syl_/);
    expect(ok.value.expires_in_ms).toBe(120_000);
    // The spec has servers re-prompt every time: the completed session is gone.
    const again = await rejection(stub.getLoginToken(passwordAuth(challenge(first).session, userId)));
    expect(again.status).toBe(400);
    const s = await stub.loginWithToken(ok.value.login_token, { refreshable: false });
    expect(s.user_id).toBe(userId);
    const reuse = await rejection(stub.loginWithToken(ok.value.login_token, { refreshable: false }));
    expect([reuse.status, reuse.errcode]).toEqual([403, "M_FORBIDDEN"]);
  });

  it("[login: m.login.token] an expired login token fails", async () => {
    const { userId, stub } = await registered("lte");
    const first = await stub.getLoginToken(null);
    if (first.done) throw new Error("no UIA");
    const ok = await stub.getLoginToken(passwordAuth(challenge(first).session, userId));
    if (!ok.done) throw new Error("UIA did not complete");
    await sql(userId, "UPDATE login_tokens SET expires_ts = ?", Date.now() - 1);
    expect((await rejection(stub.loginWithToken(ok.value.login_token, { refreshable: false }))).errcode).toBe("M_FORBIDDEN");
  });
});

describe("User actor: password and deactivation", () => {
  it("[account/password] UIA with the old password; other devices are logged out, this one stays", async () => {
    const { userId, stub, session } = await registered("chpw");
    const other = await stub.loginWithPassword(PASSWORD, { refreshable: false });
    const first = await stub.changePassword({ auth: null, newPassword: "new password 123", logoutDevices: true, keepDevice: session.device_id });
    if (first.done) throw new Error("no UIA");
    expect(challenge(first).flows).toEqual([{ stages: ["m.login.password"] }]);
    const wrong = await stub.changePassword({ auth: passwordAuth(challenge(first).session, userId, "not it at all"), newPassword: "new password 123", logoutDevices: true, keepDevice: session.device_id });
    expect(challenge(wrong).errcode).toBe("M_FORBIDDEN");
    const ok = await stub.changePassword({ auth: passwordAuth(challenge(first).session, userId), newPassword: "new password 123", logoutDevices: true, keepDevice: session.device_id });
    expect(ok).toEqual({ done: true, value: {} });
    expect((await stub.authenticate(await hashToken(session.access_token))).deviceId).toBe(session.device_id);
    expect((await rejection(stub.authenticate(await hashToken(other.access_token)))).errcode).toBe("M_UNKNOWN_TOKEN");
    expect((await rejection(stub.loginWithPassword(PASSWORD, { refreshable: false }))).errcode).toBe("M_FORBIDDEN");
    expect((await stub.loginWithPassword("new password 123", { refreshable: false })).user_id).toBe(userId);
  });

  it("[account/password] logout_devices false keeps other devices", async () => {
    const { userId, stub, session } = await registered("chpw2");
    const other = await stub.loginWithPassword(PASSWORD, { refreshable: false });
    const ok = await stub.changePassword({ auth: passwordAuth(undefined, userId), newPassword: "new password 123", logoutDevices: false, keepDevice: session.device_id });
    expect(ok.done).toBe(true);
    expect((await stub.authenticate(await hashToken(other.access_token))).deviceId).toBe(other.device_id);
  });

  it("[uia] a session opened for one operation cannot authorise another", async () => {
    const { userId, stub } = await registered("bind");
    const first = await stub.changePassword({ auth: null, newPassword: "new password 123", logoutDevices: false, keepDevice: null });
    if (first.done) throw new Error("no UIA");
    const e = await rejection(stub.deactivate({ auth: passwordAuth(challenge(first).session, userId), erase: false }));
    expect([e.status, e.errcode]).toEqual([403, "M_FORBIDDEN"]);
    expect(await stub.isRegistered()).toBe(true);
    expect(JSON.parse(await stub.getProfile()).displayname).toBeDefined();
  });

  it("[uia] the password stage must name this user", async () => {
    const { stub } = await registered("who");
    const r = await stub.changePassword({ auth: passwordAuth(undefined, "@someone:else"), newPassword: "new password 123", logoutDevices: false, keepDevice: null });
    expect(challenge(r).errcode).toBe("M_FORBIDDEN");
  });

  it("[account/deactivate] tokens are revoked, login says M_USER_DEACTIVATED, the ID stays taken", async () => {
    const { userId, stub, session } = await registered("deact");
    await stub.setAccountData(null, "org.example.x", { a: 1 });
    const r = await stub.deactivate({ auth: passwordAuth(undefined, userId), erase: true });
    expect(r).toEqual({ done: true, value: { id_server_unbind_result: "no-support" } });
    expect((await rejection(stub.authenticate(await hashToken(session.access_token)))).errcode).toBe("M_UNKNOWN_TOKEN");
    const login = await rejection(stub.loginWithPassword(PASSWORD, { refreshable: false }));
    expect([login.status, login.errcode]).toEqual([403, "M_USER_DEACTIVATED"]);
    expect(await stub.isRegistered()).toBe(true);
    expect((await rejection(stub.getProfile())).errcode).toBe("M_NOT_FOUND");
    expect((await rejection(stub.getAccountData(null, "org.example.x"))).errcode).toBe("M_NOT_FOUND");
    expect(await sql(userId, "SELECT password_hash FROM account")).toEqual([{ password_hash: null }]);
  });
});

describe("User actor: devices, profile, account data, filters", () => {
  it("[devices] list, get, rename; unknown device is 404", async () => {
    const { stub, session } = await registered("dv");
    expect(await stub.listDevices()).toEqual([{ device_id: session.device_id, display_name: "first device" }]);
    await stub.updateDevice(session.device_id, "renamed");
    expect((await stub.getDevice(session.device_id)).display_name).toBe("renamed");
    expect((await rejection(stub.getDevice("NOPE"))).errcode).toBe("M_NOT_FOUND");
    expect((await rejection(stub.updateDevice("NOPE", "x"))).errcode).toBe("M_NOT_FOUND");
  });

  it("[devices] last_seen is recorded on authentication", async () => {
    const { stub, session } = await registered("seen");
    await stub.authenticate(await hashToken(session.access_token), "192.0.2.1");
    const d = await stub.getDevice(session.device_id);
    expect(d.last_seen_ip).toBe("192.0.2.1");
    expect(d.last_seen_ts).toBeGreaterThan(Date.now() - 60_000);
  });

  it("[devices: delete] needs UIA bound to the set of devices", async () => {
    const { userId, stub, session } = await registered("del");
    const b = await stub.loginWithPassword(PASSWORD, { refreshable: false });
    const c = await stub.loginWithPassword(PASSWORD, { refreshable: false });
    const first = await stub.deleteDevices({ deviceIds: [b.device_id], auth: null, mustExist: true });
    if (first.done) throw new Error("no UIA");
    // The same session cannot be used to delete a different set.
    const e = await rejection(stub.deleteDevices({ deviceIds: [c.device_id], auth: passwordAuth(challenge(first).session, userId), mustExist: true }));
    expect(e.errcode).toBe("M_FORBIDDEN");
    const ok = await stub.deleteDevices({ deviceIds: [b.device_id], auth: passwordAuth(challenge(first).session, userId), mustExist: true });
    expect(ok.done).toBe(true);
    expect((await stub.listDevices()).map((d) => d.device_id).sort()).toEqual([session.device_id, c.device_id].sort());
    expect((await rejection(stub.authenticate(await hashToken(b.access_token)))).errcode).toBe("M_UNKNOWN_TOKEN");
    expect((await rejection(stub.deleteDevices({ deviceIds: ["GONE"], auth: null, mustExist: true }))).errcode).toBe("M_NOT_FOUND");
  });

  it("[profile] the display name starts as the localpart; fields set and delete", async () => {
    const { userId, stub } = await registered("prof");
    expect(JSON.parse(await stub.getProfile())).toEqual({ displayname: userId.slice(1, userId.indexOf(":")) });
    await stub.setProfileField("avatar_url", "mxc://example.org/abc");
    await stub.setProfileField("org.example.custom", { nested: [1, 2] });
    await stub.deleteProfileField("displayname");
    expect(JSON.parse(await stub.getProfile())).toEqual({ avatar_url: "mxc://example.org/abc", "org.example.custom": { nested: [1, 2] } });
  });

  it("[profile] the whole profile stays under 64 KiB; an oversized write changes nothing", async () => {
    const { stub } = await registered("big");
    await stub.setProfileField("org.example.a", "x".repeat(40_000));
    const e = await rejection(stub.setProfileField("org.example.b", "y".repeat(30_000)));
    expect([e.status, e.errcode]).toEqual([400, "M_PROFILE_TOO_LARGE"]);
    expect(Object.keys(JSON.parse(await stub.getProfile())).sort()).toEqual(["displayname", "org.example.a"]);
  });

  it("[profile] no account → 404", async () => {
    expect((await rejection(userActor(env, freshId("ghost")).getProfile())).errcode).toBe("M_NOT_FOUND");
  });

  it("[account data] global and per-room are separate; each write advances the stream position", async () => {
    const { userId, stub } = await registered("ad");
    await stub.setAccountData(null, "org.example.t", { v: 1 });
    await stub.setAccountData("!room:example.org", "org.example.t", { v: 2 });
    await stub.setAccountData(null, "org.example.t", { v: 3 });
    expect(JSON.parse(await stub.getAccountData(null, "org.example.t"))).toEqual({ v: 3 });
    expect(JSON.parse(await stub.getAccountData("!room:example.org", "org.example.t"))).toEqual({ v: 2 });
    expect((await rejection(stub.getAccountData("!other:example.org", "org.example.t"))).errcode).toBe("M_NOT_FOUND");
    const pos = await sql<{ room_id: string; stream_pos: number }>(userId, "SELECT room_id, stream_pos FROM account_data ORDER BY stream_pos");
    expect(pos).toEqual([{ room_id: "!room:example.org", stream_pos: 2 }, { room_id: "", stream_pos: 3 }]);
  });

  it("[filters] stored and returned unchanged; IDs are distinct and never start with '{'", async () => {
    const { stub } = await registered("flt");
    const f1 = { room: { timeline: { limit: 10 } } };
    const id1 = await stub.createFilter(f1);
    const id2 = await stub.createFilter({});
    expect(id1).not.toBe(id2);
    expect(id1.startsWith("{")).toBe(false);
    expect(JSON.parse(await stub.getFilter(id1))).toEqual(f1);
    expect((await rejection(stub.getFilter("999999"))).errcode).toBe("M_NOT_FOUND");
    expect((await rejection(stub.getFilter("{}"))).errcode).toBe("M_NOT_FOUND");
  });

  it("[schema] the user schema is applied once, each migration one row", async () => {
    const { userId } = await registered("mig");
    const steps = parseMigrations(userSchema).map((m) => ({ version: m.version }));
    expect(steps.length).toBeGreaterThanOrEqual(1);
    expect(await sql<{ version: number }>(userId, "SELECT version FROM _migrations ORDER BY version")).toEqual(steps);
  });
});
