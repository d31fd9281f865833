/**
 * Third-party identifiers (email addresses, phone numbers) on the account.
 * https://spec.matrix.org/v1.19/client-server-api/#adding-account-administrative-contact-information
 *
 * Parley sends no email or SMS and talks to no identity server, so no validation session
 * can ever exist and no account holds a 3PID (`m.3pid_changes` is false in /capabilities;
 * registration and login offer no 3PID stage). Every endpoint is still real: it checks its
 * body as the spec defines it and then gives the spec's answer for that situation
 * (docs/design/client-extras.md, "Third-party identifiers"):
 * - `requestToken` (register, account, password reset; email and msisdn): 400
 *   M_THREEPID_MEDIUM_NOT_SUPPORTED — the medium cannot be validated here. Synapse answers
 *   400 as well when email/SMS is not configured (with M_UNKNOWN or M_THREEPID_DENIED);
 *   the spec's dedicated errcode tells clients exactly why.
 * - `/3pid/add`: user-interactive auth (password) as the spec requires, then 400
 *   M_THREEPID_AUTH_FAILED — no session with that `sid` was ever validated.
 * - `/3pid/bind` and the deprecated `POST /3pid`: 400 M_SERVER_NOT_TRUSTED — binding goes
 *   through an identity server and this server trusts none.
 * - `/3pid/delete`, `/3pid/unbind`: 200 `id_server_unbind_result: "no-support"` — the
 *   account holds no such identifier (removing nothing succeeds, as in Synapse) and no
 *   identity server is known to unbind from, the spec's answer for that case.
 */
import { MatrixError } from "../../lib/errors.ts";
import type { JsonObject } from "../../lib/json.ts";
import { userActor } from "../stubs.ts";
import { opt, req, uiaResponse } from "./account.ts";
import { authenticate } from "./auth.ts";
import { json, readJsonObject } from "./http.ts";
import type { EdgeRequest } from "./router.ts";

// GET /_matrix/client/v3/account/3pid
export async function getThreePids(r: EdgeRequest): Promise<Response> {
  await authenticate(r);
  return json({ threepids: [] });
}

type Medium = "email" | "msisdn";

/** The spec's rule for `client_secret`: `[0-9a-zA-Z.=_-]`, 1–255 characters. */
const CLIENT_SECRET = /^[0-9a-zA-Z.=_-]{1,255}$/;

function body(r: EdgeRequest): Promise<JsonObject> {
  return readJsonObject(r.request, { maxBytes: r.config.maxRequestBytes });
}

function clientSecret(b: JsonObject, key = "client_secret"): string {
  const s = req(b, key, "string");
  if (!CLIENT_SECRET.test(s)) {
    throw new MatrixError("M_INVALID_PARAM", 400, `'${key}' must be 1–255 characters of [0-9a-zA-Z.=_-]`);
  }
  return s;
}

/** `send_attempt`: a required integer. */
function sendAttempt(b: JsonObject): void {
  const v = b.send_attempt;
  if (v === undefined || v === null) throw new MatrixError("M_MISSING_PARAM", 400, "Missing 'send_attempt'");
  if (typeof v !== "number" || !Number.isSafeInteger(v)) throw new MatrixError("M_BAD_JSON", 400, "'send_attempt' must be an integer");
}

/** The body of every requestToken endpoint of `medium`, checked field by field. */
function checkRequestTokenBody(b: JsonObject, medium: Medium): void {
  clientSecret(b);
  sendAttempt(b);
  if (medium === "email") {
    const email = req(b, "email", "string");
    if (!/^[^@\s]+@[^@\s]+$/.test(email)) throw new MatrixError("M_INVALID_PARAM", 400, "'email' is not an email address");
  } else {
    const country = req(b, "country", "string");
    if (!/^[A-Z]{2}$/.test(country)) throw new MatrixError("M_INVALID_PARAM", 400, "'country' must be a two-letter ISO-3166-1 alpha-2 code");
    const phone = req(b, "phone_number", "string");
    if (!/^[0-9 +().-]{1,32}$/.test(phone) || !/[0-9]/.test(phone)) {
      throw new MatrixError("M_INVALID_PARAM", 400, "'phone_number' is not a phone number");
    }
  }
  opt(b, "next_link", "string");
  opt(b, "id_server", "string");
  opt(b, "id_access_token", "string");
}

