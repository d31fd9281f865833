// Shared by the keys-*.test.ts files: HTTP through the edge Worker (SELF.fetch) and
// registered users with fake E2EE devices (tests/lib/e2ee/client.ts).
import { SELF } from "cloudflare:test";
import { expect } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { FakeDevice } from "../lib/e2ee/client.ts";

export const BASE = "http://127.0.0.1:8787";
export const V3 = "/_matrix/client/v3";
export const PASSWORD = "correct horse battery";

export type Reply = { status: number; body: JsonObject };

export async function call(method: string, path: string, body?: unknown, token?: string): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await SELF.fetch(BASE + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as JsonObject) : {} };
}

export function expectError(r: Reply, status: number, errcode: string): void {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body.errcode).toBe(errcode);
}

export function expectOk(r: Reply): JsonObject {
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
}

export interface Session {
  userId: string;
  deviceId: string;
  token: string;
}

let n = 0;
export const freshName = (tag: string) => `${tag}${++n}x${Math.floor(Math.random() * 1e9)}`;

/** Registers a user (dummy flow) and returns its first session. */
export async function register(tag = "k"): Promise<Session> {
  const username = freshName(tag);
  const first = await call("POST", `${V3}/register`, { username, password: PASSWORD });
  const done = expectOk(await call("POST", `${V3}/register`, { username, password: PASSWORD, auth: { type: "m.login.dummy", session: first.body.session } }));
  return { userId: done.user_id as string, deviceId: done.device_id as string, token: done.access_token as string };
}

/** Another device of the same user. */
export async function login(userId: string, deviceId?: string): Promise<Session> {
  const r = expectOk(
    await call("POST", `${V3}/login`, {
      type: "m.login.password",
      identifier: { type: "m.id.user", user: userId },
      password: PASSWORD,
      ...(deviceId ? { device_id: deviceId } : {}),
    }),
  );
  return { userId, deviceId: r.device_id as string, token: r.access_token as string };
}

/** A session with a fake device whose keys are uploaded (plus `otks` one-time keys and optionally a fallback key). */
export async function withKeys(s: Session, otks = 0, fallback = false): Promise<FakeDevice> {
  const dev = await FakeDevice.create(s.userId, s.deviceId);
  const body: JsonObject = { device_keys: await dev.deviceKeys() };
  if (otks > 0) body.one_time_keys = await dev.oneTimeKeys(otks);
  if (fallback) body.fallback_keys = await dev.fallbackKey();
  expectOk(await call("POST", `${V3}/keys/upload`, body, s.token));
  return dev;
}

export const passwordAuth = (userId: string, session?: string): JsonObject => ({
  type: "m.login.password",
  identifier: { type: "m.id.user", user: userId },
  password: PASSWORD,
  ...(session ? { session } : {}),
});
