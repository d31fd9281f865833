// Room upgrades end to end: the real server (npm start) driven by matrix-js-sdk 37.5.0 —
// alice upgrades a v11 room to v12 with client.upgradeRoom, bob follows the tombstone —
// with every response the SDK receives validated against the spec's OpenAPI.
// https://spec.matrix.org/v1.19/client-server-api/#room-upgrades
import { afterEach, beforeEach, describe, expect, inject, it } from "vitest";
import { createClient, type MatrixClient, MatrixError, MsgType, Preset } from "matrix-js-sdk";
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

/** The SDK logs requests and the refusals this test provokes on purpose; keep other errors. */
const quiet: Logger = {
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error: (...m: unknown[]) => {
    if (!String(m[0]).startsWith("Error sending event")) console.error(...m);
  },
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

describe("[e2e: upgrade] matrix-js-sdk upgradeRoom", () => {
  it("[upgrade] v11 → v12: replacement room with predecessor and copied state, tombstone in the old room", async () => {
    const alice = await register("alice");
    const bob = await register("bob");
    const { room_id: old } = await alice.client.createRoom({ preset: Preset.PublicChat, room_version: "11", name: "Before", topic: "T" });
    await bob.client.joinRoom(old);

    // bob (power 0) may not send the tombstone
    expect(await errcodeOf(bob.client.upgradeRoom(old, "12"))).toEqual([403, "M_FORBIDDEN"]);
    expect(await errcodeOf(alice.client.upgradeRoom(old, "nope"))).toEqual([400, "M_UNSUPPORTED_ROOM_VERSION"]);

    const { replacement_room: nu } = await alice.client.upgradeRoom(old, "12");
    expect(nu).toMatch(/^![A-Za-z0-9_-]{43}$/);

    const tombstone = await bob.client.getStateEvent(old, "m.room.tombstone", "");
    expect(tombstone).toEqual({ body: "This room has been replaced", replacement_room: nu });
    // the old room now needs power 50 to talk
    expect(await errcodeOf(bob.client.sendMessage(old, null, { msgtype: MsgType.Text, body: "hi" }))).toEqual([403, "M_FORBIDDEN"]);

    // bob follows the tombstone into the public replacement
    await bob.client.joinRoom(nu);
    const create = await bob.client.getStateEvent(nu, "m.room.create", "");
    expect(create.room_version).toBe("12");
    expect(create.predecessor.room_id).toBe(old);
    expect(await bob.client.getStateEvent(nu, "m.room.name", "")).toEqual({ name: "Before" });
    expect((await alice.client.getJoinedRooms()).joined_rooms).toEqual(expect.arrayContaining([old, nu]));
    await bob.client.sendMessage(nu, null, { msgtype: MsgType.Text, body: "here now" });
  });
});
