/**
 * The DeviceKeys actor's side of to-device delivery to appservices (MSC4203, decisions in
 * lib/appservice/to-device.ts): before a recipient's inbox is written, the messages for
 * devices of appservice users are handed to the appservices' actors, which queue them
 * durably. Returns the devices whose messages the appservice alone keeps, so the inbox
 * skips them; when that hand-over fails they are stored in the inbox as usual (nothing is
 * lost; the sender is not failed for it).
 */
import { toDeviceRoutes, type ToDeviceDelivery } from "../../lib/appservice/to-device.ts";
import { loadAppservices, loadConfig, type Env } from "../env.ts";
import { appserviceActor } from "../stubs.ts";

export async function toDeviceForAppservices(env: Env, userId: string, d: ToDeviceDelivery, devices: readonly string[]): Promise<ReadonlySet<string>> {
  const registry = loadAppservices(env);
  if (registry.all.length === 0) return new Set();
  const routes = toDeviceRoutes(registry, loadConfig(env).serverName, userId, d, devices);
  const handled = new Set<string>();
  await Promise.all(
    routes.map(async (route) => {
      try {
        await appserviceActor(env, route.appserviceId).enqueue(route.items.map((i) => ({ kind: "to_device", json: JSON.stringify(i.json), dedupe: i.dedupe })));
        if (route.instead) for (const i of route.items) handled.add(i.deviceId);
      } catch (e) {
        console.error(`to-device: handing ${route.items.length} messages for ${userId} to appservice ${route.appserviceId} failed`, e);
      }
    }),
  );
  return handled;
}
