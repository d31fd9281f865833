/**
 * Publishing this server's signing keys.
 * https://spec.matrix.org/v1.19/server-server-api/#get_matrixkeyv2server
 */
import { serverActor } from "../stubs.ts";
import { json } from "./http.ts";
import type { EdgeRequest } from "./router.ts";

// GET /_matrix/key/v2/server
export async function serverKeys(req: EdgeRequest): Promise<Response> {
  const body = await serverActor(req.env).keyResponse();
  return json({ ...body });
}
