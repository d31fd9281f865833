// Shared helpers of the room workers tests: users registered through the edge, and
// client-server calls that return status and JSON body.
import { env, runInDurableObject, SELF } from "cloudflare:test";
import { expect } from "vitest";
import type { JsonObject, JsonValue } from "../../lib/json.ts";
import type { Room } from "../../party/room.ts";
import { roomActor } from "../../party/stubs.ts";

export const BASE = "http://127.0.0.1:8787";
export const SERVER_NAME = "localhost:8787";
export const V3 = "/_matrix/client/v3";
const PASSWORD = "correct horse battery";

export type Reply = { status: number; body: JsonValue & JsonObject };

export async function call(method: string, path: string, body?: unknown, token?: string): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await SELF.fetch(BASE + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as JsonObject) : {} };
}

export interface TestUser {
  userId: string;
  token: string;
  deviceId: string;
  call(method: string, path: string, body?: unknown): Promise<Reply>;
  /** A call that must answer 200; returns the body. */
  ok(method: string, path: string, body?: unknown): Promise<JsonObject>;
}

let n = 0;
export async function newUser(tag = "r"): Promise<TestUser> {
  const username = `${tag}${++n}x${Math.floor(Math.random() * 1e9)}`;
  const first = await call("POST", `${V3}/register`, { username, password: PASSWORD });
  const done = await call("POST", `${V3}/register`, { username, password: PASSWORD, auth: { type: "m.login.dummy", session: first.body.session } });
  expect(done.status, JSON.stringify(done.body)).toBe(200);
  const token = done.body.access_token as string;
  const u: TestUser = {
    userId: done.body.user_id as string,
    token,
    deviceId: done.body.device_id as string,
    call: (method, path, body) => call(method, path, body, token),
    async ok(method, path, body) {
      const r = await call(method, path, body, token);
      expect(r.status, `${method} ${path}: ${JSON.stringify(r.body)}`).toBe(200);
      return r.body;
    },
  };
  return u;
}

export const enc = encodeURIComponent;
export const roomPath = (roomId: string, rest: string) => `${V3}/rooms/${enc(roomId)}/${rest}`;

export async function createRoom(u: TestUser, body: JsonObject = {}): Promise<string> {
  const r = await u.ok("POST", `${V3}/createRoom`, body);
  return r.room_id as string;
}

let txn = 0;
export async function sendMessage(u: TestUser, roomId: string, body = "hello"): Promise<Reply> {
  return u.call("PUT", roomPath(roomId, `send/m.room.message/t${++txn}x${Date.now()}`), { msgtype: "m.text", body });
}

export function expectError(r: Reply, status: number, errcode: string): void {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body.errcode).toBe(errcode);
}

/** Rows of the room actor's SQLite. */
export function roomSql<T extends Record<string, SqlStorageValue>>(roomId: string, query: string, ...args: SqlStorageValue[]): Promise<T[]> {
  return runInDurableObject(roomActor(env, roomId), (_: Room, state) => state.storage.sql.exec<T>(query, ...args).toArray());
}

/** The room's events in stream order, parsed. */
export async function roomEvents(roomId: string): Promise<Array<{ stream: number; event_id: string; pdu: JsonObject }>> {
  const rows = await roomSql<{ stream: number; event_id: string; json: string }>(roomId, "SELECT stream, event_id, json FROM events ORDER BY stream");
  return rows.map((r) => ({ stream: r.stream, event_id: r.event_id, pdu: JSON.parse(r.json) as JsonObject }));
}
