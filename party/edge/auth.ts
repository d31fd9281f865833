/**
 * Who is calling: the access token from `Authorization: Bearer` (or the
 * deprecated `access_token` query parameter), vouched for by the User actor
 * whose localpart the token carries — no global token table, no edge cache, so
 * a revoked token fails on its very next use.
 * https://spec.matrix.org/v1.19/client-server-api/#client-authentication
 */
import { constantTimeEqual, parseToken, hashToken } from "../../lib/access-token.ts";
import type { Registration } from "../../lib/appservice/registration.ts";
import { mayMasquerade, senderOf, type AppserviceRegistry } from "../../lib/appservice/registry.ts";
import { forbidden, MatrixError } from "../../lib/errors.ts";
import { parseUserId } from "../../lib/identifiers.ts";
import { loadAppservices } from "../env.ts";
import { userActor } from "../stubs.ts";
import type { EdgeRequest } from "./router.ts";
import { enforceRestrictions } from "./restrictions.ts";
import { cachedSession, cacheSession, isRevokingRequest, noteTokensRevoked, sessionCacheSettings } from "./session-cache.ts";

export interface Requester {
  userId: string;
  deviceId: string;
  admin: boolean;
  /** The raw token, for endpoints that act on it (logout). */
  accessToken: string;
  /**
   * Set when the token is an appservice's as_token: the request acts as the appservice's
   * sender or the user it asserts (`user_id`). `deviceId` is then "" (no device) unless
   * it asserts one of that user's devices too (`device_id`, MSC4326).
   */
  appservice?: { id: string; rateLimited: boolean };
}

/** The token as sent, or null when the request carries none. */
export function extractAccessToken(req: Pick<EdgeRequest, "request" | "url">): string | null {
  const header = req.request.headers.get("Authorization");
  if (header !== null) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    // An Authorization header that is not a bearer token carries no token we can use.
    if (!m) throw new MatrixError("M_MISSING_TOKEN", 401, "Authorization header is not a Bearer token");
    return m[1]!;
  }
  const query = req.url.searchParams.get("access_token");
  return query === null || query === "" ? null : query;
}

/** Authenticates the request or throws 401 M_MISSING_TOKEN / M_UNKNOWN_TOKEN. */
export async function authenticate(req: EdgeRequest): Promise<Requester> {
  const token = extractAccessToken(req);
  if (token === null) throw new MatrixError("M_MISSING_TOKEN", 401, "Missing access token");
  // One hash per request serves both look-ups (it is on every authenticated request's path).
  const tokenHash = await hashToken(token);
  const reg = await appserviceForToken(loadAppservices(req.env), token, tokenHash);
  if (reg) return appserviceRequester(req, reg, token);
  const parsed = parseToken(token);
  if (!parsed || parsed.kind !== "access") throw unknownToken();
  const userId = `@${parsed.localpart}:${req.config.serverName}`;
  // A short-lived per-isolate cache of the User actor's answer (party/edge/session-cache.ts).
  const now = Date.now();
  const revoking = isRevokingRequest(req.request.method, req.url.pathname);
  if (revoking) noteTokensRevoked(userId, now);
  const hit = revoking ? undefined : cachedSession(tokenHash, now);
  if (hit && hit.userId === userId) {
    enforceRestrictions(req.method, req.url.pathname, hit);
    return { userId, deviceId: hit.deviceId, admin: hit.admin, accessToken: token };
  }
  const session = await userActor(req.env, userId).authenticate(tokenHash, req.clientIp);
  if (!revoking) cacheSession(tokenHash, session, now, sessionCacheSettings(req.env));
  // Locked and suspended accounts (party/edge/restrictions.ts), after caching: the state is part of the answer.
  enforceRestrictions(req.method, req.url.pathname, session);
  return { userId: session.userId, deviceId: session.deviceId, admin: session.admin, accessToken: token };
}

/** The token is not (or no longer) valid; soft_logout when it merely expired. */
export function unknownToken(softLogout = false): MatrixError {
  return new MatrixError("M_UNKNOWN_TOKEN", 401, "Unknown access token", { soft_logout: softLogout });
}

// ---- appservices --------------------------------------------------------------------------
// https://spec.matrix.org/v1.19/application-service-api/#identity-assertion

const tokenIndexes = new WeakMap<AppserviceRegistry, Promise<Map<string, Registration>>>();

