// /sync end to end: the real server (npm start) driven by matrix-js-sdk 37.5.0's own sync
// loop (startClient) — rooms, timelines, invites and live messages arrive through /sync,
// and every response the SDK receives (sync included) is validated against the OpenAPI.
import { describe, expect, it } from "vitest";
import {
  type MatrixClient,
  type MatrixEvent,
  MsgType,
  Preset,
  RoomEvent,
  RoomMemberEvent,
} from "matrix-js-sdk";
import { sdkHarness, start } from "./sdk.ts";

/** Only /sync responses count towards the check: the test is about the sync loop. */
const { register } = sdkHarness({ counts: (_method, pathname) => pathname.endsWith("/sync"), stopClients: true });

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
