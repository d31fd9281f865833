/**
 * Application service endpoints of the client-server API, and the homeserver's calls to
 * appservices that they make: ping, registration and login of namespaced users
 * (m.login.application_service), exclusive namespaces against ordinary users, third-party
 * lookups answered by the appservices declaring the protocol, and user queries.
 * https://spec.matrix.org/v1.19/application-service-api/
 */
import type { Registration } from "../../lib/appservice/registration.ts";
import { mayMasquerade } from "../../lib/appservice/registry.ts";
import { forbidden, MatrixError, notFound } from "../../lib/errors.ts";
import { isValidLocalpart, parseUserId } from "../../lib/identifiers.ts";
import { isJsonObject, type JsonObject, type JsonValue } from "../../lib/json.ts";
import { AppserviceUnreachable, callAppservice } from "../appservice/client.ts";
import { loadAppservices } from "../env.ts";
import { appserviceActor, userActor } from "../stubs.ts";
import type { NewDevice } from "../user.ts";
import { body, opt } from "./account.ts";
import { appserviceForToken, authenticate, extractAccessToken, noteAppserviceUser } from "./auth.ts";
import { asMatrixError, json } from "./http.ts";
import type { EdgeRequest } from "./router.ts";

export const APPSERVICE_LOGIN = "m.login.application_service";
const PING_TIMEOUT_MS = 15_000;
const QUERY_TIMEOUT_MS = 10_000;

/** The registration whose as_token the request carries, if it carries one. */
export async function appserviceCaller(r: EdgeRequest, opts: { lenient?: boolean } = {}): Promise<Registration | undefined> {
  let token: string | null;
  try {
    token = extractAccessToken(r);
  } catch (e) {
    // A non-bearer Authorization header: no appservice; endpoints without auth ignore it.
    if (opts.lenient) return undefined;
    throw e;
  }
  return token === null ? undefined : appserviceForToken(loadAppservices(r.env), token);
}

/** 400 M_EXCLUSIVE when an ordinary user asks for a user ID inside an appservice's exclusive namespace. */
export function refuseExclusiveUser(r: EdgeRequest, username: string): void {
  const userId = `@${username.toLowerCase()}:${r.config.serverName}`;
  if (loadAppservices(r.env).exclusiveOwner("users", userId)) {
    throw new MatrixError("M_EXCLUSIVE", 400, "This user ID is reserved by an application service");
  }
}

/** Whether a registration or login body asks for m.login.application_service (top-level `type` or `auth.type`). */
export function asksForAppserviceLogin(b: JsonObject): boolean {
  return b.type === APPSERVICE_LOGIN || (isJsonObject(b.auth) && b.auth.type === APPSERVICE_LOGIN);
}

function deviceOf(b: JsonObject): NewDevice {
  return {
    deviceId: opt(b, "device_id", "string"),
    displayName: opt(b, "initial_device_display_name", "string"),
    refreshable: opt(b, "refresh_token", "boolean") ?? false,
  };
}

/** A user ID the appservice names (`@local:server` or `local`) that must be ours and in its namespace. */
function namespacedUser(r: EdgeRequest, reg: Registration, name: string): string {
  let localpart = name;
  if (name.startsWith("@")) {
    const id = parseUserId(name);
    if (!id || id.serverName !== r.config.serverName) throw new MatrixError("M_INVALID_USERNAME", 400, "Not a user ID of this server");
    localpart = id.localpart;
  }
  if (!isValidLocalpart(localpart, r.config.serverName)) {
    throw new MatrixError("M_INVALID_USERNAME", 400, "User ID may only contain a-z, 0-9, and . _ = - / +");
  }
  const userId = `@${localpart}:${r.config.serverName}`;
  if (!mayMasquerade(reg, userId, r.config.serverName)) {
    throw new MatrixError("M_EXCLUSIVE", 400, `${userId} is not in the application service's user namespace`);
  }
  const owner = loadAppservices(r.env).exclusiveOwner("users", userId);
  if (owner && owner.id !== reg.id) throw new MatrixError("M_EXCLUSIVE", 400, `${userId} is in another application service's exclusive namespace`);
  return userId;
}

