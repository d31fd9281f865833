// /sync end to end: the real server (npm start) driven by matrix-js-sdk 37.5.0's own sync
// loop (startClient) — rooms, timelines, invites and live messages arrive through /sync,
// and every response the SDK receives (sync included) is validated against the OpenAPI.
import { afterEach, beforeEach, describe, expect, inject, it } from "vitest";
import {
  ClientEvent,
  createClient,
  type MatrixClient,
  type MatrixEvent,
  MatrixError,
  MsgType,
  Preset,
  RoomEvent,
  RoomMemberEvent,
  SyncState,
} from "matrix-js-sdk";
import type { Logger } from "matrix-js-sdk/lib/logger.js";
import { findTemplate, validateResponse } from "./openapi.ts";

const baseUrl = inject("baseUrl");
const PASSWORD = "a sufficiently long password";

let problems: string[] = [];
let validatedSyncs = 0;
const validatingFetch: typeof fetch = async (input, init) => {
  const res = await fetch(input, init);
  const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
  const method = (init?.method ?? (input instanceof Request ? input.method : "GET")).toUpperCase();
  try {
    const text = await res.clone().text();
    validateResponse(method, findTemplate(method, url.pathname), res.status, text ? JSON.parse(text) : null);
    if (url.pathname.endsWith("/sync")) validatedSyncs++;
  } catch (e) {
    problems.push(`${method} ${url.pathname}: ${(e as Error).message}`);
  }
  return res;
};

const clients: MatrixClient[] = [];
beforeEach(() => {
  problems = [];
  validatedSyncs = 0;
});
afterEach(() => {
  for (const c of clients.splice(0)) c.stopClient();
  expect(problems).toEqual([]);
  expect(validatedSyncs).toBeGreaterThan(0);
});

const quiet: Logger = { trace() {}, debug() {}, info() {}, warn() {}, error: (...m: unknown[]) => console.error(...m), getChild: () => quiet };

let n = 0;
async function register(tag: string): Promise<{ userId: string; client: MatrixClient }> {
  const anon = createClient({ baseUrl, fetchFn: validatingFetch, logger: quiet });
  const username = `${tag}${Date.now().toString(36)}${++n}`;
  let session: string | undefined;
  try {
    await anon.registerRequest({ username, password: PASSWORD });
  } catch (e) {
    if (e instanceof MatrixError && e.httpStatus === 401) session = e.data.session as string;
    else throw e;
  }
  const res = await anon.registerRequest({ username, password: PASSWORD, auth: { type: "m.login.dummy", session } });
  const client = createClient({ baseUrl, fetchFn: validatingFetch, logger: quiet, accessToken: res.access_token!, userId: res.user_id, deviceId: res.device_id });
  clients.push(client);
  return { userId: res.user_id, client };
}

/** startClient and wait for the first sync to be processed. */
async function start(c: MatrixClient, opts: Parameters<MatrixClient["startClient"]>[0] = {}): Promise<void> {
  const ready = new Promise<void>((resolve, reject) => {
    const onSync = (state: SyncState) => {
      if (state === SyncState.Prepared || state === SyncState.Syncing) {
        c.off(ClientEvent.Sync, onSync);
        resolve();
      } else if (state === SyncState.Error) reject(new Error("sync error"));
    };
    c.on(ClientEvent.Sync, onSync);
  });
  await c.startClient({ initialSyncLimit: 10, ...opts });
  await ready;
}

/** Resolves with the first value `probe` returns that is not undefined, checked on every event of `c`. */
function until<T>(c: MatrixClient, probe: () => T | undefined, ms = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const v = probe();
      if (v !== undefined) {
        clearInterval(timer);
        clearTimeout(timeout);
        resolve(v);
      }
    };
    const timer = setInterval(check, 5);
    const timeout = setTimeout(() => {
      clearInterval(timer);
      reject(new Error("timed out waiting"));
    }, ms);
    check();
  });
}

