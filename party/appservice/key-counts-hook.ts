/**
 * MSC3202 (encrypted appservices): the one-time-key counts and unused fallback key types of
 * an appservice user's devices, sent to the appservice when they change — after an upload
 * and after a claim — so the bridge replenishes keys without polling /keys/upload.
 * https://github.com/matrix-org/matrix-spec-proposals/pull/3202
 *
 * Only appservices that set `org.matrix.msc3202: true` get them. Each change hands the
 * device's current values to the appservice's actor (queued durably there, delivered in
 * order, the newest per device wins within a transaction). The hand-over is not retried:
 * the values are a snapshot, and the next change (or the bridge's own /keys/upload, which
 * answers the counts) brings them again.
 */
import { isAppserviceUser } from "../../lib/appservice/interest.ts";
import { loadAppservices, loadConfig, type Env } from "../env.ts";
import { appserviceActor } from "../stubs.ts";

export interface DeviceKeyCounts {
  oneTimeKeys: Record<string, number>;
  unusedFallbackKeyTypes: string[];
}

/** Called by the DeviceKeys actor of `userId` after a commit that changed the devices' keys. */
export function keyCountsChanged(env: Env, userId: string, deviceIds: readonly string[], read: (deviceId: string) => DeviceKeyCounts): void {
  const registry = loadAppservices(env);
  if (registry.all.length === 0 || deviceIds.length === 0) return;
  const serverName = loadConfig(env).serverName;
  const targets = registry.all.filter((r) => r.msc3202 && r.url !== null && isAppserviceUser(r, userId, serverName));
  if (targets.length === 0) return;
  const items = deviceIds.map((deviceId) => {
    const c = read(deviceId);
    return {
      kind: "device_keys" as const,
      json: JSON.stringify({ user_id: userId, device_id: deviceId, one_time_keys_count: c.oneTimeKeys, unused_fallback_key_types: c.unusedFallbackKeyTypes }),
    };
  });
  for (const r of targets) {
    void appserviceActor(env, r.id)
      .enqueue(items)
      .catch((e: unknown) => console.error(`key counts of ${userId}: hand-over to appservice ${r.id} failed`, e));
  }
}
