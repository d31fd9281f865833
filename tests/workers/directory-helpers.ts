// Shared helpers of the directory workers tests (tests/workers/directory-*.test.ts).
import { expect } from "vitest";
import { registrationMac } from "../../party/edge/admin.ts";
import { call, V3, type TestUser } from "./room-helpers.ts";

export const AS_TOKEN = "as-token-bridge";

/** A server admin, registered through the Synapse-compatible shared-secret endpoint. */
export async function newAdmin(): Promise<TestUser> {
  const username = `op${Date.now().toString(36)}${Math.floor(Math.random() * 1e6)}`;
  const password = "correct horse battery";
  const nonce = (await call("GET", "/_synapse/admin/v1/register")).body.nonce as string;
  const mac = await registrationMac("test-shared-secret", { nonce, username, password, admin: true });
  const r = await call("POST", "/_synapse/admin/v1/register", { nonce, username, password, admin: true, mac });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  const token = r.body.access_token as string;
  return {
    userId: r.body.user_id as string,
    token,
    deviceId: r.body.device_id as string,
    call: (method, path, body) => call(method, path, body, token),
    async ok(method, path, body) {
      const x = await call(method, path, body, token);
      expect(x.status, `${method} ${path}: ${JSON.stringify(x.body)}`).toBe(200);
      return x.body;
    },
  };
}

/** Polls until `check` returns a value that is not undefined/false; the directories lag their rooms briefly. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined | false;
  for (;;) {
    last = await check();
    if (last !== undefined && last !== false) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A word no other test uses: directory searches by it see only this test's rooms and users. */
export function uniqueWord(prefix = "w"): string {
  return `${prefix}${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`;
}

export const aliasPath = (alias: string) => `${V3}/directory/room/${encodeURIComponent(alias)}`;
