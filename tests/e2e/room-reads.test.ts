// Room read paths end to end: the real server (npm start) driven by matrix-js-sdk 37.5.0 —
// scrollback of 100 messages, history visibility, edits and threads through the relations
// API, /threads, /context, /members, /timestamp_to_event, typing, receipts and read
// markers — with every response the SDK receives validated against the spec's OpenAPI.
import { describe, expect, it } from "vitest";
import {
  ClientPrefix,
  Direction,
  type MatrixClient,
  Method,
  MsgType,
  Preset,
  ReceiptType,
  RoomMemberEvent,
  type IEvent,
} from "matrix-js-sdk";
import { errcodeOf, sdkHarness, start } from "./sdk.ts";

const { client, register } = sdkHarness({ stopClients: true });

async function until<T>(probe: () => T | undefined | Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}

const text = (body: string) => ({ msgtype: MsgType.Text, body }) as const;
const bodyOf = (e: Partial<IEvent>) => (e.content as { body?: string } | undefined)?.body;
const v1 = { prefix: ClientPrefix.V1 } as Parameters<MatrixClient["http"]["authedRequest"]>[4];

describe("[e2e: room reads] matrix-js-sdk against Parley", () => {
  it("[cs: messages] 100 messages scroll back in order (client.scrollback and createMessagesRequest with lazy loading)", async () => {
    const alice = await register("alice");
    const bob = await register("bob");
    const { room_id: roomId } = await alice.client.createRoom({ preset: Preset.PublicChat });
    await bob.client.joinRoom(roomId);
    for (let i = 0; i < 100; i++) await (i % 3 ? alice : bob).client.sendMessage(roomId, text(`m${i}`));

    await start(bob.client);
    const room = bob.client.getRoom(roomId)!;
    for (let i = 0; i < 50 && room.oldState.paginationToken !== null; i++) await bob.client.scrollback(room, 30);
    expect(room.oldState.paginationToken).toBeNull();
    const bodies = room
      .getLiveTimeline()
      .getEvents()
      .filter((e) => e.getType() === "m.room.message")
      .map((e) => e.getContent().body);
    expect(bodies).toEqual(Array.from({ length: 100 }, (_, i) => `m${i}`));
    expect(room.getLiveTimeline().getEvents()[0]!.getType()).toBe("m.room.create");

    // Raw pagination with the SDK's lazy-loading filter: senders' member events come along.
    const lazy = { lazy_load_members: true } as const;
    const seen: string[] = [];
    let from: string | null = null;
    for (let i = 0; i < 20; i++) {
      const page: { chunk: IEvent[]; end?: string; state?: IEvent[] } = await bob.client.http.authedRequest(Method.Get, `/rooms/${encodeURIComponent(roomId)}/messages`, {
        dir: Direction.Backward,
        limit: "25",
        filter: JSON.stringify(lazy),
        ...(from ? { from } : {}),
      });
      const senders = new Set(page.chunk.map((e) => e.sender));
      expect(new Set((page.state ?? []).map((e) => e.state_key))).toEqual(senders);
      seen.push(...page.chunk.filter((e) => e.type === "m.room.message").map((e) => bodyOf(e)!));
      if (!page.end) break;
      from = page.end;
    }
    expect(seen.reverse()).toEqual(Array.from({ length: 100 }, (_, i) => `m${i}`));
  });

  it("[history-visibility: joined] a late joiner's scrollback stops at their join", async () => {
    const alice = await register("alice");
    const bob = await register("bob");
    const { room_id: roomId } = await alice.client.createRoom({
      preset: Preset.PublicChat,
      initial_state: [{ type: "m.room.history_visibility", state_key: "", content: { history_visibility: "joined" } }],
    });
    await alice.client.sendMessage(roomId, text("before bob"));
    await bob.client.joinRoom(roomId);
    await alice.client.sendMessage(roomId, text("after bob"));
    const page = await bob.client.createMessagesRequest(roomId, null, 50, Direction.Backward);
    expect(page.chunk.filter((e) => e.type === "m.room.message").map(bodyOf)).toEqual(["after bob"]);
    const forAlice = await alice.client.createMessagesRequest(roomId, null, 50, Direction.Backward);
    expect(forAlice.chunk.filter((e) => e.type === "m.room.message").map(bodyOf)).toEqual(["after bob", "before bob"]);
    // The spec documents 403 here without a body schema, so this one request is not validated.
    const eve = await register("eve");
    const stranger = client({ validating: false, accessToken: eve.client.getAccessToken()!, userId: eve.userId });
    expect(await errcodeOf(stranger.createMessagesRequest(roomId, null, 10, Direction.Backward))).toEqual([403, "M_FORBIDDEN"]);
  });

  it("[relations] an edit and a thread through the relations API, bundled on the root, listed by /threads", async () => {
    const alice = await register("alice");
    const bob = await register("bob");
    const { room_id: roomId } = await alice.client.createRoom({ preset: Preset.PublicChat });
    await bob.client.joinRoom(roomId);
    const { event_id: root } = await alice.client.sendMessage(roomId, text("teh root"));
    const { event_id: edit } = await alice.client.sendMessage(roomId, {
      ...text("* the root"),
      "m.new_content": text("the root"),
      "m.relates_to": { rel_type: "m.replace", event_id: root },
    } as never);
    const replies: string[] = [];
    for (const [who, body] of [[bob, "first"], [alice, "second"], [bob, "third"]] as const) {
      // Explicit m.thread, so the test does not depend on which prefix the SDK picks.
      const content = { ...text(body), "m.relates_to": { rel_type: "m.thread", event_id: root, is_falling_back: true, "m.in_reply_to": { event_id: replies.at(-1) ?? root } } };
      replies.push((await who.client.sendMessage(roomId, content as never)).event_id);
    }

    const edits = await bob.client.fetchRelations(roomId, root, "m.replace", null);
    expect(edits.chunk.map((e) => e.event_id)).toEqual([edit]);
    const thread = await bob.client.fetchRelations(roomId, root, "m.thread", "m.room.message", { dir: Direction.Backward, limit: 2 });
    expect(thread.chunk.map((e) => e.event_id)).toEqual([replies[2], replies[1]]);
    const rest = await bob.client.fetchRelations(roomId, root, "m.thread", "m.room.message", { dir: Direction.Backward, from: thread.next_batch! });
    expect(rest.chunk.map((e) => e.event_id)).toEqual([replies[0]]);
    expect(rest.next_batch).toBeUndefined();
    const all = await bob.client.relations(roomId, root, null);
    expect(all.events.map((e) => e.getId()).sort()).toEqual([edit, ...replies].sort());

    const served = await bob.client.fetchRoomEvent(roomId, root);
    const rel = served.unsigned?.["m.relations"] as Record<string, Record<string, unknown>>;
    expect((rel["m.replace"] as { event_id: string }).event_id).toBe(edit);
    expect(rel["m.thread"]).toMatchObject({ count: 3, current_user_participated: true, latest_event: { event_id: replies[2] } });

    const threads = await bob.client.http.authedRequest<{ chunk: IEvent[] }>(Method.Get, `/rooms/${encodeURIComponent(roomId)}/threads`, { include: "participated" }, undefined, v1);
    expect(threads.chunk.map((e) => e.event_id)).toEqual([root]);
  });

  it("[cs: context, members, timestamp_to_event] around an event, who is here, what was said when", async () => {
    const alice = await register("alice");
    const bob = await register("bob");
    const { room_id: roomId } = await alice.client.createRoom({ preset: Preset.PublicChat });
    await alice.client.setDisplayName("Alice");
    await bob.client.joinRoom(roomId);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await alice.client.sendMessage(roomId, text(`c${i}`))).event_id);
    const ctx = await bob.client.http.authedRequest<{ event: IEvent; events_before: IEvent[]; events_after: IEvent[] }>(
      Method.Get,
      `/rooms/${encodeURIComponent(roomId)}/context/${encodeURIComponent(ids[2]!)}`,
      { limit: "2" },
    );
    expect(ctx.event.event_id).toBe(ids[2]);
    expect(ctx.events_before.map(bodyOf)).toEqual(["c1"]);
    expect(ctx.events_after.map(bodyOf)).toEqual(["c3"]);

    const joined = await bob.client.getJoinedRoomMembers(roomId);
    expect(Object.keys(joined.joined).sort()).toEqual([alice.userId, bob.userId].sort());
    expect(joined.joined[alice.userId]?.display_name).toBe("Alice");
    const members = await bob.client.members(roomId, "join");
    expect(members.chunk.map((e) => e.state_key).sort()).toEqual([alice.userId, bob.userId].sort());

    const third = await bob.client.fetchRoomEvent(roomId, ids[3]!);
    const found = await bob.client.timestampToEvent(roomId, third.origin_server_ts!, Direction.Forward);
    expect(found.origin_server_ts).toBeGreaterThanOrEqual(third.origin_server_ts!);
    expect(ids.slice(3)).toContain(found.event_id);
  });

  it("[ephemeral] typing reaches the other client; m.read is shared, m.read.private is not; read markers set m.fully_read", async () => {
    const alice = await register("alice");
    const bob = await register("bob");
    const { room_id: roomId } = await alice.client.createRoom({ preset: Preset.PublicChat });
    await bob.client.joinRoom(roomId);
    const { event_id: first } = await bob.client.sendMessage(roomId, text("one"));
    const { event_id: second } = await bob.client.sendMessage(roomId, text("two"));
    await start(alice.client);
    await start(bob.client);

    const typing = new Promise<void>((resolve) => {
      bob.client.on(RoomMemberEvent.Typing, (_ev, member) => {
        if (member.userId === alice.userId && member.typing) resolve();
      });
    });
    await alice.client.sendTyping(roomId, true, 10_000);
    await typing;
    expect(await errcodeOf(alice.client.http.authedRequest(Method.Put, `/rooms/${encodeURIComponent(roomId)}/typing/${encodeURIComponent(bob.userId)}`, undefined, { typing: true, timeout: 1000 }))).toEqual([403, "M_FORBIDDEN"]);

    const ev1 = await until(() => alice.client.getRoom(roomId)?.findEventById(first));
    const ev2 = await until(() => alice.client.getRoom(roomId)?.findEventById(second));
    await alice.client.sendReceipt(ev1, ReceiptType.Read);
    const bobRoom = bob.client.getRoom(roomId)!;
    await until(() => (bobRoom.getUsersReadUpTo(bobRoom.findEventById(first)!).includes(alice.userId) ? true : undefined));
    // A private receipt is never sent to others: a fresh /sync of Bob's shows only the public one.
    await alice.client.sendReceipt(ev2, ReceiptType.ReadPrivate);
    const fresh = await bob.client.http.authedRequest<{ rooms: { join: Record<string, { ephemeral: { events: IEvent[] } }> } }>(Method.Get, "/sync");
    const receipts = fresh.rooms.join[roomId]!.ephemeral.events.filter((e) => e.type === "m.receipt");
    const byEvent = Object.assign({}, ...receipts.map((e) => e.content)) as Record<string, Record<string, Record<string, unknown>>>;
    expect(Object.keys(byEvent[first]!["m.read"]!)).toContain(alice.userId);
    expect(JSON.stringify(byEvent)).not.toContain("m.read.private");
    const own = await alice.client.http.authedRequest<{ rooms: { join: Record<string, { ephemeral: { events: IEvent[] } }> } }>(Method.Get, "/sync");
    expect(JSON.stringify(own.rooms.join[roomId]!.ephemeral.events)).toContain("m.read.private");

    await alice.client.setRoomReadMarkersHttpRequest(roomId, second);
    const marker = await alice.client.http.authedRequest<{ event_id: string }>(
      Method.Get,
      `/user/${encodeURIComponent(alice.userId)}/rooms/${encodeURIComponent(roomId)}/account_data/m.fully_read`,
    );
    expect(marker).toEqual({ event_id: second });
  });
});
