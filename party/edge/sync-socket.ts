/**
 * Sliding sync over WebSocket (Parley's own transport; wire protocol in
 * docs/sliding-sync-websocket.md): route the upgrade to the User actor named in the
 * query, which authenticates the socket's first frame against its own token table.
 * The access token is never in the URL: URLs end up in logs and browser history.
 */
import { MatrixError } from "../../lib/errors.ts";
import { parseUserId } from "../../lib/identifiers.ts";
import { userActor } from "../stubs.ts";
import type { EdgeRequest } from "./router.ts";

export const SOCKET_PATH = "/_matrix/client/unstable/org.parley.sliding_sync.ws";

// GET /_matrix/client/unstable/org.parley.sliding_sync.ws?user_id={userId}
export async function slidingSyncSocket(r: EdgeRequest): Promise<Response> {
  if (r.request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
    throw new MatrixError("M_UNRECOGNIZED", 426, "This endpoint takes a WebSocket upgrade (Upgrade: websocket)", {});
  }
  // A token here would be logged along with the URL; refuse rather than ignore it.
  if (r.url.searchParams.has("access_token") || r.request.headers.has("Authorization")) {
    throw new MatrixError("M_INVALID_PARAM", 400, "Send the access token in the socket's first frame (type 'auth'), not with the upgrade");
  }
  const userId = r.url.searchParams.get("user_id");
  if (userId === null || userId === "") throw new MatrixError("M_MISSING_PARAM", 400, "Missing 'user_id': the socket is served by that user's actor");
  const parsed = parseUserId(userId);
  if (!parsed || parsed.serverName !== r.config.serverName) {
    throw new MatrixError("M_INVALID_PARAM", 400, "'user_id' must be a user of this server");
  }
  return userActor(r.env, userId).fetch(r.request);
}
