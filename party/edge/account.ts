/**
 * Account endpoints: registration, login, tokens, logout, whoami, password, deactivation.
 * https://spec.matrix.org/v1.19/client-server-api/#client-authentication
 *
 * The edge parses and validates; the one User actor named by the user ID decides.
 * Also home to the small body-field helpers the other account endpoint files share.
 */
import { parseToken } from "../../lib/access-token.ts";
import { MatrixError } from "../../lib/errors.ts";
import { isValidLocalpart, parseUserId } from "../../lib/identifiers.ts";
import type { JsonObject, JsonValue } from "../../lib/json.ts";
import { isJsonObject } from "../../lib/json.ts";
import { checkPasswordPolicy } from "../../lib/password.ts";
import type { UiaConfig } from "../../lib/uia.ts";
import type { RegistrationMode } from "../env.ts";
import { serverActor, userActor } from "../stubs.ts";
import { registrationSessionLocalpart, type NewDevice, type UiaReply } from "../user.ts";
import { appserviceCaller, appserviceLogin, appserviceRegister, APPSERVICE_LOGIN, asksForAppserviceLogin, refuseExclusiveUser } from "./appservice.ts";
import { authenticate } from "./auth.ts";
import { json, readBody, readJsonObject } from "./http.ts";
import { rateLimit } from "./rate-limit.ts";
import type { EdgeRequest } from "./router.ts";
import { noteTokensRevoked } from "./session-cache.ts";

/**
 * Localparts that self-service registration refuses, so that nobody can pose as the
 * operator or the server. The shared-secret admin API may still create them.
 * Localparts starting with "_" are left to application services (bridges).
 */
export const RESERVED_LOCALPARTS: ReadonlySet<string> = new Set([
  "admin", "administrator", "root", "system", "server", "support", "security", "abuse",
  "postmaster", "hostmaster", "webmaster", "noreply", "no-reply", "matrix", "parley",
  "synapse", "notices", "server-notices", "moderator", "mod", "staff", "help", "info",
]);

// ---- shared helpers -------------------------------------------------------------------

/** The request body as an object; limit from config. */
export function body(req: EdgeRequest): Promise<JsonObject> {
  return readJsonObject(req.request, { maxBytes: req.config.maxRequestBytes });
}

/** Like `body`, but an empty body counts as `{}` (DELETE requests often carry none). */
export async function optionalBody(req: EdgeRequest): Promise<JsonObject> {
  const declared = req.request.headers.get("Content-Length");
  if (declared === "0" || req.request.body === null) return {};
  const bytes = await readBody(req.request, { maxBytes: req.config.maxRequestBytes });
  if (bytes.length === 0) return {};
  return readJsonObject(new Request("http://x/", { method: "POST", body: bytes }), {
    maxBytes: req.config.maxRequestBytes,
  });
}

type FieldType = "string" | "boolean" | "object" | "array";

/** An optional field of `type`; wrong type → 400 M_BAD_JSON. */
export function opt(o: JsonObject, key: string, type: "string"): string | undefined;
export function opt(o: JsonObject, key: string, type: "boolean"): boolean | undefined;
export function opt(o: JsonObject, key: string, type: "object"): JsonObject | undefined;
export function opt(o: JsonObject, key: string, type: "array"): JsonValue[] | undefined;
export function opt(o: JsonObject, key: string, type: FieldType): JsonValue | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  const ok =
    type === "object" ? isJsonObject(v) : type === "array" ? Array.isArray(v) : typeof v === type;
  if (!ok) throw new MatrixError("M_BAD_JSON", 400, `'${key}' must be ${type === "array" ? "an array" : `a ${type}`}`);
  return v;
}

/** A required field; absent → 400 M_MISSING_PARAM, wrong type → 400 M_BAD_JSON. */
export function req(o: JsonObject, key: string, type: "string"): string;
export function req(o: JsonObject, key: string, type: "array"): JsonValue[];
export function req(o: JsonObject, key: string, type: "string" | "array"): JsonValue {
  if (o[key] === undefined || o[key] === null) throw new MatrixError("M_MISSING_PARAM", 400, `Missing '${key}'`);
  return type === "string" ? opt(o, key, "string")! : opt(o, key, "array")!;
}

/** A response whose JSON body is already text (as actors return stored JSON). */
export function jsonText(text: string, status = 200): Response {
  return new Response(text, { status, headers: { "Content-Type": "application/json" } });
}

/** Turns a UIA reply into the 401 challenge or the operation's 200 body. */
export function uiaResponse<T extends object>(reply: UiaReply<T>): Response {
  return reply.done ? json(reply.value as JsonObject) : jsonText(reply.body, 401);
}

/** A path `{userId}` that must be the caller's own ID (403 otherwise). */
export function requireSelf(pathUserId: string, callerId: string): void {
  if (pathUserId !== callerId) throw new MatrixError("M_FORBIDDEN", 403, "Cannot act for other users");
}

