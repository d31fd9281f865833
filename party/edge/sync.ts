/**
 * /sync v2 and simplified sliding sync (MSC4186): parse the query, authenticate, one call
 * to the User actor (which may hold the request as a long-poll up to `timeout`).
 * https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3sync
 * https://github.com/matrix-org/matrix-spec-proposals/pull/4186
 */
import { invalidParam } from "../../lib/errors.ts";
import { MAX_SYNC_TIMEOUT_MS, parseSyncParams } from "../../lib/sync/request.ts";
import { userActor } from "../stubs.ts";
import { authenticate } from "./auth.ts";
import { readJsonObject } from "./http.ts";
import type { EdgeRequest } from "./router.ts";

// GET /_matrix/client/v3/sync
export async function sync(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const params = parseSyncParams(r.url.searchParams);
  const body = await userActor(r.env, me.userId).sync(me.deviceId, params);
  return new Response(body, { headers: { "Content-Type": "application/json" } });
}

// POST /_matrix/client/unstable/org.matrix.simplified_msc3575/sync
/**
 * Simplified sliding sync (MSC4186): `pos` and `timeout` from the query (as clients send
 * them; the body's, as the MSC's newer draft puts them, when the query has none), the
 * body to the User actor, which validates it and may hold the request up to `timeout`.
 */
export async function slidingSync(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const body = await readJsonObject(r.request, { maxBytes: r.config.maxRequestBytes });
  const q = r.url.searchParams;
  const posText = q.get("pos") ?? (typeof body.pos === "string" ? body.pos : null);
  const timeoutText = q.get("timeout") ?? (typeof body.timeout === "number" ? String(body.timeout) : null);
  let timeoutMs = 0;
  if (timeoutText !== null && timeoutText !== "") {
    if (!/^\d{1,12}$/.test(timeoutText)) throw invalidParam("'timeout' must be a non-negative integer");
    timeoutMs = Math.min(Number(timeoutText), MAX_SYNC_TIMEOUT_MS);
  }
  const presence = q.get("set_presence") ?? (typeof body.set_presence === "string" ? body.set_presence : null);
  if (presence !== null && presence !== "online" && presence !== "offline" && presence !== "unavailable") {
    throw invalidParam("'set_presence' must be online, offline or unavailable");
  }
  const res = await userActor(r.env, me.userId).slidingSync(me.deviceId, JSON.stringify(body), posText === "" ? null : posText, timeoutMs, presence ?? "online");
  return new Response(res.body, { headers: { "Content-Type": "application/json" } });
}
