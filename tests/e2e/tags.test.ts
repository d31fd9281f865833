// Room tags and the 3PID list end to end: the real server (npm start) driven by
// matrix-js-sdk 37.5.0, every response the SDK receives validated against the spec's OpenAPI.
// https://spec.matrix.org/v1.19/client-server-api/#room-tagging, #adding-account-administrative-contact-information
import { afterEach, beforeEach, describe, expect, inject, it } from "vitest";
import { createClient, type MatrixClient, MatrixError, Method } from "matrix-js-sdk";
import type { Logger } from "matrix-js-sdk/lib/logger.js";
import { findTemplate, validateResponse } from "./openapi.ts";

const baseUrl = inject("baseUrl");
const PASSWORD = "a sufficiently long password";

let problems: string[] = [];
let validated = 0;
const validatingFetch: typeof fetch = async (input, init) => {
  const res = await fetch(input, init);
  const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
  const method = (init?.method ?? (input instanceof Request ? input.method : "GET")).toUpperCase();
  try {
    const text = await res.clone().text();
    validateResponse(method, findTemplate(method, url.pathname), res.status, text ? JSON.parse(text) : null);
    validated++;
  } catch (e) {
    problems.push(`${method} ${url.pathname}: ${(e as Error).message}`);
  }
  return res;
};

beforeEach(() => {
  problems = [];
  validated = 0;
});
afterEach(() => {
  expect(problems).toEqual([]);
  expect(validated).toBeGreaterThan(0);
});

const quiet: Logger = {
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error: (...m: unknown[]) => console.error(...m),
  getChild: () => quiet,
};

function client(opts: { accessToken?: string; userId?: string; deviceId?: string } = {}): MatrixClient {
  return createClient({ baseUrl, fetchFn: validatingFetch, logger: quiet, ...opts });
}

let n = 0;
async function register(tag: string): Promise<{ userId: string; client: MatrixClient }> {
  const anon = client();
  const username = `${tag}${Date.now().toString(36)}${++n}`;
  let session: string | undefined;
  try {
    await anon.registerRequest({ username, password: PASSWORD });
  } catch (e) {
    if (e instanceof MatrixError && e.httpStatus === 401) session = e.data.session as string;
    else throw e;
  }
  const res = await anon.registerRequest({ username, password: PASSWORD, auth: { type: "m.login.dummy", session } });
  return { userId: res.user_id, client: client({ accessToken: res.access_token!, userId: res.user_id, deviceId: res.device_id }) };
}

async function errcodeOf(p: Promise<unknown>): Promise<[number | undefined, string | undefined]> {
  try {
    await p;
  } catch (e) {
    if (e instanceof MatrixError) return [e.httpStatus, e.errcode];
    throw e;
  }
  throw new Error("expected the request to fail");
}

type SyncBody = {
  next_batch: string;
  rooms?: { join?: Record<string, { account_data?: { events: { type: string; content: unknown }[] } }> };
};

describe("[e2e: tags] matrix-js-sdk against the real server", () => {
  it("[cs: room-tagging] setRoomTag, getRoomTags, deleteRoomTag; the tags are m.tag room account data in /sync", async () => {
    const alice = await register("tags");
    const { room_id: roomId } = await alice.client.createRoom({});
    expect(await alice.client.getRoomTags(roomId)).toEqual({ tags: {} });
    const first = await alice.client.http.authedRequest<SyncBody>(Method.Get, "/sync", { timeout: "0" });

    await alice.client.setRoomTag(roomId, "m.favourite", { order: 0.5 });
    await alice.client.setRoomTag(roomId, "u.work", {});
    expect(await alice.client.getRoomTags(roomId)).toEqual({ tags: { "m.favourite": { order: 0.5 }, "u.work": {} } });

    const path = `/user/${encodeURIComponent(alice.userId)}/rooms/${encodeURIComponent(roomId)}/account_data/m.tag`;
    expect(await alice.client.http.authedRequest(Method.Get, path)).toEqual({ tags: { "m.favourite": { order: 0.5 }, "u.work": {} } });
    const next = await alice.client.http.authedRequest<SyncBody>(Method.Get, "/sync", { since: first.next_batch, timeout: "0" });
    const mTag = next.rooms?.join?.[roomId]?.account_data?.events.find((e) => e.type === "m.tag");
    expect(mTag?.content).toEqual({ tags: { "m.favourite": { order: 0.5 }, "u.work": {} } });

    await alice.client.deleteRoomTag(roomId, "m.favourite");
    expect(await alice.client.getRoomTags(roomId)).toEqual({ tags: { "u.work": {} } });
  });

  it("[cs: room-tagging] an order outside [0,1] is 400 M_INVALID_PARAM and changes nothing", async () => {
    const alice = await register("tags");
    const { room_id: roomId } = await alice.client.createRoom({});
    expect(await errcodeOf(alice.client.setRoomTag(roomId, "u.bad", { order: 2 }))).toEqual([400, "M_INVALID_PARAM"]);
    expect(await alice.client.getRoomTags(roomId)).toEqual({ tags: {} });
  });

  it("[cs: room-tagging] another user's tags are 403 M_FORBIDDEN", async () => {
    const alice = await register("tags");
    const bob = await register("tags");
    const { room_id: roomId } = await alice.client.createRoom({});
    await alice.client.setRoomTag(roomId, "u.mine", {});
    const path = `/user/${encodeURIComponent(alice.userId)}/rooms/${encodeURIComponent(roomId)}/tags`;
    expect(await errcodeOf(bob.client.http.authedRequest(Method.Get, path))).toEqual([403, "M_FORBIDDEN"]);
    expect(await errcodeOf(bob.client.http.authedRequest(Method.Put, `${path}/u.x`, undefined, {}))).toEqual([403, "M_FORBIDDEN"]);
    expect(await errcodeOf(bob.client.http.authedRequest(Method.Delete, `${path}/u.mine`))).toEqual([403, "M_FORBIDDEN"]);
    expect(await alice.client.getRoomTags(roomId)).toEqual({ tags: { "u.mine": {} } });
  });

  it("[cs: 3pid] getThreePids lists none: Parley binds no third-party identifiers", async () => {
    const alice = await register("pid");
    expect(await alice.client.getThreePids()).toEqual({ threepids: [] });
  });
});
