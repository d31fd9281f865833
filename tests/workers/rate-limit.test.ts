// Per-client token buckets (RateLimiter actor) and the edge's 429 M_LIMIT_EXCEEDED.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { MatrixError } from "../../lib/errors.ts";
import { errorResponse } from "../../party/edge/http.ts";
import { rateLimit } from "../../party/edge/rate-limit.ts";
import type { EdgeRequest } from "../../party/edge/router.ts";
import { type Config, parseConfig } from "../../party/env.ts";
import { rateLimiterActor } from "../../party/stubs.ts";

function edgeRequest(config: Config, clientIp: string): EdgeRequest {
  const request = new Request("http://127.0.0.1:8787/_matrix/client/v3/login", { method: "POST" });
  return {
    request,
    url: new URL(request.url),
    method: "POST",
    params: {},
    env,
    config,
    clientIp,
    waitUntil() {},
  };
}

describe("[cs: rate-limiting] token buckets", () => {
  it("[cs: rate-limiting] a bucket allows `burst` requests, then refuses until it refills", async () => {
    const bucket = rateLimiterActor(env, `test:${crypto.randomUUID()}`);
    const setting = { burst: 3, perSecond: 2 };
    const t0 = 1_000_000;
    for (let i = 0; i < 3; i++) expect((await bucket.take(setting, t0)).allowed).toBe(true);
    const refused = await bucket.take(setting, t0);
    expect(refused).toEqual({ allowed: false, retryAfterMs: 500 });
    // Half a second later one token has come back, and only one.
    expect((await bucket.take(setting, t0 + 500)).allowed).toBe(true);
    expect((await bucket.take(setting, t0 + 500)).allowed).toBe(false);
    // Refill is capped at the burst.
    for (let i = 0; i < 3; i++) expect((await bucket.take(setting, t0 + 60_000)).allowed).toBe(true);
    expect((await bucket.take(setting, t0 + 60_000)).allowed).toBe(false);
  });

  it("[cs: M_LIMIT_EXCEEDED] the edge answers 429 with retry_after_ms once a client's burst is used", async () => {
    const config = parseConfig({ RATE_LIMITS_ENABLED: "true", RATE_LOGIN_BURST: "2", RATE_LOGIN_PER_SECOND: "0.5" });
    const ip = `198.51.100.${Math.floor(Math.random() * 250)}-${crypto.randomUUID()}`;
    await rateLimit(edgeRequest(config, ip), "login");
    await rateLimit(edgeRequest(config, ip), "login");
    let error: unknown;
    try {
      await rateLimit(edgeRequest(config, ip), "login");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MatrixError);
    const res = errorResponse(error);
    expect(res.status).toBe(429);
    const body = (await res.json()) as { errcode: string; retry_after_ms: number };
    expect(body.errcode).toBe("M_LIMIT_EXCEEDED");
    expect(body.retry_after_ms).toBeGreaterThan(1000);
    expect(body.retry_after_ms).toBeLessThanOrEqual(2000);
    expect(Number(res.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
    // Buckets are per client and per action.
    await rateLimit(edgeRequest(config, `${ip}-other`), "login");
    await rateLimit(edgeRequest(config, ip), "register");
  });

  it("[config] RATE_LIMITS_ENABLED=false switches limits off", async () => {
    const config = parseConfig({ RATE_LIMITS_ENABLED: "false", RATE_LOGIN_BURST: "1" });
    const ip = crypto.randomUUID();
    for (let i = 0; i < 5; i++) await rateLimit(edgeRequest(config, ip), "login");
  });
});