function deviceFields(b: JsonObject): NewDevice {
  return {
    deviceId: opt(b, "device_id", "string"),
    displayName: opt(b, "initial_device_display_name", "string"),
    refreshable: opt(b, "refresh_token", "boolean") ?? false,
  };
}

/**
 * The localpart a login names: `@alice:ourserver` or `alice`. Anything else can never
 * log in here, which login reports exactly like a wrong password.
 */
function loginLocalpart(user: string, serverName: string): string | null {
  let localpart = user;
  if (user.startsWith("@")) {
    const id = parseUserId(user);
    if (!id || id.serverName !== serverName) return null;
    localpart = id.localpart;
  }
  // Registration lower-cases, so a mixed-case login means the same account.
  localpart = localpart.toLowerCase();
  return isValidLocalpart(localpart, serverName) ? localpart : null;
}

const invalidLogin = () => new MatrixError("M_FORBIDDEN", 403, "Invalid username or password");

// ---- registration -----------------------------------------------------------------------

function registrationUia(mode: RegistrationMode): UiaConfig {
  return mode === "token"
    ? { flows: [{ stages: ["m.login.registration_token"] }] }
    : { flows: [{ stages: ["m.login.dummy"] }] };
}

/** Checks a requested username for self-service registration; returns the localpart. */
function usableLocalpart(username: string, serverName: string): string {
  const localpart = username.toLowerCase();
  if (!isValidLocalpart(localpart, serverName)) {
    throw new MatrixError("M_INVALID_USERNAME", 400, "User ID may only contain a-z, 0-9, and . _ = - / +");
  }
  if (RESERVED_LOCALPARTS.has(localpart) || localpart.startsWith("_")) {
    throw new MatrixError("M_INVALID_USERNAME", 400, "This user ID is reserved");
  }
  return localpart;
}

// GET /_matrix/client/v3/register/available
export async function registerAvailable(r: EdgeRequest): Promise<Response> {
  await rateLimit(r, "register");
  const username = r.url.searchParams.get("username");
  if (username === null) throw new MatrixError("M_MISSING_PARAM", 400, "Missing 'username'");
  refuseExclusiveUser(r, username);
  const localpart = usableLocalpart(username, r.config.serverName);
  if (await userActor(r.env, `@${localpart}:${r.config.serverName}`).isRegistered()) {
    throw new MatrixError("M_USER_IN_USE", 400, "User ID already taken");
  }
  return json({ available: true });
}

// POST /_matrix/client/v3/register
export async function register(r: EdgeRequest): Promise<Response> {
  // An appservice registering a user in its namespace: no UIA, no rate limit (party/edge/appservice.ts).
  const appservice = await appserviceCaller(r, { lenient: true });
  if (appservice) return appserviceRegister(r, appservice);
  await rateLimit(r, "register");
  const kind = r.url.searchParams.get("kind") ?? "user";
  if (kind === "guest") throw new MatrixError("M_GUEST_ACCESS_FORBIDDEN", 403, "Guest accounts are not supported");
  if (kind !== "user") throw new MatrixError("M_INVALID_PARAM", 400, "'kind' must be 'user' or 'guest'");
  if (r.config.registrationMode === "closed") throw new MatrixError("M_FORBIDDEN", 403, "Registration is disabled");
  const b = await body(r);
  if (asksForAppserviceLogin(b)) throw new MatrixError("M_MISSING_TOKEN", 401, `${APPSERVICE_LOGIN} needs the application service's as_token`);
  const username = opt(b, "username", "string");
  if (username !== undefined) refuseExclusiveUser(r, username);
  const password = opt(b, "password", "string");
  const inhibitLogin = opt(b, "inhibit_login", "boolean") ?? false;
  const device = deviceFields(b);
  const auth = opt(b, "auth", "object");
  if (password !== undefined) checkPasswordPolicy(password);

  const sessionId = typeof auth?.session === "string" ? auth.session : undefined;
  const sessionOwner = sessionId ? registrationSessionLocalpart(sessionId) : null;
  // Without a username, continue the session's generated ID or make a new one.
  const localpart = username !== undefined
    ? usableLocalpart(username, r.config.serverName)
    : (sessionOwner ?? `u${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`);
  const userId = `@${localpart}:${r.config.serverName}`;
  // A session opened before the client chose its username lives with another actor: move it.
  const imported =
    sessionId && sessionOwner && sessionOwner !== localpart
      ? await userActor(r.env, `@${sessionOwner}:${r.config.serverName}`).takeUiaSession(sessionId, "register")
      : null;
  const reply = await userActor(r.env, userId).register({
    password: password ?? null,
    auth: auth ?? null,
    uia: registrationUia(r.config.registrationMode),
    device,
    inhibitLogin,
    imported,
  });
  return uiaResponse(reply);
}

// GET /_matrix/client/v1/register/m.login.registration_token/validity
export async function registrationTokenValidity(r: EdgeRequest): Promise<Response> {
  await rateLimit(r, "register");
  if (r.config.registrationMode !== "token") {
    throw new MatrixError("M_FORBIDDEN", 403, "Registration tokens are not in use on this server");
  }
  const token = r.url.searchParams.get("token");
  if (token === null) throw new MatrixError("M_MISSING_PARAM", 400, "Missing 'token'");
  if (token.length > 64 || !/^[A-Za-z0-9._~-]*$/.test(token)) {
    throw new MatrixError("M_INVALID_PARAM", 400, "Malformed registration token");
  }
  return json({ valid: await serverActor(r.env).registrationTokenValid(token) });
}