// POST /_matrix/client/v3/register, with an as_token (called by account.register)
export async function appserviceRegister(r: EdgeRequest, reg: Registration): Promise<Response> {
  const b = await body(r);
  if (!asksForAppserviceLogin(b)) {
    throw new MatrixError("M_UNKNOWN", 400, `Application services register users with type ${APPSERVICE_LOGIN}`);
  }
  const username = opt(b, "username", "string");
  if (username === undefined) throw new MatrixError("M_MISSING_PARAM", 400, "Missing 'username'");
  const userId = namespacedUser(r, reg, username);
  const reply = await userActor(r.env, userId).appserviceRegister({
    device: deviceOf(b),
    inhibitLogin: opt(b, "inhibit_login", "boolean") ?? false,
  });
  noteAppserviceUser(userId, true);
  return json(reply as unknown as JsonObject);
}

// POST /_matrix/client/v3/login, type m.login.application_service (called by account.login)
export async function appserviceLogin(r: EdgeRequest, b: JsonObject) {
  const reg = await appserviceCaller(r);
  if (!reg) throw new MatrixError("M_MISSING_TOKEN", 401, `${APPSERVICE_LOGIN} needs the application service's as_token`);
  const identifier = opt(b, "identifier", "object");
  const user = identifier ? (identifier.type === "m.id.user" ? identifier.user : undefined) : b.user;
  if (typeof user !== "string") throw new MatrixError("M_MISSING_PARAM", 400, "Missing an m.id.user identifier");
  const userId = namespacedUser(r, reg, user);
  return userActor(r.env, userId).appserviceLogin(deviceOf(b));
}

// POST /_matrix/client/v1/appservice/{appserviceId}/ping
export async function ping(r: EdgeRequest): Promise<Response> {
  const token = extractAccessToken(r);
  if (token === null) throw new MatrixError("M_MISSING_TOKEN", 401, "Missing access token");
  const reg = await appserviceForToken(loadAppservices(r.env), token);
  if (!reg) throw forbidden("Provided access token is not an appservice's as_token");
  if (reg.id !== r.params.appserviceId) throw forbidden("Provided access token is not this appservice's as_token");
  const b = await body(r);
  const txnId = opt(b, "transaction_id", "string");
  if (reg.url === null) throw new MatrixError("M_URL_NOT_SET", 400, "Application service doesn't have a URL configured");
  const started = Date.now();
  let reply;
  try {
    reply = await callAppservice(reg, "POST", "/_matrix/app/v1/ping", {
      body: JSON.stringify(txnId === undefined ? {} : { transaction_id: txnId }),
      timeoutMs: PING_TIMEOUT_MS,
    });
  } catch (e) {
    if (!(e instanceof AppserviceUnreachable)) throw e;
    if (e.timedOut) throw new MatrixError("M_CONNECTION_TIMEOUT", 504, "Connection to application service timed out");
    throw new MatrixError("M_CONNECTION_FAILED", 502, `Connection to application service failed: ${e.message}`);
  }
  if (reply.status < 200 || reply.status >= 300) {
    throw new MatrixError("M_BAD_STATUS", 502, `Ping returned status ${reply.status}`, { status: reply.status, body: reply.text.slice(0, 4096) });
  }
  // The appservice is reachable: a backlog waiting out its backoff goes now.
  r.waitUntil(appserviceActor(r.env, reg.id).kick().catch(() => {}));
  return json({ duration_ms: Date.now() - started });
}

// ---- third-party lookups ------------------------------------------------------------------
// https://spec.matrix.org/v1.19/client-server-api/#third-party-lookups

/** GET from an appservice; the parsed JSON on 2xx, undefined on any failure (others may still answer). */
async function query(reg: Registration, path: string, params?: URLSearchParams): Promise<JsonValue | undefined> {
  if (reg.url === null) return undefined;
  try {
    const reply = await callAppservice(reg, "GET", path, { query: params, timeoutMs: QUERY_TIMEOUT_MS });
    if (reply.status < 200 || reply.status >= 300) return undefined;
    return reply.text.trim() === "" ? {} : (JSON.parse(reply.text) as JsonValue);
  } catch (e) {
    console.warn(`appservice ${reg.id}: GET ${path} failed`, e);
    return undefined;
  }
}

