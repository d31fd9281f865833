/**
 * Pusher delivery on the User actor's side: the room's outbox hands over one event with
 * the room facts the rules need (party/room/push.ts, `PushNotice`); this module
 * evaluates the user's rules and POSTs `/_matrix/push/v1/notify` to each HTTP pusher.
 * https://spec.matrix.org/v1.19/push-gateway-api/#post_matrixpushv1notify
 *
 * Retries: a gateway that fails (network error, non-2xx) makes the call throw, and the
 * room's outbox retries the notice with backoff (its alarm). A retry resends to every
 * pusher of the user, so a gateway that had answered may see the same event twice
 * (gateways deduplicate by event_id; documented in docs/design/push.md).
 * A pushkey the gateway lists in `rejected` is removed (the spec: the homeserver MUST
 * remove it).
 */
import type { CountsRpc } from "./sync-counts.ts";
import type { JsonObject } from "../../lib/json.ts";
import { isJsonObject } from "../../lib/json.ts";
import { evaluatePushRules } from "../../lib/push/evaluate.ts";
import type { PushAction } from "../../lib/push/types.ts";
import type { Env } from "../env.ts";
import { roomActor } from "../stubs.ts";
import { currentRuleset, loadPushRules, pushRulesContent } from "../user/push-rules.ts";

/** What a room sends for one event and one member with pushers. */
export interface PushNotice {
  roomId: string;
  event: JsonObject;
  memberCount: number;
  displayName: string | null;
  senderPowerLevel: number;
  notificationPowerLevels?: JsonObject;
  senderDisplayName?: string;
  roomName?: string;
}

// A type alias (not an interface) so it satisfies SqlStorage's row constraint.
type StoredPusher = {
  app_id: string;
  pushkey: string;
  pusher: string;
  created_ts: number;
};

export interface DeliveryResult {
  /** Whether the rules said notify. */
  notified: boolean;
  /** Pushers removed because their gateway rejected the pushkey. */
  removed: number;
  /** The user has no pusher left: the room can forget them. */
  noPushers: boolean;
}

export async function deliverPushNotice(env: Env, sql: SqlStorage, userId: string, n: PushNotice): Promise<DeliveryResult> {
  const pushers = sql.exec<StoredPusher>("SELECT app_id, pushkey, pusher, created_ts FROM pushers").toArray();
  if (pushers.length === 0) return { notified: false, removed: 0, noPushers: true };
  const ctx = {
    userId,
    displayName: n.displayName,
    roomMemberCount: n.memberCount,
    senderPowerLevel: n.senderPowerLevel,
    ...(n.notificationPowerLevels ? { notificationPowerLevels: n.notificationPowerLevels } : {}),
  };
  const outcome = evaluatePushRules(n.event, ctx, currentRuleset(sql, userId));
  if (!outcome.notify) return { notified: false, removed: 0, noPushers: false };

  // counts.unread: the user's notification count in this room, from the same lazy count /sync uses.
  const counts = await (roomActor(env, n.roomId) as unknown as CountsRpc)
    .unreadCounts({ userId, pushRules: JSON.stringify(pushRulesContent(userId, loadPushRules(sql))), perThread: false, point: false })
    .catch(() => null);
  const tweaks = tweaksOf(outcome.actions);
  // One request per gateway URL, carrying every device on it (the spec's devices array).
  const byUrl = new Map<string, Array<{ app_id: string; pushkey: string; pushkey_ts: number; data: JsonObject; tweaks: JsonObject }>>();
  for (const row of pushers) {
    const p = JSON.parse(row.pusher) as { data: JsonObject; kind: string };
    if (p.kind !== "http" || typeof p.data.url !== "string") continue;
    const { url: _, ...data } = p.data;
    const list = byUrl.get(p.data.url) ?? [];
    list.push({ app_id: row.app_id, pushkey: row.pushkey, pushkey_ts: Math.floor(row.created_ts / 1000), data, tweaks });
    byUrl.set(p.data.url, list);
  }
  let removed = 0;
  let failure: unknown;
  for (const [url, devices] of byUrl) {
    const eventIdOnly = devices.every((d) => d.data.format === "event_id_only");
    const notification: JsonObject = {
      event_id: String(n.event.event_id),
      room_id: n.roomId,
      prio: outcome.highlight ? "high" : "low",
      counts: { unread: counts?.room.notification_count ?? 1 },
      devices: devices as unknown as JsonObject[],
    };
    if (!eventIdOnly) {
      notification.type = String(n.event.type);
      notification.sender = String(n.event.sender);
      if (n.senderDisplayName) notification.sender_display_name = n.senderDisplayName;
      if (n.roomName) notification.room_name = n.roomName;
      if (isJsonObject(n.event.content)) notification.content = n.event.content;
    }
    try {
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ notification }) });
      if (!res.ok) throw new Error(`push gateway ${url} answered ${res.status}`);
      const body = (await res.json().catch(() => ({}))) as { rejected?: unknown };
      const rejected = Array.isArray(body.rejected) ? body.rejected.filter((k): k is string => typeof k === "string") : [];
      for (const d of devices) {
        if (!rejected.includes(d.pushkey)) continue;
        sql.exec("DELETE FROM pushers WHERE app_id = ? AND pushkey = ?", d.app_id, d.pushkey);
        removed++;
      }
    } catch (e) {
      failure = e;
    }
  }
  if (failure) throw failure; // the room's outbox retries with backoff
  const left = sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM pushers").one().n;
  return { notified: true, removed, noPushers: left === 0 };
}

/** The tweaks of the matched actions (`highlight` without a value means true). */
function tweaksOf(actions: readonly PushAction[]): JsonObject {
  const t: JsonObject = {};
  for (const a of actions) {
    if (!isJsonObject(a) || typeof a.set_tweak !== "string") continue;
    t[a.set_tweak] = "value" in a ? (a.value ?? null) : true;
  }
  return t;
}

/**
 * Tells `rooms` whether `userId` has pushers (after a change, or a join). A room that
 * misses it (unavailable) is told again at the next change; a stale "has" costs only a
 * notice the User actor drops and answers with `noPushers`.
 */
export async function tellRoomsAboutPushers(env: Env, userId: string, rooms: readonly string[], has: boolean): Promise<void> {
  await Promise.all(
    rooms.map((roomId) =>
      roomActor(env, roomId)
        .setPushMember({ userId, has })
        .catch((e: unknown) => console.error(`push: telling ${roomId} about ${userId}'s pushers failed`, e)),
    ),
  );
}
