/**
 * The one place that turns identifiers into actor stubs. Each actor is named by
 * the identifier it owns, so the same ID always reaches the same object.
 *
 * Addressing is by name (`getByName`), which gives partyserver its `this.name`.
 * Actors run their migrations in the constructor (party/migrations.ts), so an
 * RPC on a stub never sees a half-initialised schema.
 */
import type { Env } from "./env.ts";

/** The User actor of a local user, named by the full user ID (`@alice:example.org`). */
export function userActor(env: Env, userId: string) {
  return env.USER.getByName(userId);
}

/** The DeviceKeys actor of a local user, named by the full user ID. */
export function deviceKeysActor(env: Env, userId: string) {
  return env.DEVICE_KEYS.getByName(userId);
}

/** The Room actor, named by the room ID (`!opaque:server` or v12 `!hash`). */
export function roomActor(env: Env, roomId: string) {
  return env.ROOM.getByName(roomId);
}

/** The Server actor: a singleton holding signing keys and server-wide settings. */
export function serverActor(env: Env) {
  return env.SERVER.getByName(SERVER_ACTOR_NAME);
}

/** A token-bucket rate limiter, one per (action, client address). */
export function rateLimiterActor(env: Env, key: string) {
  return env.RATE_LIMITER.getByName(key);
}

export const SERVER_ACTOR_NAME = "server";

/** The Appservice actor of a registration, named by the registration's `id`. */
export function appserviceActor(env: Env, appserviceId: string) {
  return env.APPSERVICE.getByName(appserviceId);
}

/** Sync hub shard `i` of `syncHubShards(env)` (docs/design/sync.md); rooms map to shards by lib/sync/hub.ts `shardOf`. */
export function syncHubActor(env: Env, shard: number) {
  return env.SYNC_HUB.getByName(`sync-hub-${shard}`);
}

/** How many sync hub shards there are (SYNC_HUB_SHARDS, default 16). Changing it heals: moved rooms read as unknown. */
export function syncHubShards(env: Env): number {
  const n = Number(env.SYNC_HUB_SHARDS ?? "");
  return Number.isInteger(n) && n >= 1 && n <= 1024 ? n : 16;
}