/** The registration whose as_token this is: looked up by SHA-256, then compared in constant time. */
export async function appserviceForToken(
  registry: AppserviceRegistry,
  token: string,
  tokenHash?: string,
): Promise<Registration | undefined> {
  if (registry.all.length === 0) return undefined;
  let index = tokenIndexes.get(registry);
  if (!index) {
    index = (async () => new Map(await Promise.all(registry.all.map(async (r) => [await hashToken(r.asToken), r] as const))))();
    tokenIndexes.set(registry, index);
  }
  const reg = (await index).get(tokenHash ?? (await hashToken(token)));
  return reg && constantTimeEqual(reg.asToken, token) ? reg : undefined;
}

/**
 * Users known to have an active account, per isolate: asserting a ghost costs an RPC to its
 * User actor only the first time. Bounded; a ghost deactivated meanwhile is caught by the
 * User actor on the next action that needs its account.
 */
const knownUsers = new Set<string>();
const KNOWN_USERS_MAX = 10_000;

async function appserviceRequester(req: EdgeRequest, reg: Registration, token: string): Promise<Requester> {
  const serverName = req.config.serverName;
  const sender = senderOf(reg, serverName);
  const asserted = req.url.searchParams.get("user_id");
  const userId = asserted === null || asserted === "" ? sender : asserted;
  if (userId !== sender) {
    const parsed = parseUserId(userId);
    if (!parsed || parsed.serverName !== serverName || !mayMasquerade(reg, userId, serverName)) {
      throw forbidden(`Application service cannot masquerade as ${userId}: it is not in the appservice's user namespace`);
    }
  }
  if (!knownUsers.has(userId)) {
    // The sender is created on first use; namespaced users must be registered by the appservice.
    const state = await userActor(req.env, userId).appserviceAccount(userId === sender);
    if (state === "absent") throw forbidden(`Application service has not registered ${userId}`);
    if (state === "deactivated") throw new MatrixError("M_USER_DEACTIVATED", 403, `${userId} has been deactivated`);
    if (knownUsers.size >= KNOWN_USERS_MAX) knownUsers.clear();
    knownUsers.add(userId);
  }
  const deviceId = await assertedDevice(req, userId);
  return {
    userId,
    deviceId,
    admin: false,
    accessToken: token,
    appservice: { id: reg.id, rateLimited: reg.rateLimited && userId !== sender },
  };
}

/**
 * Device masquerading (MSC4326, split from MSC3202): `device_id` (unstable:
 * `org.matrix.msc3202.device_id`) next to `user_id` makes the request act as that device,
 * which must already exist for the user (400 M_UNKNOWN_DEVICE, or the MSC's unstable
 * errcode when the unstable parameter was used). Without it the request has no device
 * (""). Asked of the User actor on every such request, so a deleted device stops at once.
 * https://github.com/matrix-org/matrix-spec-proposals/pull/4326
 */
async function assertedDevice(req: EdgeRequest, userId: string): Promise<string> {
  const stable = req.url.searchParams.get("device_id");
  const unstable = req.url.searchParams.get("org.matrix.msc3202.device_id");
  const deviceId = stable || unstable;
  if (!deviceId) return "";
  const devices = await userActor(req.env, userId).listDevices();
  if (!devices.some((d) => d.device_id === deviceId)) {
    const errcode = stable ? "M_UNKNOWN_DEVICE" : "ORG.MATRIX.MSC4326.M_UNKNOWN_DEVICE";
    throw new MatrixError(errcode, 400, `${userId} has no device ${deviceId}`);
  }
  return deviceId;
}

/** Forgets that a user was known (tests; registration of a ghost marks it known). */
export function noteAppserviceUser(userId: string, known: boolean): void {
  if (known) knownUsers.add(userId);
  else knownUsers.delete(userId);
}

/**
 * The `ts` query parameter: an appservice's origin_server_ts for the event it sends
 * (timestamp massaging). Only appservices may set it; anyone else gets 400.
 */
export function massagedTimestamp(req: EdgeRequest, me: Requester): number | undefined {
  const raw = req.url.searchParams.get("ts");
  if (raw === null) return undefined;
  if (!me.appservice) throw new MatrixError("M_INVALID_PARAM", 400, "'ts' may only be used by application services");
  if (!/^[0-9]{1,16}$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw new MatrixError("M_INVALID_PARAM", 400, "'ts' must be a timestamp in milliseconds");
  }
  return Number(raw);
}