function mediumNotSupported(medium: Medium): MatrixError {
  const what = medium === "email" ? "email addresses" : "phone numbers";
  return new MatrixError("M_THREEPID_MEDIUM_NOT_SUPPORTED", 400, `This homeserver cannot validate ${what}: it sends no ${medium === "email" ? "email" : "SMS"}`);
}

/**
 * One handler per requestToken route. Authentication is not required by the spec for
 * any of them (registration and password reset happen without an account).
 */
function requestToken(medium: Medium) {
  return async (r: EdgeRequest): Promise<Response> => {
    checkRequestTokenBody(await body(r), medium);
    throw mediumNotSupported(medium);
  };
}

// POST /_matrix/client/v3/register/email/requestToken
export const registerEmailRequestToken = requestToken("email");
// POST /_matrix/client/v3/register/msisdn/requestToken
export const registerMsisdnRequestToken = requestToken("msisdn");
// POST /_matrix/client/v3/account/3pid/email/requestToken
export const accountEmailRequestToken = requestToken("email");
// POST /_matrix/client/v3/account/3pid/msisdn/requestToken
export const accountMsisdnRequestToken = requestToken("msisdn");
// POST /_matrix/client/v3/account/password/email/requestToken
export const passwordEmailRequestToken = requestToken("email");
// POST /_matrix/client/v3/account/password/msisdn/requestToken
export const passwordMsisdnRequestToken = requestToken("msisdn");

// POST /_matrix/client/v3/account/3pid/add
export async function addThreePid(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const b = await body(r);
  clientSecret(b);
  req(b, "sid", "string");
  // The spec puts this endpoint behind UIA: the password is checked before anything else is said.
  const reply = await userActor(r.env, me.userId).passwordUia("3pid_add", opt(b, "auth", "object") ?? null);
  if (!reply.done) return uiaResponse(reply);
  throw new MatrixError("M_THREEPID_AUTH_FAILED", 400, "No validated third-party identifier session has this sid and client_secret");
}

/** The credentials of an identity-server session (`/3pid/bind`, deprecated `POST /3pid`). */
function checkIdentityServerCreds(b: JsonObject): void {
  clientSecret(b);
  req(b, "sid", "string");
  req(b, "id_server", "string");
  req(b, "id_access_token", "string");
}

function noIdentityServer(): MatrixError {
  return new MatrixError("M_SERVER_NOT_TRUSTED", 400, "This homeserver does not use identity servers");
}

// POST /_matrix/client/v3/account/3pid/bind
export async function bindThreePid(r: EdgeRequest): Promise<Response> {
  await authenticate(r);
  checkIdentityServerCreds(await body(r));
  throw noIdentityServer();
}

// POST /_matrix/client/v3/account/3pid (deprecated: the same as /3pid/bind)
export async function postThreePid(r: EdgeRequest): Promise<Response> {
  await authenticate(r);
  const b = await body(r);
  const creds = opt(b, "three_pid_creds", "object");
  if (!creds) throw new MatrixError("M_MISSING_PARAM", 400, "Missing 'three_pid_creds'");
  checkIdentityServerCreds(creds);
  throw noIdentityServer();
}

/** `{medium, address, id_server?}` of /3pid/delete and /3pid/unbind. */
function checkRemoval(b: JsonObject): void {
  const medium = req(b, "medium", "string");
  if (medium !== "email" && medium !== "msisdn") throw new MatrixError("M_INVALID_PARAM", 400, "'medium' must be 'email' or 'msisdn'");
  req(b, "address", "string");
  opt(b, "id_server", "string");
}

// POST /_matrix/client/v3/account/3pid/delete
export async function deleteThreePid(r: EdgeRequest): Promise<Response> {
  await authenticate(r);
  checkRemoval(await body(r));
  return json({ id_server_unbind_result: "no-support" });
}

// POST /_matrix/client/v3/account/3pid/unbind
export async function unbindThreePid(r: EdgeRequest): Promise<Response> {
  await authenticate(r);
  checkRemoval(await body(r));
  return json({ id_server_unbind_result: "no-support" });
}
