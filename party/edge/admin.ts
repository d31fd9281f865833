/**
 * Shared-secret registration, compatible with Synapse's admin API so that existing
 * tools (`register_new_matrix_user`, `npm run user:create`) work:
 *   GET  /_synapse/admin/v1/register → { nonce }
 *   POST /_synapse/admin/v1/register { nonce, username, password, admin, user_type?, displayname?, mac }
 * where mac = hex HMAC-SHA1(REGISTRATION_SHARED_SECRET,
 *   nonce NUL username NUL password NUL ("admin" | "notadmin") [NUL user_type]).
 * Nonces are single use and expire after a minute. Unset secret → endpoint disabled.
 */
import { constantTimeEqual } from "../../lib/access-token.ts";
import { MatrixError } from "../../lib/errors.ts";
import { isValidLocalpart } from "../../lib/identifiers.ts";
import { checkPasswordPolicy } from "../../lib/password.ts";
import { serverActor, userActor } from "../stubs.ts";
import { body, opt, req } from "./account.ts";
import { json } from "./http.ts";
import type { EdgeRequest } from "./router.ts";

function secret(r: EdgeRequest): string {
  const s = r.config.registrationSharedSecret;
  if (!s) throw new MatrixError("M_UNKNOWN", 400, "Shared secret registration is not enabled");
  return s;
}

/** Lower-case hex HMAC-SHA1, the MAC Synapse's shared-secret registration uses. */
export async function registrationMac(
  sharedSecret: string,
  p: { nonce: string; username: string; password: string; admin: boolean; userType?: string },
): Promise<string> {
  const parts = [p.nonce, p.username, p.password, p.admin ? "admin" : "notadmin"];
  if (p.userType !== undefined) parts.push(p.userType);
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(sharedSecret),
    { name: "HMAC", hash: "SHA-1" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(parts.join("\x00")));
  return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// GET /_synapse/admin/v1/register
export async function adminNonce(r: EdgeRequest): Promise<Response> {
  secret(r);
  return json({ nonce: await serverActor(r.env).adminRegisterNonce() });
}

// POST /_synapse/admin/v1/register
export async function adminRegister(r: EdgeRequest): Promise<Response> {
  const sharedSecret = secret(r);
  const b = await body(r);
  const nonce = req(b, "nonce", "string");
  const username = req(b, "username", "string");
  const password = req(b, "password", "string");
  const mac = req(b, "mac", "string");
  const admin = opt(b, "admin", "boolean") ?? false;
  const userType = opt(b, "user_type", "string");
  const displayname = opt(b, "displayname", "string");
  // The nonce is spent before the MAC is checked: a wrong guess costs the guesser a nonce.
  if (!(await serverActor(r.env).consumeAdminRegisterNonce(nonce))) {
    throw new MatrixError("M_UNKNOWN", 400, "Unrecognised nonce");
  }
  const expected = await registrationMac(sharedSecret, { nonce, username, password, admin, userType });
  if (!constantTimeEqual(expected, mac.toLowerCase())) throw new MatrixError("M_FORBIDDEN", 403, "HMAC incorrect");
  if (userType !== undefined) throw new MatrixError("M_INVALID_PARAM", 400, "user_type is not supported");
  const localpart = username.toLowerCase();
  if (!isValidLocalpart(localpart, r.config.serverName)) {
    throw new MatrixError("M_INVALID_USERNAME", 400, "User ID may only contain a-z, 0-9, and . _ = - / +");
  }
  checkPasswordPolicy(password);
  const userId = `@${localpart}:${r.config.serverName}`;
  const session = await userActor(r.env, userId).adminRegister({ password, admin, displayname });
  return json({
    user_id: session.user_id,
    access_token: session.access_token,
    device_id: session.device_id,
    home_server: r.config.serverName,
  });
}
