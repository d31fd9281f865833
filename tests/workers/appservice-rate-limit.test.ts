// Per-user rate limits and appservices: `rate_limited: true` puts each masqueraded user
// under the per-user limits with a bucket of its own; `rate_limited: false`, and every
// appservice's own sender, are exempt. https://spec.matrix.org/v1.19/application-service-api/#registration
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { MatrixError } from "../../lib/errors.ts";
import { authenticate, type Requester } from "../../party/edge/auth.ts";
import { rateLimit } from "../../party/edge/rate-limit.ts";
import type { EdgeRequest } from "../../party/edge/router.ts";
import { parseConfig, type Config } from "../../party/env.ts";
import { call, V3 } from "./room-helpers.ts";

/** The workers project runs with limits off; these tests turn them on for their own requests. */
const config: Config = parseConfig({ RATE_LIMITS_ENABLED: "true", RATE_REPORT_BURST: "2", RATE_REPORT_PER_SECOND: "0.01" });

function edgeRequest(token: string, userId?: string): EdgeRequest {
  const url = new URL(`http://127.0.0.1:8787${V3}/account/whoami`);
  if (userId) url.searchParams.set("user_id", userId);
  const request = new Request(url, { headers: { Authorization: `Bearer ${token}` } });
  return { request, url, method: "GET", params: {}, env, config, clientIp: "192.0.2.1", waitUntil() {} };
}

async function asRequester(token: string, userId?: string): Promise<{ req: EdgeRequest; me: Requester }> {
  const req = edgeRequest(token, userId);
  return { req, me: await authenticate(req) };
}

async function register(token: string, localpart: string): Promise<string> {
  const r = await call("POST", `${V3}/register`, { type: "m.login.application_service", username: localpart, inhibit_login: true }, token);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.user_id as string;
}

/** How many of `n` attempts pass before 429 M_LIMIT_EXCEEDED. */
async function allowed(req: EdgeRequest, me: Requester, n: number): Promise<number> {
  let ok = 0;
  for (let i = 0; i < n; i++) {
    try {
      await rateLimit(req, "report", me);
      ok++;
    } catch (e) {
      expect(e).toBeInstanceOf(MatrixError);
      expect((e as MatrixError).errcode).toBe("M_LIMIT_EXCEEDED");
    }
  }
  return ok;
}

describe("[as: rate limits] rate_limited", () => {
  it("[as: rate limits] rate_limited: true — each ghost has its own per-user bucket (burst 2 of 5 attempts each)", async () => {
    // The "crypto" test registration leaves rate_limited out: the spec default, true.
    const g1 = await register("as-token-crypto", `_cr_rl${crypto.randomUUID().slice(0, 8)}`);
    const g2 = await register("as-token-crypto", `_cr_rl${crypto.randomUUID().slice(0, 8)}`);
    const a = await asRequester("as-token-crypto", g1);
    expect(a.me.appservice).toEqual({ id: "crypto", rateLimited: true });
    expect(await allowed(a.req, a.me, 5)).toBe(2);
    const b = await asRequester("as-token-crypto", g2);
    expect(await allowed(b.req, b.me, 5)).toBe(2);
  });

  it("[as: rate limits] rate_limited: false exempts the appservice's users; an appservice's sender is never limited", async () => {
    const g = await register("as-token-bridge", `_gh_rl${crypto.randomUUID().slice(0, 8)}`);
    const ghost = await asRequester("as-token-bridge", g);
    expect(ghost.me.appservice).toEqual({ id: "bridge", rateLimited: false });
    expect(await allowed(ghost.req, ghost.me, 6)).toBe(6);
    const sender = await asRequester("as-token-crypto");
    expect(sender.me.userId).toBe("@_cr_bot:localhost:8787");
    expect(await allowed(sender.req, sender.me, 6)).toBe(6);
  });
});
