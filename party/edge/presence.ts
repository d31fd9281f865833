/**
 * Presence: a user's state for others to see.
 * https://spec.matrix.org/v1.19/client-server-api/#presence — design: docs/design/presence.md.
 *
 * GET is answered for oneself and for users who share a joined room with the caller (as
 * Synapse limits it); PUT only for oneself. With PRESENCE_ENABLED=false, PUT is accepted
 * and changes nothing and GET says `offline` (Synapse's `presence.enabled: false`).
 */
import { MatrixError } from "../../lib/errors.ts";
import { parseUserId } from "../../lib/identifiers.ts";
import { parsePresenceBody } from "../../lib/presence.ts";
import { userActor } from "../stubs.ts";
import { body, jsonText, requireSelf } from "./account.ts";
import { authenticate } from "./auth.ts";
import { json } from "./http.ts";
import type { EdgeRequest } from "./router.ts";

/** A local user named in the path (no federation: a remote user's presence is unknown here). */
function localUser(r: EdgeRequest): string {
  const userId = r.params.userId!;
  const parsed = parseUserId(userId);
  if (!parsed) throw new MatrixError("M_INVALID_PARAM", 400, "Invalid user ID");
  if (parsed.serverName !== r.config.serverName) throw new MatrixError("M_NOT_FOUND", 404, "No presence for this user");
  return userId;
}

// GET /_matrix/client/v3/presence/{userId}/status
export async function getPresence(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const userId = localUser(r);
  if (userId !== me.userId) {
    const them = userActor(r.env, userId);
    if (!(await them.isRegistered())) throw new MatrixError("M_NOT_FOUND", 404, "No presence for this user");
    const [mine, theirs] = await Promise.all([userActor(r.env, me.userId).joinedRooms(), them.joinedRooms()]);
    const shared = new Set(theirs);
    if (!mine.some((roomId) => shared.has(roomId))) throw new MatrixError("M_FORBIDDEN", 403, "You do not share a room with this user");
  }
  if (!r.config.presence.enabled) return json({ presence: "offline" });
  return jsonText(await userActor(r.env, userId).getPresence());
}

// PUT /_matrix/client/v3/presence/{userId}/status
export async function setPresence(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const userId = localUser(r);
  requireSelf(userId, me.userId);
  const { presence, statusMsg } = parsePresenceBody(await body(r), r.config.presence.statusMaxLength);
  if (r.config.presence.enabled) await userActor(r.env, userId).setPresence(presence, statusMsg);
  return json({});
}

/**
 * The user sent something: tell their User actor, at most once per THROTTLE_MS per user
 * and edge isolate (it marks them online and currently active; PRESENCE_ACTIVE_MS is
 * longer, so the state seen by others does not depend on the calls skipped). Not awaited.
 */
const THROTTLE_MS = 10_000;
const MAX_TRACKED = 10_000;
const lastMarked = new Map<string, number>();

export function markActive(r: EdgeRequest, userId: string): void {
  if (!r.config.presence.enabled) return;
  const now = Date.now();
  const last = lastMarked.get(userId);
  if (last !== undefined && now - last < THROTTLE_MS) return;
  if (lastMarked.size >= MAX_TRACKED) lastMarked.clear(); // bounded memory: forgetting only costs one more call
  lastMarked.set(userId, now);
  r.waitUntil(userActor(r.env, userId).presenceActive().catch((e: unknown) => console.error("presence: marking active failed", e)));
}
