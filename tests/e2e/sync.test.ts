// /sync end to end: the real server (npm start) driven by matrix-js-sdk 37.5.0's own sync
// loop (startClient) — rooms, timelines, invites and live messages arrive through /sync,
// and every response the SDK receives (sync included) is validated against the OpenAPI.
import { describe, expect, it } from "vitest";
import {
  ClientEvent,
  type MatrixClient,
  type MatrixEvent,
  MsgType,
  Preset,
  RoomEvent,
  RoomMemberEvent,
} from "matrix-js-sdk";
import { sdkHarness, start, until } from "./sdk.ts";

/** Only /sync responses count towards the check: the test is about the sync loop. */
const { register } = sdkHarness({ counts: (_method, pathname) => pathname.endsWith("/sync"), stopClients: true });

/** The SDK's /sync requests of one client: when each was sent, with which timeout, and when it answered. */
interface Poll {
  timeout: number;
  sentAt: number;
  answeredAt?: number;
}

/** Records the /sync requests `c`'s sync loop makes (its http.authedRequest, wrapped on this instance). */
function watchPolls(c: MatrixClient): Poll[] {
  const polls: Poll[] = [];
  const http = c.http;
  const original = http.authedRequest.bind(http);
  http.authedRequest = ((method, path, query, ...rest) => {
    if (path !== "/sync") return original(method, path, query, ...rest);
    const poll: Poll = { timeout: Number(query?.timeout ?? 0), sentAt: Date.now() };
    polls.push(poll);
    const answered = () => void (poll.answeredAt = Date.now());
    const req = original(method, path, query, ...rest);
    req.then(answered, answered);
    return req;
  }) as typeof http.authedRequest;
  return polls;
}

/** How long the server must have held a long-poll before a test acts (it is really waiting). */
const HELD_MS = 500;
/** The wake-up bound: far below the SDK's 30 s poll timeout. */
const WAKE_MS = 3_000;

/**
 * Waits until the receiver's current /sync (timeout 30000) has been held for HELD_MS, runs
 * `act`, and resolves with what `listen` reports, asserting it came within WAKE_MS of the
 * action and that the held long-poll itself answered within that bound.
 */
async function wakes<T>(polls: Poll[], act: () => Promise<unknown>, listen: (done: (v: T) => void) => void): Promise<T> {
  const held = await new Promise<Poll>((resolve, reject) => {
    const deadline = Date.now() + 10_000;
    const timer = setInterval(() => {
      const p = polls.at(-1);
      if (p && p.timeout === 30_000 && p.answeredAt === undefined && Date.now() - p.sentAt >= HELD_MS) {
        clearInterval(timer);
        resolve(p);
      } else if (Date.now() > deadline) {
        clearInterval(timer);
        reject(new Error(`no /sync long-poll held for ${HELD_MS} ms: ${JSON.stringify(polls.slice(-3))}`));
      }
    }, 10);
  });
  let got: (v: T) => void = () => {};
  const arrived = new Promise<T>((resolve) => (got = resolve));
  listen(got);
  const t0 = Date.now();
  expect(held.answeredAt).toBeUndefined();
  await act();
  const value = await Promise.race([arrived, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`nothing within ${WAKE_MS} ms`)), WAKE_MS))]);
  const elapsed = Date.now() - t0;
  expect(elapsed).toBeLessThan(WAKE_MS);
  expect(held.answeredAt).toBeDefined();
  expect(held.answeredAt! - t0).toBeLessThan(WAKE_MS);
  return value;
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
    const invited = await until(() => (bob.client.getRoom(roomId)?.getMyMembership() === "invite" ? true : undefined));
    expect(invited).toBe(true);
    expect(bob.client.getRoom(roomId)?.name).toBe("Sync party");

    await bob.client.joinRoom(roomId);
    await until(() => (bob.client.getRoom(roomId)?.getMyMembership() === "join" ? true : undefined));

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
    await until(() => alice.client.getRoom(roomId)?.findEventById(reply.event_id));
    await until(() => {
      const ev = bob.client.getRoom(roomId)?.findEventById(reply.event_id);
      return ev && ev.status === null ? ev : undefined;
    });
    const members = alice.client.getRoom(roomId)!.getJoinedMembers().map((m) => m.userId).sort();
    expect(members).toEqual([alice.userId, bob.userId].sort());
  });

  it("[sync: long-poll] a message, typing notice, read receipt and to-device message wake the other client's 30 s long-poll within 3 s", async () => {
    const alice = await register("alice");
    const bob = await register("bob");
    const { room_id: roomId } = await alice.client.createRoom({ preset: Preset.PublicChat });
    await bob.client.joinRoom(roomId);
    const alicePolls = watchPolls(alice.client);
    const bobPolls = watchPolls(bob.client);
    await start(alice.client);
    await start(bob.client);

    // Each step: the receiver's /sync?timeout=30000 is held by the server, then the sender
    // acts; that same request must answer with the news well before its timeout.
    const typing = await wakes(bobPolls, () => alice.client.sendTyping(roomId, true, 30_000), (done) =>
      bob.client.on(RoomMemberEvent.Typing, (_ev, member) => {
        if (member.userId === alice.userId && member.typing) done(member.typing);
      }),
    );
    expect(typing).toBe(true);
    expect(bob.client.getRoom(roomId)?.getMember(alice.userId)?.typing).toBe(true);

    let sent: string | undefined;
    const message = await wakes<MatrixEvent>(
      alicePolls,
      async () => void (sent = (await bob.client.sendMessage(roomId, { msgtype: MsgType.Text, body: "read me" })).event_id),
      (done) =>
        alice.client.on(RoomEvent.Timeline, (ev, room) => {
          if (room?.roomId === roomId && ev.getSender() === bob.userId && ev.getContent().body === "read me") done(ev);
        }),
    );
    expect(message.getId()).toBe(sent);

    const readers = await wakes(bobPolls, () => alice.client.sendReadReceipt(message), (done) =>
      bob.client.on(RoomEvent.Receipt, (ev, room) => {
        if (room.roomId === roomId && ev.getContent()[sent!]?.["m.read"]?.[alice.userId]) done(room.getUsersReadUpTo(message));
      }),
    );
    expect(readers).toContain(alice.userId);

    const toDevice = await wakes<MatrixEvent>(
      bobPolls,
      () => alice.client.sendToDevice("org.parley.test", new Map([[bob.userId, new Map([[bob.client.getDeviceId()!, { n: 1, note: "wake up" }]])]])),
      (done) =>
        bob.client.on(ClientEvent.ToDeviceEvent, (ev) => {
          if (ev.getType() === "org.parley.test") done(ev);
        }),
    );
    expect(toDevice.getSender()).toBe(alice.userId);
    expect(toDevice.getContent()).toEqual({ n: 1, note: "wake up" });
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
