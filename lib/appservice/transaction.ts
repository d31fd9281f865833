/**
 * Transactions pushed to an appservice: `PUT {url}/_matrix/app/v1/transactions/{txnId}`
 * with the hs_token as a bearer token, carrying queued items in order.
 * https://spec.matrix.org/v1.19/application-service-api/#put_matrixappv1transactionstxnid
 *
 * Ephemeral data goes out under `ephemeral` (v1.13) and, for bridges that still read
 * only the unstable name, `de.sorunome.msc2409.ephemeral`; to-device messages under
 * `to_device` (MSC4203) and its unstable name `de.sorunome.msc2409.to_device`. For
 * MSC3202 appservices, key counts of their users' devices go under
 * `org.matrix.msc3202.device_one_time_keys_count` and
 * `org.matrix.msc3202.device_unused_fallback_key_types` (user → device → value; the
 * newest item per device wins), and users whose device lists changed under
 * `org.matrix.msc3202.device_lists` (`changed`, each user once; `left` is not produced),
 * the names matrix-bot-sdk and mautrix read.
 */
import type { JsonObject } from "../json.ts";

export type QueueKind = "event" | "ephemeral" | "to_device" | "device_keys" | "device_list";

export interface QueuedItem {
  kind: QueueKind;
  /**
   * The ClientEvent, ephemeral event (with room_id when room-scoped), to-device event (with
   * to_user_id/to_device_id), or device_keys: `{user_id, device_id, one_time_keys_count,
   * unused_fallback_key_types}` (MSC3202), or device_list: `{changed: userId}` (MSC3202).
   */
  json: JsonObject;
}

/** At most this many items per transaction (Synapse sends 100 events and 100 ephemeral). */
export const MAX_TRANSACTION_ITEMS = 100;
/** Retries back off exponentially from 1 s, doubling, up to this cap. */
export const MAX_RETRY_DELAY_MS = 5 * 60 * 1000;

/** The delay before attempt `failures + 1`, after `failures` failed attempts (≥ 1). */
export function retryDelayMs(failures: number): number {
  return Math.min(MAX_RETRY_DELAY_MS, 1000 * 2 ** Math.max(0, Math.min(failures - 1, 20)));
}

/** The transaction body for items, in queue order within each list. */
export function transactionBody(items: readonly QueuedItem[]): JsonObject {
  const events: JsonObject[] = [];
  const ephemeral: JsonObject[] = [];
  const toDevice: JsonObject[] = [];
  const otkCounts: Record<string, JsonObject> = {};
  const fallbackTypes: Record<string, JsonObject> = {};
  const changed = new Set<string>();
  for (const it of items) {
    if (it.kind === "event") events.push(it.json);
    else if (it.kind === "ephemeral") ephemeral.push(it.json);
    else if (it.kind === "to_device") toDevice.push(it.json);
    else if (it.kind === "device_list") {
      if (typeof it.json.changed === "string") changed.add(it.json.changed);
    } else {
      const { user_id: user, device_id: device, one_time_keys_count: counts, unused_fallback_key_types: types } = it.json;
      if (typeof user !== "string" || typeof device !== "string") continue;
      // Keys are user and device IDs; a JSON object built with Object.create(null) has no __proto__ to hit.
      if (counts !== undefined) (otkCounts[user] ??= Object.create(null) as JsonObject)[device] = counts;
      if (types !== undefined) (fallbackTypes[user] ??= Object.create(null) as JsonObject)[device] = types;
    }
  }
  const body: JsonObject = { events };
  // Omitted when empty, as the spec allows, so bridges that know only `events` see no change.
  if (ephemeral.length > 0) {
    body.ephemeral = ephemeral;
    body["de.sorunome.msc2409.ephemeral"] = ephemeral;
  }
  if (toDevice.length > 0) {
    body.to_device = toDevice;
    body["de.sorunome.msc2409.to_device"] = toDevice;
  }
  if (Object.keys(otkCounts).length > 0) body["org.matrix.msc3202.device_one_time_keys_count"] = otkCounts;
  if (Object.keys(fallbackTypes).length > 0) body["org.matrix.msc3202.device_unused_fallback_key_types"] = fallbackTypes;
  if (changed.size > 0) body["org.matrix.msc3202.device_lists"] = { changed: [...changed], left: [] };
  return body;
}

/** The URL of transaction `txnId` at an appservice whose base URL is `url`. */
export function transactionUrl(url: string, txnId: number): string {
  return `${url}/_matrix/app/v1/transactions/${txnId}`;
}

/**
 * Whether an appservice's answer to a transaction means it has it. Only a 2xx does:
 * anything else (including 4xx — a bridge misconfigured for a moment) is retried with
 * the same txnId, since dropping a transaction loses events for good.
 */
export function transactionAccepted(status: number): boolean {
  return status >= 200 && status < 300;
}
