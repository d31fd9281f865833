/**
 * Per-client rate limits for the expensive unauthenticated endpoints (login,
 * registration): 429 M_LIMIT_EXCEEDED with retry_after_ms and a Retry-After
 * header. Switched off by RATE_LIMITS_ENABLED=false (tests, benchmarks).
 * https://spec.matrix.org/v1.19/client-server-api/#rate-limiting
 */
import { MatrixError } from "../../lib/errors.ts";
import type { RateLimitedAction } from "../env.ts";
import { rateLimiterActor } from "../stubs.ts";
import type { Requester } from "./auth.ts";
import type { EdgeRequest } from "./router.ts";

/**
 * Throws 429 M_LIMIT_EXCEEDED when `req`'s client has used up its bucket for `action`.
 * The bucket is per client address, or per user for authenticated actions (`who`: the
 * requester), so one user cannot dodge it by changing address nor use up others' budget
 * behind a NAT. An appservice's users are keyed by the user it acts as, so each ghost has
 * its own bucket; an appservice registered with `rate_limited: false`, and every
 * appservice's own sender, are not limited at all (docs/appservices.md).
 */
export async function rateLimit(req: EdgeRequest, action: RateLimitedAction, who: string | Requester = req.clientIp): Promise<void> {
  if (!req.config.rateLimitsEnabled) return;
  if (typeof who !== "string" && who.appservice && !who.appservice.rateLimited) return;
  const setting = req.config.rateLimits[action];
  const key = typeof who === "string" ? who : who.userId;
  const decision = await rateLimiterActor(req.env, `${action}:${key}`).take(setting);
  if (!decision.allowed) {
    throw new MatrixError("M_LIMIT_EXCEEDED", 429, "Too many requests", {
      retry_after_ms: decision.retryAfterMs,
    });
  }
}
