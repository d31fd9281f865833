/**
 * Send-to-device messaging: the /sendToDevice body and the events a device receives.
 * https://spec.matrix.org/v1.19/client-server-api/#send-to-device-messaging
 */
import { MatrixError } from "../errors.ts";
import { isValidUserId } from "../identifiers.ts";
import type { JsonObject } from "../json.ts";
import { MAX_KEY_ID_LENGTH, objectAt } from "./key-json.ts";

/** A to-device event as /sync and the dehydrated-device events endpoint deliver it. */
export interface ToDeviceEvent {
  sender: string;
  type: string;
  content: JsonObject;
}

/** `*` addresses every device of the user. */
export const ALL_DEVICES = "*";

/** Per request; key sharing to a large room addresses a few thousand devices at most. */
export const MAX_TO_DEVICE_TARGETS = 10_000;

/** Recipient user → device ID (or `*`) → content. */
export type ToDeviceMessages = Map<string, Map<string, JsonObject>>;

/** Validates the `messages` field of /sendToDevice; 400 M_BAD_JSON / M_INVALID_PARAM, 413 when too many. */
export function parseToDeviceMessages(body: JsonObject): ToDeviceMessages {
  if (body.messages === undefined) throw new MatrixError("M_MISSING_PARAM", 400, "Missing 'messages'");
  const messages = objectAt(body.messages, "messages");
  const out: ToDeviceMessages = new Map();
  let targets = 0;
  for (const [userId, byDevice] of Object.entries(messages)) {
    if (!isValidUserId(userId)) throw new MatrixError("M_INVALID_PARAM", 400, `${JSON.stringify(userId.slice(0, 64))} is not a user ID`);
    const devices = new Map<string, JsonObject>();
    for (const [deviceId, content] of Object.entries(objectAt(byDevice, `messages.${userId}`))) {
      if (deviceId === "" || deviceId.length > MAX_KEY_ID_LENGTH) throw new MatrixError("M_INVALID_PARAM", 400, "Invalid device ID");
      devices.set(deviceId, objectAt(content, `messages.${userId}.${deviceId}`));
      if (++targets > MAX_TO_DEVICE_TARGETS) {
        throw new MatrixError("M_TOO_LARGE", 413, `At most ${MAX_TO_DEVICE_TARGETS} devices per request`);
      }
    }
    if (devices.size > 0) out.set(userId, devices);
  }
  return out;
}

/** An event type from the path: non-empty and bounded like other identifiers. */
export function checkEventType(type: string): string {
  if (type === "" || type.length > MAX_KEY_ID_LENGTH) throw new MatrixError("M_INVALID_PARAM", 400, "Invalid event type");
  return type;
}
