// Rooms end to end: the real server (npm start) driven by matrix-js-sdk 37.5.0 — two
// users create a room, invite, join, send, read state and events, redact, leave — with
// every response the SDK receives validated against the spec's OpenAPI.
import { afterEach, beforeEach, describe, expect, inject, it } from "vitest";
import { createClient, type MatrixClient, MatrixError, MsgType, Preset, Visibility } from "matrix-js-sdk";
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

describe("[e2e: rooms] two users with matrix-js-sdk", () => {
  it("[cs: rooms] create, invite, join, send, read state and events, redact, leave", async () => {
    const alice = await register("alice");
    const bob = await register("bob");

    const { room_id: roomId } = await alice.client.createRoom({
      preset: Preset.PrivateChat,
      visibility: Visibility.Private,
      name: "Tea party",
      topic: "Everything about tea",
    });
    expect(roomId).toMatch(/^![A-Za-z0-9_-]{43}$/); // room version 12 by default

    // bob is not invited yet: the private room refuses him
    expect(await errcodeOf(bob.client.joinRoom(roomId))).toEqual([403, "M_FORBIDDEN"]);

    await alice.client.invite(roomId, bob.userId, "join us");
    await bob.client.joinRoom(roomId);
    expect((await bob.client.getJoinedRooms()).joined_rooms).toEqual([roomId]);

    const sent = await bob.client.sendMessage(roomId, null, { msgtype: MsgType.Text, body: "Hello, Alice" });
    const fetched = await alice.client.fetchRoomEvent(roomId, sent.event_id);
    expect(fetched).toMatchObject({ event_id: sent.event_id, sender: bob.userId, content: { body: "Hello, Alice" } });

    const state = await bob.client.roomState(roomId);
    const byType = new Map(state.map((e) => [`${e.type}|${e.state_key}`, e]));
    expect(byType.get("m.room.name|")?.content).toEqual({ name: "Tea party" });
    expect(byType.get(`m.room.member|${bob.userId}`)?.content.membership).toBe("join");
    expect(byType.get(`m.room.member|${alice.userId}`)?.content.membership).toBe("join");
    expect(await bob.client.getStateEvent(roomId, "m.room.topic", "")).toMatchObject({ topic: "Everything about tea" });

    // bob (power 0) may not rename the room; alice may
    expect(await errcodeOf(bob.client.setRoomName(roomId, "Coffee"))).toEqual([403, "M_FORBIDDEN"]);
    await alice.client.setRoomName(roomId, "Tea & cake");
    expect(await bob.client.getStateEvent(roomId, "m.room.name", "")).toEqual({ name: "Tea & cake" });

    // bob redacts his own message
    await bob.client.redactEvent(roomId, sent.event_id, undefined, { reason: "typo" });
    const redacted = await alice.client.fetchRoomEvent(roomId, sent.event_id);
    expect(redacted.content).toEqual({});
    expect(redacted.unsigned?.redacted_because).toBeDefined();

    await bob.client.leave(roomId);
    expect((await bob.client.getJoinedRooms()).joined_rooms).toEqual([]);
    expect(await errcodeOf(bob.client.sendMessage(roomId, null, { msgtype: MsgType.Text, body: "still here?" }))).toEqual([403, "M_FORBIDDEN"]);
    await bob.client.forget(roomId);
  });

  it("[cs: createRoom] unsupported room versions and unknown rooms get their errcodes", async () => {
    const alice = await register("carol");
    expect(await errcodeOf(alice.client.createRoom({ room_version: "1" }))).toEqual([400, "M_UNSUPPORTED_ROOM_VERSION"]);
    expect(await errcodeOf(alice.client.roomState("!unknownroom:localhost"))).toEqual([404, "M_NOT_FOUND"]);
    const { room_id } = await alice.client.createRoom({ preset: Preset.PublicChat, room_version: "10" });
    expect(room_id).toMatch(/^![A-Za-z0-9_-]{18}:/);
  });
});
