/**
 * Who is calling: the access token from `Authorization: Bearer` (or the
 * deprecated `access_token` query parameter), vouched for by the User actor
 * whose localpart the token carries — no global token table, no edge cache, so
 * a revoked token fails on its very next use.
 * https://spec.matrix.org/v1.19/client-server-api/#client-authentication
 */
import { parseToken, hashToken } from "../../lib/access-token.ts";
import { MatrixError } from "../../lib/errors.ts";
import { userActor } from "../stubs.ts";
import type { EdgeRequest } from "./router.ts";

export interface Requester {
  userId: string;
  deviceId: string;
  admin: boolean;
  /** The raw token, for endpoints that act on it (logout). */
  accessToken: string;
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
  const parsed = parseToken(token);
  if (!parsed || parsed.kind !== "access") throw unknownToken();
  const userId = `@${parsed.localpart}:${req.config.serverName}`;
  const session = await userActor(req.env, userId).authenticate(await hashToken(token), req.clientIp);
  return { userId: session.userId, deviceId: session.deviceId, admin: session.admin, accessToken: token };
}

/** The token is not (or no longer) valid; soft_logout when it merely expired. */
export function unknownToken(softLogout = false): MatrixError {
  return new MatrixError("M_UNKNOWN_TOKEN", 401, "Unknown access token", { soft_logout: softLogout });
}