describe("[e2e: sync] matrix-js-sdk startClient against Parley", () => {
  it("[sync: startClient] rooms, invites and live messages arrive through /sync", async () => {
    const alice = await register("alice");
    const bob = await register("bob");
    const { room_id: roomId } = await alice.client.createRoom({ preset: Preset.PrivateChat, name: "Sync party" });
    await alice.client.sendMessage(roomId, { msgtype: MsgType.Text, body: "before anyone came" });

    await start(alice.client);
    await start(bob.client);
    const aliceRoom = alice.client.getRoom(roomId);
    expect(aliceRoom?.name).toBe("Sync party");
    expect(aliceRoom?.getLiveTimeline().getEvents().map((e) => e.getContent().body)).toContain("before anyone came");

    // The invite reaches bob's running client.
    await alice.client.invite(roomId, bob.userId);
    const invited = await until(bob.client, () => (bob.client.getRoom(roomId)?.getMyMembership() === "invite" ? true : undefined));
    expect(invited).toBe(true);
    expect(bob.client.getRoom(roomId)?.name).toBe("Sync party");

    await bob.client.joinRoom(roomId);
    await until(bob.client, () => (bob.client.getRoom(roomId)?.getMyMembership() === "join" ? true : undefined));

    // A message from alice appears in bob's live timeline via /sync.
    const received = new Promise<MatrixEvent>((resolve) => {
      bob.client.on(RoomEvent.Timeline, (ev, room) => {
        if (room?.roomId === roomId && ev.getType() === "m.room.message" && ev.getSender() === alice.userId && ev.getContent().body === "hi bob") resolve(ev);
      });
    });
    const { event_id } = await alice.client.sendMessage(roomId, { msgtype: MsgType.Text, body: "hi bob" });
    expect((await received).getId()).toBe(event_id);

    // bob's reply: alice sees it, and bob's own echo is reconciled (transaction_id).
    const reply = await bob.client.sendMessage(roomId, { msgtype: MsgType.Text, body: "hi alice" });
    await until(alice.client, () => alice.client.getRoom(roomId)?.findEventById(reply.event_id));
    await until(bob.client, () => {
      const ev = bob.client.getRoom(roomId)?.findEventById(reply.event_id);
      return ev && ev.status === null ? ev : undefined;
    });
    const members = alice.client.getRoom(roomId)!.getJoinedMembers().map((m) => m.userId).sort();
    expect(members).toEqual([alice.userId, bob.userId].sort());
  });

  it("[sync: ephemeral] typing and read receipts reach the other client", async () => {
    const alice = await register("alice");
    const bob = await register("bob");
    const { room_id: roomId } = await alice.client.createRoom({ preset: Preset.PublicChat });
    await bob.client.joinRoom(roomId);
    await start(alice.client);
    await start(bob.client);

    const typing = new Promise<void>((resolve) => {
      bob.client.on(RoomMemberEvent.Typing, (_ev, member) => {
        if (member.userId === alice.userId && member.typing) resolve();
      });
    });
    await alice.client.sendTyping(roomId, true, 10_000);
    await typing;

    const { event_id } = await bob.client.sendMessage(roomId, { msgtype: MsgType.Text, body: "read me" });
    const ev = await until(alice.client, () => alice.client.getRoom(roomId)?.findEventById(event_id));
    await alice.client.sendReadReceipt(ev);
    await until(bob.client, () => (bob.client.getRoom(roomId)?.getUsersReadUpTo(ev).includes(alice.userId) ? true : undefined));
  });

  it("[sync: lazy loading] with lazyLoadMembers the client still learns senders and members", async () => {
    const alice = await register("alice");
    const bob = await register("bob");
    const { room_id: roomId } = await alice.client.createRoom({ preset: Preset.PublicChat, name: "Lazy" });
    await bob.client.joinRoom(roomId);
    await bob.client.sendMessage(roomId, { msgtype: MsgType.Text, body: "from bob" });
    await start(alice.client, { lazyLoadMembers: true });
    const room = alice.client.getRoom(roomId)!;
    expect(room.getJoinedMemberCount()).toBe(2);
    expect(room.getMember(bob.userId)?.membership).toBe("join");
  });
});
