/**
 * OpenID: a short-lived token a user hands to another service (an integration manager, a
 * widget) which that service exchanges here for the user's ID.
 * https://spec.matrix.org/v1.19/client-server-api/#openid
 * https://spec.matrix.org/v1.19/server-server-api/#openid
 *
 * Tokens live in the SECRETS KV namespace under the SHA-256 of the token (never the token
 * itself), with the owner and expiry; KV also expires the entry. Their prefix `oid_` is no
 * access-token prefix, so one can never be used as an access token (lib/access-token.ts).
 * A token minted just before its user is deactivated stays valid until it expires.
 */
import { hashToken, randomBase62 } from "../../lib/access-token.ts";
import { MatrixError, missingParam } from "../../lib/errors.ts";
import { body, requireSelf } from "./account.ts";
import { authenticate } from "./auth.ts";
import { json } from "./http.ts";
import type { EdgeRequest } from "./router.ts";

const kvKey = (hash: string) => `openid:${hash}`;
/** Shortest TTL KV accepts (its `expirationTtl` minimum). */
const KV_MIN_TTL_SECONDS = 60;

interface Stored {
  user_id: string;
  expires_ts: number;
}

// POST /_matrix/client/v3/user/{userId}/openid/request_token
export async function requestToken(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  requireSelf(r.params.userId!, me.userId);
  await body(r); // must be a JSON object (the spec's body is `{}`)
  const lifetime = r.config.openidTokenLifetimeSeconds;
  const token = `oid_${randomBase62(32)}`;
  const stored: Stored = { user_id: me.userId, expires_ts: Date.now() + lifetime * 1000 };
  await r.env.SECRETS.put(kvKey(await hashToken(token)), JSON.stringify(stored), { expirationTtl: Math.max(lifetime, KV_MIN_TTL_SECONDS) });
  return json({ access_token: token, token_type: "Bearer", matrix_server_name: r.config.serverName, expires_in: lifetime });
}

// GET /_matrix/federation/v1/openid/userinfo
export async function userinfo(r: EdgeRequest): Promise<Response> {
  const token = r.url.searchParams.get("access_token");
  if (token === null || token === "") throw missingParam("'access_token' is required");
  const unknown = () => new MatrixError("M_UNKNOWN_TOKEN", 401, "Access token unknown or expired");
  if (!/^oid_[0-9A-Za-z]{32}$/.test(token)) throw unknown();
  const raw = await r.env.SECRETS.get(kvKey(await hashToken(token)));
  if (raw === null) throw unknown();
  const stored = JSON.parse(raw) as Stored;
  if (stored.expires_ts <= Date.now()) throw unknown();
  return json({ sub: stored.user_id });
}
