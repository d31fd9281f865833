/**
 * RateLimiter actor: one token bucket per (action, client address), e.g.
 * `login:203.0.113.7`. A Durable Object gives one consistent count across all
 * edge isolates, which an in-memory map per isolate would not.
 *
 * The bucket lives in memory only: if the object is evicted (after tens of
 * seconds idle) the bucket restarts full, which is the state it would have
 * refilled to by then for any sensible setting.
 */
import { Server } from "partyserver";
import type { Env, RateSetting } from "./env.ts";

export interface RateDecision {
  allowed: boolean;
  /** When refused: how long until one request would be allowed. */
  retryAfterMs: number;
}

export class RateLimiter extends Server<Env> {
  #tokens = -1;
  #updated = 0;

  /** Takes one token if there is one. */
  take(setting: RateSetting, now = Date.now()): RateDecision {
    if (this.#tokens < 0) {
      this.#tokens = setting.burst;
    } else {
      const refill = ((now - this.#updated) / 1000) * setting.perSecond;
      this.#tokens = Math.min(setting.burst, this.#tokens + Math.max(0, refill));
    }
    this.#updated = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return { allowed: true, retryAfterMs: 0 };
    }
    return { allowed: false, retryAfterMs: Math.ceil(((1 - this.#tokens) / setting.perSecond) * 1000) };
  }
}
