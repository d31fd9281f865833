/**
 * Pushers: stored per user in the User actor.
 * https://spec.matrix.org/v1.19/client-server-api/#client-behaviour-14
 *
 * Delivery to push gateways is party/push/deliver.ts (rooms enqueue notices for
 * members who have pushers). `append: false` removes the same pusher from other
 * users through the D1 index (party/push/pusher-index.ts). See docs/design/push.md.
 */
import { parsePusherSet } from "../../lib/push/pusher.ts";
import { userActor } from "../stubs.ts";
import { body, jsonText } from "./account.ts";
import { authenticate } from "./auth.ts";
import { json } from "./http.ts";
import type { EdgeRequest } from "./router.ts";

// GET /_matrix/client/v3/pushers
export async function getPushers(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  return jsonText(await userActor(r.env, me.userId).getPushers());
}

// POST /_matrix/client/v3/pushers/set
export async function setPusher(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const change = parsePusherSet(await body(r), { allowInsecureGateways: r.config.pushAllowInsecureGateways });
  await userActor(r.env, me.userId).setPusher(change, me.deviceId);
  return json({});
}
