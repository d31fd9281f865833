/**
 * Server administration: who a user is connected as, per device.
 * https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3adminwhoisuserid
 *
 * Allowed to server admins and, as Synapse allows, to the user themself; anyone else is
 * refused before the target is looked up, so the endpoint cannot probe for accounts. The
 * User actor records one (address, time) per device, refreshed at most once a minute by
 * `authenticate` (party/user.ts), so each device has one session with at most one
 * connection; user agents are not recorded, so `user_agent` is never present.
 */
import { forbidden, invalidParam, notFound } from "../../lib/errors.ts";
import { parseUserId } from "../../lib/identifiers.ts";
import { userActor } from "../stubs.ts";
import { authenticate } from "./auth.ts";
import { json } from "./http.ts";
import type { EdgeRequest } from "./router.ts";

// A type alias (not an interface), so it is assignable to JsonValue.
type ConnectionInfo = {
  ip?: string;
  last_seen?: number;
};

/** The address authenticate records when the platform gave none (party/edge/router.ts). */
const NO_ADDRESS = "unknown";

// GET /_matrix/client/v3/admin/whois/{userId}
export async function whois(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const target = r.params.userId!;
  if (target !== me.userId && !me.admin) throw forbidden("Only server admins may look up other users");
  const parsed = parseUserId(target);
  if (!parsed) throw invalidParam("Invalid user ID");
  if (parsed.serverName !== r.config.serverName) throw invalidParam("Can only look up local users");
  const user = userActor(r.env, target);
  if (!(await user.isRegistered())) throw notFound("User not found");
  const devices: Record<string, { sessions: Array<{ connections: ConnectionInfo[] }> }> = {};
  for (const d of await user.listDevices()) {
    const c: ConnectionInfo = {};
    if (d.last_seen_ip !== undefined && d.last_seen_ip !== NO_ADDRESS) c.ip = d.last_seen_ip;
    if (d.last_seen_ts !== undefined) c.last_seen = d.last_seen_ts;
    devices[d.device_id] = { sessions: [{ connections: Object.keys(c).length > 0 ? [c] : [] }] };
  }
  return json({ user_id: target, devices });
}
