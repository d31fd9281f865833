/**
 * Dehydrated devices, MSC3814 (unstable prefix org.matrix.msc3814.v1): a device kept on the
 * server that receives room keys while the user has no other device, rehydrated later.
 * https://github.com/matrix-org/matrix-spec-proposals/pull/3814
 */
import { MatrixError } from "../../lib/errors.ts";
import { deviceKeysActor } from "../stubs.ts";
import { body, jsonText, optionalBody } from "./account.ts";
import { authenticate } from "./auth.ts";
import { json } from "./http.ts";
import type { EdgeRequest } from "./router.ts";

export const PREFIX = "/_matrix/client/unstable/org.matrix.msc3814.v1";

async function actor(r: EdgeRequest) {
  const me = await authenticate(r);
  return deviceKeysActor(r.env, me.userId);
}

// PUT /_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device
export async function putDehydratedDevice(r: EdgeRequest): Promise<Response> {
  const a = await actor(r);
  const { device_id } = await a.putDehydratedDevice(await body(r));
  return json({ device_id });
}

// GET /_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device
export async function getDehydratedDevice(r: EdgeRequest): Promise<Response> {
  const a = await actor(r);
  return jsonText(await a.getDehydratedDevice());
}

// DELETE /_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device
export async function deleteDehydratedDevice(r: EdgeRequest): Promise<Response> {
  const a = await actor(r);
  const { device_id } = await a.deleteDehydratedDevice();
  return json({ device_id });
}

// POST /_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device/{deviceId}/events
export async function dehydratedDeviceEvents(r: EdgeRequest): Promise<Response> {
  const a = await actor(r);
  const b = await optionalBody(r);
  const next = b.next_batch;
  if (next !== undefined && next !== null && typeof next !== "string") throw new MatrixError("M_BAD_JSON", 400, "'next_batch' must be a string");
  return jsonText(await a.dehydratedDeviceEvents(r.params.deviceId!, next ?? null));
}
