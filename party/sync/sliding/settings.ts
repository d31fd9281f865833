/**
 * Simplified sliding sync settings (docs/configuration.md): SLIDING_SYNC_* vars, each
 * with a safe default; an unusable value falls back to the default.
 */
import { DEFAULT_SLIDING_LIMITS, type SlidingLimits } from "../../../lib/sync/sliding/request.ts";
import type { Env } from "../../env.ts";

export interface SlidingSettings extends SlidingLimits {
  maxConnections: number;
  /** Events of the user's rooms kept in the User actor's memory for the hub fast path (all rooms together). */
  fastPathEvents: number;
}

export const DEFAULT_MAX_CONNECTIONS = 10;
export const DEFAULT_FAST_PATH_EVENTS = 2048;

export function slidingSettings(env: Env): SlidingSettings {
  const num = (v: string | undefined, dflt: number) => {
    const n = Number(v ?? "");
    return v !== undefined && v.trim() !== "" && Number.isInteger(n) && n >= 1 ? n : dflt;
  };
  return {
    maxConnections: num(env.SLIDING_SYNC_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS),
    fastPathEvents: num(env.SLIDING_SYNC_FAST_PATH_EVENTS, DEFAULT_FAST_PATH_EVENTS),
    maxLists: num(env.SLIDING_SYNC_MAX_LISTS, DEFAULT_SLIDING_LIMITS.maxLists),
    maxSubscriptions: num(env.SLIDING_SYNC_MAX_SUBSCRIPTIONS, DEFAULT_SLIDING_LIMITS.maxSubscriptions),
    maxTimelineLimit: num(env.SLIDING_SYNC_MAX_TIMELINE_LIMIT, DEFAULT_SLIDING_LIMITS.maxTimelineLimit),
    maxRequiredState: num(env.SLIDING_SYNC_MAX_REQUIRED_STATE, DEFAULT_SLIDING_LIMITS.maxRequiredState),
  };
}
