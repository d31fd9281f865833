/**
 * /sync v2: parse the query, authenticate, one call to the User actor (which may hold
 * the request as a long-poll up to `timeout`).
 * https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3sync
 */
import { parseSyncParams } from "../../lib/sync/request.ts";
import { userActor } from "../stubs.ts";
import { authenticate } from "./auth.ts";
import type { EdgeRequest } from "./router.ts";

// GET /_matrix/client/v3/sync
export async function sync(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const params = parseSyncParams(r.url.searchParams);
  const body = await userActor(r.env, me.userId).sync(me.deviceId, params);
  return new Response(body, { headers: { "Content-Type": "application/json" } });
}
