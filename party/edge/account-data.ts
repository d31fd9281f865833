/**
 * Client config (account data), global and per room. Only the owner reads or writes it.
 * https://spec.matrix.org/v1.19/client-server-api/#client-config
 */
import { MatrixError } from "../../lib/errors.ts";
import { isValidRoomId } from "../../lib/identifiers.ts";
import { userActor } from "../stubs.ts";
import { body, jsonText, requireSelf } from "./account.ts";
import { authenticate } from "./auth.ts";
import { json } from "./http.ts";
import type { EdgeRequest } from "./router.ts";

/**
 * Types the server manages itself: the spec has servers reject clients setting them
 * through these endpoints, globally and per room (405 M_BAD_JSON).
 */
export const SERVER_MANAGED_TYPES: ReadonlySet<string> = new Set(["m.fully_read", "m.push_rules"]);

function roomParam(r: EdgeRequest): string | null {
  const roomId = r.params.roomId;
  if (roomId === undefined) return null;
  if (!isValidRoomId(roomId)) throw new MatrixError("M_INVALID_PARAM", 400, "Invalid room ID");
  return roomId;
}

// GET /_matrix/client/v3/user/{userId}/account_data/{type}
// GET /_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}
export async function getAccountData(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  requireSelf(r.params.userId!, me.userId);
  return jsonText(await userActor(r.env, me.userId).getAccountData(roomParam(r), r.params.type!));
}

// PUT /_matrix/client/v3/user/{userId}/account_data/{type}
// PUT /_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}
export async function setAccountData(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  requireSelf(r.params.userId!, me.userId);
  const roomId = roomParam(r);
  const type = r.params.type!;
  if (SERVER_MANAGED_TYPES.has(type)) {
    throw new MatrixError("M_BAD_JSON", 405, `Cannot set ${type} through this API`);
  }
  const content = await body(r);
  await userActor(r.env, me.userId).setAccountData(roomId, type, content);
  return json({});
}
