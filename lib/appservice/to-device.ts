/**
 * To-device messages for appservices (MSC4203): a message addressed to a device of a
 * user in an appservice's user namespace (or its sender) is also delivered to the
 * appservice, in its transactions' `to_device` list, with `to_user_id` and `to_device_id`.
 * https://github.com/matrix-org/matrix-spec-proposals/pull/4203
 *
 * MSC4203 has no opt-in flag ("there usually aren't any devices if the appservice does
 * not support encryption"); Parley sends them to appservices that opted into ephemeral
 * data (receive_ephemeral, MSC2409) or into MSC3202 (encrypted appservices), the flags
 * bridges that handle to-device traffic set today, so an older bridge sees no change.
 *
 * Where the message is kept: for a user in the appservice's *exclusive* namespace when
 * the appservice declares MSC3202, the appservice is the device's only reader (its
 * ghosts do not /sync), so the message is handed over *instead of* stored in the device's
 * inbox — otherwise those inboxes would fill up and refuse senders. In every other case
 * (inclusive namespace, no MSC3202) the device's inbox keeps it too, for its /sync.
 */
import type { JsonObject } from "../json.ts";
import { isAppserviceUser } from "./interest.ts";
import type { Registration } from "./registration.ts";
import { matches, senderOf, type AppserviceRegistry } from "./registry.ts";

/** One sender's messages for one recipient user (the DeviceKeys inbox's `Delivery`). */
export interface ToDeviceDelivery {
  sender: string;
  senderDevice: string;
  txnId: string;
  type: string;
  /** Device ID (or `*`) → content. */
  messages: Record<string, JsonObject>;
}

export interface ToDeviceRoute {
  appserviceId: string;
  /** True when the appservice is the devices' only reader: not stored in their inboxes once handed over. */
  instead: boolean;
  items: Array<{ deviceId: string; json: JsonObject; dedupe: string }>;
}

/** Whether the appservice wants to-device messages (see the module comment). */
export function wantsToDevice(r: Registration): boolean {
  return r.url !== null && (r.receiveEphemeral || r.msc3202);
}

/**
 * The appservices a delivery to `userId` goes to, with the to-device events for each.
 * `devices` are the user's existing devices (`*` expands to them; unknown IDs are dropped,
 * as the inbox does).
 */
export function toDeviceRoutes(registry: AppserviceRegistry, serverName: string, userId: string, d: ToDeviceDelivery, devices: readonly string[]): ToDeviceRoute[] {
  const owners = registry.all.filter((r) => wantsToDevice(r) && isAppserviceUser(r, userId, serverName));
  if (owners.length === 0) return [];
  const known = new Set(devices);
  const targets = new Map<string, JsonObject>();
  for (const [deviceId, content] of Object.entries(d.messages)) {
    if (deviceId === "*") {
      for (const id of devices) if (!targets.has(id)) targets.set(id, content);
    } else if (known.has(deviceId)) {
      targets.set(deviceId, content);
    }
  }
  if (targets.size === 0) return [];
  return owners.map((r) => ({
    appserviceId: r.id,
    instead: r.msc3202 && (userId === senderOf(r, serverName) || matches(r.namespaces.users, userId, true)),
    items: [...targets].map(([deviceId, content]) => ({
      deviceId,
      json: { type: d.type, sender: d.sender, content, to_user_id: userId, to_device_id: deviceId },
      // The sender's retry (same device and txnId) adds nothing at the appservice.
      dedupe: `to_device\u0000${d.sender}\u0000${d.senderDevice}\u0000${d.txnId}\u0000${userId}\u0000${deviceId}`,
    })),
  }));
}