/** One protocol's metadata merged across the appservices declaring it; instances get an instance_id. */
async function protocolInfo(regs: Registration[], protocol: string): Promise<JsonObject | undefined> {
  const answers = await Promise.all(regs.map(async (reg) => [reg, await query(reg, `/_matrix/app/v1/thirdparty/protocol/${encodeURIComponent(protocol)}`)] as const));
  let merged: JsonObject | undefined;
  for (const [reg, a] of answers) {
    if (!isJsonObject(a)) continue;
    const instances = (Array.isArray(a.instances) ? a.instances : [])
      .filter(isJsonObject)
      .map((i) => ({ ...i, instance_id: `${reg.id}|${typeof i.network_id === "string" ? i.network_id : ""}` }));
    if (!merged) merged = { ...a, instances };
    else (merged.instances as JsonValue[]).push(...instances);
  }
  return merged;
}

// GET /_matrix/client/v3/thirdparty/protocols
export async function protocols(r: EdgeRequest): Promise<Response> {
  await authenticate(r);
  const registry = loadAppservices(r.env);
  const names = [...new Set(registry.all.flatMap((x) => x.protocols))];
  const out: JsonObject = {};
  for (const [name, info] of await Promise.all(names.map(async (p) => [p, await protocolInfo(registry.withProtocol(p), p)] as const))) {
    if (info) out[name] = info;
  }
  return json(out);
}

// GET /_matrix/client/v3/thirdparty/protocol/{protocol}
export async function protocol(r: EdgeRequest): Promise<Response> {
  await authenticate(r);
  const p = r.params.protocol!;
  const info = await protocolInfo(loadAppservices(r.env).withProtocol(p), p);
  if (!info) throw notFound("Unknown protocol");
  return json(info);
}

/** Forwarded query parameters: all but the client's credentials. */
function forwardedParams(r: EdgeRequest): URLSearchParams {
  const params = new URLSearchParams(r.url.searchParams);
  params.delete("access_token");
  return params;
}

async function concatenated(regs: Registration[], path: string, params: URLSearchParams): Promise<JsonValue[]> {
  const answers = await Promise.all(regs.map((reg) => query(reg, path, params)));
  return answers.flatMap((a) => (Array.isArray(a) ? a.filter(isJsonObject) : []));
}

function byProtocol(kind: "location" | "user") {
  return async (r: EdgeRequest): Promise<Response> => {
    await authenticate(r);
    const p = r.params.protocol!;
    const regs = loadAppservices(r.env).withProtocol(p);
    if (regs.length === 0) throw notFound("Unknown protocol");
    return json(await concatenated(regs, `/_matrix/app/v1/thirdparty/${kind}/${encodeURIComponent(p)}`, forwardedParams(r)));
  };
}

// GET /_matrix/client/v3/thirdparty/location/{protocol}
export const locationByProtocol = byProtocol("location");
// GET /_matrix/client/v3/thirdparty/user/{protocol}
export const userByProtocol = byProtocol("user");

function reverse(kind: "location" | "user", param: "alias" | "userid") {
  return async (r: EdgeRequest): Promise<Response> => {
    await authenticate(r);
    const value = r.url.searchParams.get(param);
    if (value === null) throw new MatrixError("M_MISSING_PARAM", 400, `Missing '${param}'`);
    const registry = loadAppservices(r.env);
    const regs = registry.all.filter((x) => x.protocols.length > 0);
    const found = await concatenated(regs, `/_matrix/app/v1/thirdparty/${kind}`, new URLSearchParams({ [param]: value }));
    if (found.length === 0) throw notFound(`No third-party ${kind} found`);
    return json(found);
  };
}

// GET /_matrix/client/v3/thirdparty/location?alias=
export const locationByAlias = reverse("location", "alias");
// GET /_matrix/client/v3/thirdparty/user?userid=
export const userByUserId = reverse("user", "userid");

// ---- user queries -------------------------------------------------------------------------

/**
 * A lookup of a local user that may not exist yet: on M_NOT_FOUND, the appservices whose
 * user namespace holds the ID are asked (`GET /_matrix/app/v1/users/{userId}`); if one
 * says it exists (and so has registered it), the lookup runs once more.
 * https://spec.matrix.org/v1.19/application-service-api/#get_matrixappv1usersuserid
 */
export async function withAppserviceUserQuery<T>(r: EdgeRequest, userId: string, lookup: () => Promise<T>): Promise<T> {
  try {
    return await lookup();
  } catch (e) {
    if (asMatrixError(e)?.errcode !== "M_NOT_FOUND") throw e;
    const owners = loadAppservices(r.env).userNamespaceOwners(userId);
    for (const reg of owners) {
      if ((await query(reg, `/_matrix/app/v1/users/${encodeURIComponent(userId)}`)) !== undefined) return lookup();
    }
    throw e;
  }
}
