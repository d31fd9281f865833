// GET /voip/turnServer through the edge Worker, with TURN settings per test.
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3voipturnserver
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { router } from "../../party/edge/index.ts";
import { turnCredentials } from "../../party/edge/voip.ts";
import { ConfigError, parseConfig } from "../../party/env.ts";
import { BASE, newUser, V3 } from "./room-helpers.ts";

async function turnServer(vars: Record<string, string>, token?: string): Promise<{ status: number; body: JsonObject }> {
  const ctx = createExecutionContext();
  const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
  const res = await router.handle(new Request(`${BASE}${V3}/voip/turnServer`, { headers }), { ...env, ...vars }, ctx);
  await waitOnExecutionContext(ctx);
  return { status: res.status, body: await res.json<JsonObject>() };
}

/** HMAC-SHA1 computed independently of the handler (node-style, byte by byte into base64). */
async function expectedPassword(secret: string, username: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-1" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(username)));
  return btoa(Array.from(mac, (b) => String.fromCharCode(b)).join(""));
}

const URIS = "turn:turn.example.com:3478?transport=udp, turns:turn.example.com:443?transport=tcp";

describe("[cs: voip] /voip/turnServer", () => {
  it("[cs: voip] no TURN configured: 200 {} (as Synapse answers), still authenticated", async () => {
    const u = await newUser("voip");
    expect(await turnServer({}, u.token)).toEqual({ status: 200, body: {} });
    const anon = await turnServer({});
    expect(anon.status).toBe(401);
    expect(anon.body.errcode).toBe("M_MISSING_TOKEN");
  });

  it("[cs: voip] shared secret: username is expiry:user_id, password base64(HMAC-SHA1(secret, username)), ttl from the setting", async () => {
    const u = await newUser("voip");
    const before = Math.floor(Date.now() / 1000);
    const r = await turnServer({ TURN_URIS: URIS, TURN_SHARED_SECRET: "s3cret", TURN_USER_LIFETIME_SECONDS: "600" }, u.token);
    const after = Math.floor(Date.now() / 1000);
    expect(r.status).toBe(200);
    expect(r.body.uris).toEqual(["turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:443?transport=tcp"]);
    expect(r.body.ttl).toBe(600);
    const username = r.body.username as string;
    const m = /^(\d+):(@.+)$/.exec(username);
    expect(m, username).not.toBeNull();
    expect(m![2]).toBe(u.userId);
    const expiry = Number(m![1]);
    expect(expiry).toBeGreaterThanOrEqual(before + 600);
    expect(expiry).toBeLessThanOrEqual(after + 600);
    expect(r.body.password).toBe(await expectedPassword("s3cret", username));
  });

  it("[cs: voip] TURN REST API vector (computed with Python's hmac/hashlib): expiry = now + ttl", async () => {
    const turn = { uris: ["turn:t.example.com"], credentials: { sharedSecret: "s3cret" }, ttlSeconds: 600 };
    expect(await turnCredentials(turn, "@user:example.com", 1443779631_400)).toEqual({
      username: "1443780231:@user:example.com",
      password: "Ecw1o0L5CMuckRynY2yHN4u89m4=",
      uris: ["turn:t.example.com"],
      ttl: 600,
    });
  });

  it("[cs: voip] static username/password are served as configured, default ttl 3600", async () => {
    const u = await newUser("voip");
    const r = await turnServer({ TURN_URIS: "turn:10.20.30.40:3478", TURN_USERNAME: "calls", TURN_PASSWORD: "pw" }, u.token);
    expect(r).toEqual({ status: 200, body: { username: "calls", password: "pw", uris: ["turn:10.20.30.40:3478"], ttl: 3600 } });
  });

  it("[config] TURN settings: URIs must be turn:/turns:, need a secret or a username/password pair", () => {
    for (const bad of [
      { TURN_URIS: "stun:stun.example.com", TURN_SHARED_SECRET: "x" },
      { TURN_URIS: "turn:a.example.com" },
      { TURN_URIS: "turn:a.example.com", TURN_USERNAME: "u" },
      { TURN_SHARED_SECRET: "x" },
      { TURN_URIS: "turn:a.example.com", TURN_SHARED_SECRET: "x", TURN_USER_LIFETIME_SECONDS: "0" },
    ]) {
      expect(() => parseConfig(bad), JSON.stringify(bad)).toThrow(ConfigError);
    }
    expect(parseConfig({ TURN_URIS: "turn:a.example.com", TURN_SHARED_SECRET: "x" }).turn).toEqual({
      uris: ["turn:a.example.com"],
      credentials: { sharedSecret: "x" },
      ttlSeconds: 3600,
    });
  });
});