// ---- login and tokens ---------------------------------------------------------------------

// GET /_matrix/client/v3/login
export function loginFlows(): Response {
  return json({ flows: [{ type: "m.login.password" }, { type: "m.login.token", get_login_token: true }] });
}

// POST /_matrix/client/v3/login
export async function login(r: EdgeRequest): Promise<Response> {
  // Appservices log their users in without a rate limit (party/edge/appservice.ts).
  if (!(await appserviceCaller(r, { lenient: true }))) await rateLimit(r, "login");
  const b = await body(r);
  const type = req(b, "type", "string");
  const device = deviceFields(b);
  let session;
  if (type === APPSERVICE_LOGIN) {
    session = await appserviceLogin(r, b);
  } else if (type === "m.login.password") {
    const password = req(b, "password", "string");
    const identifier = opt(b, "identifier", "object");
    let user: string | undefined;
    if (identifier) {
      if (identifier.type !== "m.id.user") {
        throw new MatrixError("M_UNKNOWN", 400, "Only m.id.user identifiers are supported");
      }
      user = req(identifier, "user", "string");
    } else {
      user = opt(b, "user", "string"); // deprecated top-level form
    }
    if (user === undefined) throw new MatrixError("M_MISSING_PARAM", 400, "Missing 'identifier'");
    const localpart = loginLocalpart(user, r.config.serverName);
    if (localpart === null || password.length > 512) throw invalidLogin();
    session = await userActor(r.env, `@${localpart}:${r.config.serverName}`).loginWithPassword(password, device);
  } else if (type === "m.login.token") {
    const token = req(b, "token", "string");
    const parsed = parseToken(token);
    if (!parsed || parsed.kind !== "login") throw new MatrixError("M_FORBIDDEN", 403, "Invalid login token");
    session = await userActor(r.env, `@${parsed.localpart}:${r.config.serverName}`).loginWithToken(token, device);
  } else {
    throw new MatrixError("M_UNKNOWN", 400, `Unknown login type ${type}`);
  }
  return json({ ...session, well_known: { "m.homeserver": { base_url: r.config.publicBaseUrl } } });
}

// POST /_matrix/client/v1/login/get_token
export async function getLoginToken(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  await rateLimit(r, "login");
  const b = await body(r);
  return uiaResponse(await userActor(r.env, me.userId).getLoginToken(opt(b, "auth", "object") ?? null));
}

// POST /_matrix/client/v3/refresh
export async function refresh(r: EdgeRequest): Promise<Response> {
  const b = await body(r);
  const token = req(b, "refresh_token", "string");
  const parsed = parseToken(token);
  if (!parsed || parsed.kind !== "refresh") {
    throw new MatrixError("M_UNKNOWN_TOKEN", 401, "Unknown refresh token", { soft_logout: false });
  }
  const userId = `@${parsed.localpart}:${r.config.serverName}`;
  noteTokensRevoked(userId, Date.now()); // the old access token stops at once (party/edge/session-cache.ts)
  const fresh = await userActor(r.env, userId).refresh(token);
  return json({ access_token: fresh.access_token, refresh_token: fresh.refresh_token, expires_in_ms: fresh.expires_in_ms });
}

// POST /_matrix/client/v3/logout
export async function logout(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  await userActor(r.env, me.userId).logout(me.deviceId);
  return json({});
}

// POST /_matrix/client/v3/logout/all
export async function logoutAll(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  await userActor(r.env, me.userId).logoutAll();
  return json({});
}

// GET /_matrix/client/v3/account/whoami
export async function whoami(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  // Appservice requests have no device: device_id is then omitted (spec: whoami).
  return json({ user_id: me.userId, ...(me.deviceId ? { device_id: me.deviceId } : {}), is_guest: false });
}

// ---- password and deactivation ---------------------------------------------------------------

// POST /_matrix/client/v3/account/password
export async function changePassword(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const b = await body(r);
  const newPassword = req(b, "new_password", "string");
  checkPasswordPolicy(newPassword);
  const reply = await userActor(r.env, me.userId).changePassword({
    auth: opt(b, "auth", "object") ?? null,
    newPassword,
    logoutDevices: opt(b, "logout_devices", "boolean") ?? true,
    keepDevice: me.deviceId,
  });
  return uiaResponse(reply);
}

// POST /_matrix/client/v3/account/deactivate
export async function deactivate(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const b = await body(r);
  opt(b, "id_server", "string"); // type-checked; Parley binds no third-party IDs
  const reply = await userActor(r.env, me.userId).deactivate({
    auth: opt(b, "auth", "object") ?? null,
    erase: opt(b, "erase", "boolean") ?? false,
  });
  return uiaResponse(reply);
}
