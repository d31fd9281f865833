/**
 * Account locking and suspension: the admin API that sets them, and what each forbids.
 * https://spec.matrix.org/v1.19/client-server-api/#account-locking
 * https://spec.matrix.org/v1.19/client-server-api/#account-suspension
 *
 * The User actor keeps the flags (party/user/restrictions.ts) and reports them with every
 * token check; `authenticate` (party/edge/auth.ts) calls `enforceRestrictions` on the
 * answer, cached or fresh. A change made through this file drops the target's cached
 * sessions in this isolate at once (`noteTokensRevoked`); other isolates see it within
 * AUTH_CACHE_TTL_MS (default 2 s, at most 60 s).
 *
 * - Locked: every authenticated request but `/logout` and `/logout/all` fails with 401
 *   M_USER_LOCKED and `soft_logout: true`; the tokens stay valid so that unlocking restores
 *   the session.
 * - Suspended: the account becomes read-only. Refused with 403 M_USER_SUSPENDED (the
 *   spec's list of actions a suspended user may not take): creating rooms, joining,
 *   knocking, inviting, kicking, banning, unbanning, upgrading rooms, sending message
 *   events other than redactions, sending state events, changing the profile, uploading
 *   media, creating aliases and publishing rooms. Everything else — reading, syncing,
 *   leaving, redacting, receipts, typing, to-device, keys, account data, logout,
 *   deactivation — still works.
 */
import { forbidden, invalidParam, MatrixError, missingParam } from "../../lib/errors.ts";
import { parseUserId } from "../../lib/identifiers.ts";
import type { RestrictionKind, Restrictions } from "../user/restrictions.ts";
import { userActor } from "../stubs.ts";
import { authenticate } from "./auth.ts";
import { json, readJsonObject } from "./http.ts";
import type { EdgeRequest } from "./router.ts";
import { noteTokensRevoked } from "./session-cache.ts";

const CLIENT = "/_matrix/client/(?:v3|r0)";

/** Requests a locked account may still make. */
const LOCKED_ALLOWED = new RegExp(`^${CLIENT}/logout(?:/all)?$`);

/** [method, path] pairs a suspended account may not make. */
const SUSPENDED_REFUSED: ReadonlyArray<readonly [string, RegExp]> = [
  ["POST", new RegExp(`^${CLIENT}/createRoom$`)],
  ["POST", new RegExp(`^${CLIENT}/(?:join|knock)/[^/]+$`)],
  ["POST", new RegExp(`^${CLIENT}/rooms/[^/]+/(?:join|invite|kick|ban|unban|upgrade)$`)],
  ["PUT", new RegExp(`^${CLIENT}/rooms/[^/]+/state(?:/.*)?$`)],
  ["PUT", new RegExp(`^${CLIENT}/profile/[^/]+/[^/]+$`)],
  ["DELETE", new RegExp(`^${CLIENT}/profile/[^/]+/[^/]+$`)],
  ["PUT", new RegExp(`^${CLIENT}/directory/room/[^/]+$`)],
  ["PUT", new RegExp(`^${CLIENT}/directory/list/room/[^/]+$`)],
  ["POST", /^\/_matrix\/media\/(?:v3|r0)\/upload$/],
  ["POST", /^\/_matrix\/media\/v1\/create$/],
  ["PUT", /^\/_matrix\/media\/(?:v3|r0)\/upload\/[^/]+\/[^/]+$/],
];

/** Sending: refused unless the event is a redaction (the spec lets suspended users redact). */
const SEND = new RegExp(`^${CLIENT}/rooms/[^/]+/send/([^/]+)/[^/]+$`);

/** Throws the spec's error when the account's restrictions forbid this request. */
export function enforceRestrictions(method: string, pathname: string, s: Restrictions): void {
  if (s.locked && !(method === "POST" && LOCKED_ALLOWED.test(pathname))) {
    throw new MatrixError("M_USER_LOCKED", 401, "This account has been locked by a server administrator", { soft_logout: true });
  }
  if (!s.suspended) return;
  const refused = SUSPENDED_REFUSED.some(([m, re]) => m === method && re.test(pathname));
  const send = method === "PUT" ? SEND.exec(pathname) : null;
  if (refused || (send && safeDecode(send[1]!) !== "m.room.redaction")) {
    throw new MatrixError("M_USER_SUSPENDED", 403, "This account is suspended: it may read but not act");
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * The target of an admin request. Authorisation comes first, before any account is looked
 * up (the spec's rule against user enumeration); then the user ID must be local.
 */
async function adminTarget(r: EdgeRequest): Promise<{ target: string; self: boolean }> {
  const me = await authenticate(r);
  if (!me.admin) throw forbidden("Requesting user is not a server administrator");
  const target = r.params.userId!;
  const parsed = parseUserId(target);
  if (!parsed) throw invalidParam("Invalid user ID");
  if (parsed.serverName !== r.config.serverName) throw invalidParam("User does not belong to the local server");
  return { target, self: target === me.userId };
}

function getter(kind: RestrictionKind) {
  return async (r: EdgeRequest): Promise<Response> => {
    const { target, self } = await adminTarget(r);
    const on = await userActor(r.env, target).getRestriction(kind, self);
    return json({ [kind]: on });
  };
}

function setter(kind: RestrictionKind) {
  return async (r: EdgeRequest): Promise<Response> => {
    const { target, self } = await adminTarget(r);
    const b = await readJsonObject(r.request, { maxBytes: r.config.maxRequestBytes });
    const on = b[kind];
    if (on === undefined || on === null) throw missingParam(`Missing '${kind}'`);
    if (typeof on !== "boolean") throw new MatrixError("M_BAD_JSON", 400, `'${kind}' must be a boolean`);
    await userActor(r.env, target).setRestriction(kind, on, self);
    // This isolate forgets the target's cached sessions now; others within AUTH_CACHE_TTL_MS.
    noteTokensRevoked(target, Date.now());
    return json({ [kind]: on });
  };
}

// GET /_matrix/client/v1/admin/lock/{userId}
export const getLock = getter("locked");
// PUT /_matrix/client/v1/admin/lock/{userId}
export const putLock = setter("locked");
// GET /_matrix/client/v1/admin/suspend/{userId}
export const getSuspension = getter("suspended");
// PUT /_matrix/client/v1/admin/suspend/{userId}
export const putSuspension = setter("suspended");
