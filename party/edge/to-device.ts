/**
 * Send-to-device messaging. https://spec.matrix.org/v1.19/client-server-api/#send-to-device-messaging
 * The sender's DeviceKeys actor delivers to each recipient's actor; /sync reads the inboxes.
 */
import { checkEventType, parseToDeviceMessages } from "../../lib/e2ee/to-device.ts";
import { MatrixError } from "../../lib/errors.ts";
import type { JsonObject } from "../../lib/json.ts";
import { deviceKeysActor } from "../stubs.ts";
import { body } from "./account.ts";
import { authenticate } from "./auth.ts";
import { json } from "./http.ts";
import type { EdgeRequest } from "./router.ts";

/** Transaction IDs are client-chosen; this only bounds them. */
const MAX_TXN_ID_LENGTH = 255;

// PUT /_matrix/client/v3/sendToDevice/{eventType}/{txnId}
export async function sendToDevice(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const type = checkEventType(r.params.eventType!);
  const txnId = r.params.txnId!;
  if (txnId.length > MAX_TXN_ID_LENGTH) throw new MatrixError("M_INVALID_PARAM", 400, "Transaction ID too long");
  const messages = parseToDeviceMessages(await body(r));
  const plain: Record<string, Record<string, JsonObject>> = {};
  for (const [userId, devices] of messages) plain[userId] = Object.fromEntries(devices);
  await deviceKeysActor(r.env, me.userId).sendToDevice(me.deviceId, type, txnId, plain);
  return json({});
}
