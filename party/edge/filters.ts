/**
 * Filters: stored per user, returned unchanged; IDs are opaque.
 * https://spec.matrix.org/v1.19/client-server-api/#filtering
 */
import { validateFilter } from "../../lib/filter.ts";
import type { JsonObject } from "../../lib/json.ts";
import { userActor } from "../stubs.ts";
import { body, jsonText, requireSelf } from "./account.ts";
import { authenticate } from "./auth.ts";
import { json } from "./http.ts";
import type { EdgeRequest } from "./router.ts";

// POST /_matrix/client/v3/user/{userId}/filter
export async function createFilter(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  requireSelf(r.params.userId!, me.userId);
  const filter = validateFilter(await body(r));
  const filterId = await userActor(r.env, me.userId).createFilter(filter as JsonObject);
  return json({ filter_id: filterId });
}

// GET /_matrix/client/v3/user/{userId}/filter/{filterId}
export async function getFilter(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  requireSelf(r.params.userId!, me.userId);
  return jsonText(await userActor(r.env, me.userId).getFilter(r.params.filterId!));
}
