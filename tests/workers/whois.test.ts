// GET /admin/whois/{userId} through the edge Worker, inside workerd.
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3adminwhoisuserid
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { registrationMac } from "../../party/edge/admin.ts";
import { BASE, call, enc, expectError, newUser, SERVER_NAME, V3 } from "./room-helpers.ts";

const whoisPath = (userId: string) => `${V3}/admin/whois/${enc(userId)}`;

/** An admin made through the shared-secret endpoint (the secret vitest.config.ts binds). */
async function newAdmin(): Promise<string> {
  const username = `whoisop${Math.floor(Math.random() * 1e9)}`;
  const nonce = (await call("GET", "/_synapse/admin/v1/register")).body.nonce as string;
  const mac = await registrationMac("test-shared-secret", { nonce, username, password: "pw-pw-pw", admin: true });
  const r = await call("POST", "/_synapse/admin/v1/register", { nonce, username, password: "pw-pw-pw", admin: true, mac });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.access_token as string;
}

/** A request from a given client address, as Cloudflare reports it. */
async function from(ip: string, token: string, path: string): Promise<{ status: number; body: JsonObject }> {
  const res = await SELF.fetch(BASE + path, { headers: { Authorization: `Bearer ${token}`, "CF-Connecting-IP": ip } });
  return { status: res.status, body: await res.json<JsonObject>() };
}

describe("[cs: admin whois] GET /admin/whois/{userId}", () => {
  it("[cs: admin whois] a server admin sees every device of a user with its last address and time", async () => {
    const admin = await newAdmin();
    const bob = await newUser("whois");
    const before = Date.now();
    expect((await from("203.0.113.7", bob.token, `${V3}/account/whoami`)).status).toBe(200);
    const r = await from("198.51.100.1", admin, whoisPath(bob.userId));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.user_id).toBe(bob.userId);
    const devices = r.body.devices as Record<string, { sessions: Array<{ connections: Array<{ ip?: string; last_seen?: number }> }> }>;
    expect(Object.keys(devices)).toEqual([bob.deviceId]);
    const conn = devices[bob.deviceId]!.sessions[0]!.connections[0]!;
    expect(conn.ip).toBe("203.0.113.7");
    expect(conn.last_seen).toBeGreaterThanOrEqual(before);
    expect(conn.last_seen).toBeLessThanOrEqual(Date.now());
  });

  it("[cs: admin whois] a user may look themself up; another non-admin is 403 M_FORBIDDEN, whether or not the target exists", async () => {
    const alice = await newUser("whois");
    const bob = await newUser("whois");
    const self = await alice.ok("GET", whoisPath(alice.userId));
    expect(self.user_id).toBe(alice.userId);
    expect(Object.keys(self.devices as JsonObject)).toEqual([alice.deviceId]);
    expectError(await alice.call("GET", whoisPath(bob.userId)), 403, "M_FORBIDDEN");
    expectError(await alice.call("GET", whoisPath(`@nobody-at-all:${SERVER_NAME}`)), 403, "M_FORBIDDEN");
    expectError(await call("GET", whoisPath(alice.userId)), 401, "M_MISSING_TOKEN");
  });

  it("[cs: admin whois] admin: unknown local user 404 M_NOT_FOUND, remote user or bad ID 400 M_INVALID_PARAM", async () => {
    const admin = await newAdmin();
    expectError(await call("GET", whoisPath(`@nobody-at-all:${SERVER_NAME}`), undefined, admin), 404, "M_NOT_FOUND");
    expectError(await call("GET", whoisPath("@someone:elsewhere.example"), undefined, admin), 400, "M_INVALID_PARAM");
    expectError(await call("GET", whoisPath("not-a-user"), undefined, admin), 400, "M_INVALID_PARAM");
  });
});
