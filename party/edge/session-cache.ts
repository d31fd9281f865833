/**
 * Sessions the User actors vouched for, kept in this edge isolate for a short time so
 * that a client sending many requests costs one token-check RPC per AUTH_CACHE_TTL_MS
 * instead of one per request (docs/configuration.md, docs/design/edge-and-actors.md).
 *
 * Revocation: the User actor stays the authority; the cache only delays what it says.
 * - In this isolate a revoking request (logout, logout/all, device deletion, password
 *   change, deactivation, refresh) forgets the user's cached sessions before it runs and
 *   keeps that user out of the cache for REVOCATION_QUIET_MS, longer than any such
 *   request takes, so the revoked token fails on its very next use here.
 * - Other isolates (a deployment runs many) keep a revoked token for at most the TTL;
 *   so does this one for a token replaced by a re-login with the same device_id.
 * - An expiring (refreshable) token is never kept past its expiry.
 * Keyed by the token's SHA-256: the cache holds no token.
 */
import { ConfigError, type Env } from "../env.ts";

export interface CachedSession {
  userId: string;
  deviceId: string;
  admin: boolean;
  /** Admin restrictions (party/edge/restrictions.ts): a change is forgotten here at once by noteTokensRevoked, elsewhere within the TTL. */
  locked: boolean;
  suspended: boolean;
}

export const DEFAULT_AUTH_CACHE_TTL_MS = 2_000;
/** The TTL may not be set above this: it is how long a revoked token can outlive its revocation elsewhere. */
export const MAX_AUTH_CACHE_TTL_MS = 60_000;
export const DEFAULT_AUTH_CACHE_MAX_ENTRIES = 10_000;
const REVOCATION_QUIET_MS = 30_000;

interface Entry extends CachedSession {
  until: number;
}

const sessions = new Map<string, Entry>();
const byUser = new Map<string, Set<string>>();
const quietUntil = new Map<string, number>();

export interface SessionCacheSettings {
  ttlMs: number;
  maxEntries: number;
}

const parsed = new WeakMap<object, SessionCacheSettings>();

/** AUTH_CACHE_TTL_MS (0 = off) and AUTH_CACHE_MAX_ENTRIES; a bad value is a ConfigError. */
export function sessionCacheSettings(env: Env): SessionCacheSettings {
  const hit = parsed.get(env);
  if (hit) return hit;
  const int = (name: string, raw: string | undefined, fallback: number, max: number) => {
    if (raw === undefined || raw.trim() === "") return fallback;
    const v = Number(raw);
    if (!Number.isInteger(v) || v < 0 || v > max) throw new ConfigError(`${name} must be an integer from 0 to ${max} (got ${JSON.stringify(raw)})`);
    return v;
  };
  const s = {
    ttlMs: int("AUTH_CACHE_TTL_MS", env.AUTH_CACHE_TTL_MS, DEFAULT_AUTH_CACHE_TTL_MS, MAX_AUTH_CACHE_TTL_MS),
    maxEntries: int("AUTH_CACHE_MAX_ENTRIES", env.AUTH_CACHE_MAX_ENTRIES, DEFAULT_AUTH_CACHE_MAX_ENTRIES, 1_000_000),
  };
  parsed.set(env, s);
  return s;
}

/** The cached session for this token hash, if it is still fresh and its user is not quiet. */
export function cachedSession(tokenHash: string, now: number): CachedSession | undefined {
  const e = sessions.get(tokenHash);
  if (!e) return undefined;
  if (e.until <= now || (quietUntil.get(e.userId) ?? 0) > now) {
    forget(tokenHash, e.userId);
    return undefined;
  }
  return e;
}

/** Keeps what the User actor answered, until `now + ttl` or the token's expiry, whichever is first. */
export function cacheSession(tokenHash: string, s: CachedSession & { expiresTs?: number | null }, now: number, settings: SessionCacheSettings): void {
  if (settings.ttlMs === 0 || settings.maxEntries === 0) return;
  if ((quietUntil.get(s.userId) ?? 0) > now) return;
  const until = Math.min(now + settings.ttlMs, s.expiresTs ?? Number.POSITIVE_INFINITY);
  if (until <= now) return;
  if (sessions.size >= settings.maxEntries) {
    // Full: start over rather than track recency (a miss costs one RPC).
    sessions.clear();
    byUser.clear();
  }
  sessions.set(tokenHash, { userId: s.userId, deviceId: s.deviceId, admin: s.admin, locked: s.locked, suspended: s.suspended, until });
  let set = byUser.get(s.userId);
  if (!set) byUser.set(s.userId, (set = new Set()));
  set.add(tokenHash);
}

/** A request that can revoke `userId`'s tokens is about to run: forget them and cache none for a while. */
export function noteTokensRevoked(userId: string, now: number): void {
  for (const hash of byUser.get(userId) ?? []) sessions.delete(hash);
  byUser.delete(userId);
  quietUntil.set(userId, now + REVOCATION_QUIET_MS);
  if (quietUntil.size > 10_000) {
    for (const [u, t] of quietUntil) if (t <= now) quietUntil.delete(u);
  }
}

const REVOKING = /^\/_matrix\/client\/(?:v3|r0)\/(?:logout|logout\/all|delete_devices|devices\/[^/]+|account\/password|account\/deactivate)$/;

/** Whether a request may revoke its caller's tokens (so it must not be answered from the cache). */
export function isRevokingRequest(method: string, pathname: string): boolean {
  return method !== "GET" && method !== "PUT" && REVOKING.test(pathname);
}

function forget(tokenHash: string, userId: string): void {
  sessions.delete(tokenHash);
  const set = byUser.get(userId);
  set?.delete(tokenHash);
  if (set?.size === 0) byUser.delete(userId);
}

/** Empties the cache (tests). */
export function clearSessionCache(): void {
  sessions.clear();
  byUser.clear();
  quietUntil.clear();
}
