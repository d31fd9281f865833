// The edge's per-isolate cache of token checks (party/edge/session-cache.ts): a request
// inside AUTH_CACHE_TTL_MS costs no User actor RPC, a revocation made through this isolate
// takes effect on the very next request, and one made elsewhere within the TTL.
// https://spec.matrix.org/v1.19/client-server-api/#client-authentication
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ConfigError, type Env } from "../../party/env.ts";
import { DEFAULT_AUTH_CACHE_TTL_MS, sessionCacheSettings } from "../../party/edge/session-cache.ts";
import { userActor } from "../../party/stubs.ts";
import type { User } from "../../party/user.ts";
import { call, expectError, newUser, V3 } from "./room-helpers.ts";

const whoami = (token: string) => call("GET", `${V3}/account/whoami`, undefined, token);

describe("[auth: session cache]", () => {
  it("[auth: cache] a token revoked behind the edge's back is still accepted within the TTL, and refused after it", async () => {
    const u = await newUser("ac1");
    expect((await whoami(u.token)).status).toBe(200);
    // Revoke in the User actor directly, as another isolate's logout would.
    await runInDurableObject(userActor(env, u.userId), (_: User, state) => {
      state.storage.sql.exec("DELETE FROM tokens");
    });
    expect((await whoami(u.token)).status).toBe(200); // answered from the cache
    await new Promise((r) => setTimeout(r, DEFAULT_AUTH_CACHE_TTL_MS + 100));
    expectError(await whoami(u.token), 401, "M_UNKNOWN_TOKEN");
  });

  it("[auth: cache/logout] a logout through this isolate takes effect on the next request", async () => {
    const u = await newUser("ac2");
    expect((await whoami(u.token)).status).toBe(200);
    expect((await call("POST", `${V3}/logout`, {}, u.token)).status).toBe(200);
    expectError(await whoami(u.token), 401, "M_UNKNOWN_TOKEN");
  });

  it("[auth: cache/devices] deleting the device (logout/all) revokes every cached token of the user at once", async () => {
    const u = await newUser("ac3");
    const login = await call("POST", `${V3}/login`, { type: "m.login.password", identifier: { type: "m.id.user", user: u.userId }, password: "correct horse battery" });
    expect(login.status).toBe(200);
    const second = login.body.access_token as string;
    expect((await whoami(u.token)).status).toBe(200);
    expect((await whoami(second)).status).toBe(200);
    expect((await call("POST", `${V3}/logout/all`, {}, second)).status).toBe(200);
    expectError(await whoami(u.token), 401, "M_UNKNOWN_TOKEN");
    expectError(await whoami(second), 401, "M_UNKNOWN_TOKEN");
  });

  it("[auth: cache/refresh] /refresh stops the old access token at once", async () => {
    const username = `ac4x${Math.floor(Math.random() * 1e9)}`;
    const first = await call("POST", `${V3}/register`, { username, password: "correct horse battery", refresh_token: true });
    const done = await call("POST", `${V3}/register`, {
      username,
      password: "correct horse battery",
      refresh_token: true,
      auth: { type: "m.login.dummy", session: first.body.session },
    });
    expect(done.status).toBe(200);
    const old = done.body.access_token as string;
    expect((await whoami(old)).status).toBe(200);
    const fresh = await call("POST", `${V3}/refresh`, { refresh_token: done.body.refresh_token });
    expect(fresh.status).toBe(200);
    expectError(await whoami(old), 401, "M_UNKNOWN_TOKEN");
    expect((await whoami(fresh.body.access_token as string)).status).toBe(200);
  });

  it("[auth: cache settings] AUTH_CACHE_TTL_MS: default, 0 turns the cache off, out of range is a configuration error", () => {
    expect(sessionCacheSettings({} as Env)).toEqual({ ttlMs: DEFAULT_AUTH_CACHE_TTL_MS, maxEntries: 10_000 });
    expect(sessionCacheSettings({ AUTH_CACHE_TTL_MS: "0" } as unknown as Env).ttlMs).toBe(0);
    expect(() => sessionCacheSettings({ AUTH_CACHE_TTL_MS: "60001" } as unknown as Env)).toThrow(ConfigError);
    expect(() => sessionCacheSettings({ AUTH_CACHE_MAX_ENTRIES: "-1" } as unknown as Env)).toThrow(ConfigError);
  });
});
