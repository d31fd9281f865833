// /sync v2 section by section, end to end: the raw responses (through matrix-js-sdk's
// http.authedRequest, every one validated against the OpenAPI by the harness) where the
// SDK hides them — gappy timelines, rooms.leave, rooms.invite, filters — and the SDK's own
// view where it has one (getMyMembership, startClient({ filter })).
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3sync
import { describe, expect, it } from "vitest";
import {
  Direction,
  Filter,
  type IFilterDefinition,
  type IRoomEvent,
  type IStateEvent,
  type ISyncResponse,
  type MatrixClient,
  Method,
  MsgType,
  Preset,
  RoomEvent,
} from "matrix-js-sdk";
import { PASSWORD, sdkHarness, start, until } from "./sdk.ts";

const harness = sdkHarness({ stopClients: true });
const { register } = harness;

type Event = IRoomEvent | IStateEvent;

/** One raw /sync: `filter` as given (an ID, or JSON text when it starts with "{"). */
function sync(c: MatrixClient, q: { since?: string; filter?: string; timeout?: number } = {}): Promise<ISyncResponse> {
  const { timeout = 0, ...rest } = q;
  return c.http.authedRequest<ISyncResponse>(Method.Get, "/sync", { ...rest, timeout });
}

/** Another device of `userId` (password login): raw /syncs there never race a running SDK client's tokens. */
async function otherDevice(userId: string): Promise<MatrixClient> {
  const res = await harness.client().loginRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: userId }, password: PASSWORD });
  return harness.client({ accessToken: res.access_token, userId: res.user_id, deviceId: res.device_id });
}

/** Bob in Alice's public room, his running client started, and a second device of his that has synced once. */
async function bobJoinsAlicesRoom(name: string) {
  const alice = await register("alice");
  const bob = await register("bob");
  const { room_id: roomId } = await alice.client.createRoom({ preset: Preset.PublicChat, name });
  await bob.client.joinRoom(roomId);
  await start(bob.client);
  const raw = await otherDevice(bob.userId);
  return { alice, bob, roomId, raw, before: await sync(raw) };
}

const text = (body: string) => ({ msgtype: MsgType.Text, body }) as const;
const ids = (events: readonly Event[] | undefined) => (events ?? []).map((e) => e.event_id);
/** A short description of an event: its type and body or membership. */
const brief = (e: Event) => `${e.type}:${String(e.content.body ?? e.content.membership ?? "")}`;
const sections = (s: ISyncResponse, roomId: string) =>
  (["join", "invite", "leave", "knock"] as const).filter((k) => s.rooms?.[k]?.[roomId] !== undefined);

describe("[e2e: sync] /sync sections against Parley", () => {
  it("[sync: gappy] after 100 missed events the incremental sync is limited with a prev_batch; /messages from it reaches every earlier message once", async () => {
    const alice = await register("alice");
    const bob = await register("bob");
    const { room_id: roomId } = await alice.client.createRoom({ preset: Preset.PublicChat, name: "Gappy" });
    await bob.client.joinRoom(roomId);
    const filter = JSON.stringify({ room: { timeline: { limit: 10 } } });
    const before = await sync(bob.client, { filter });
    expect(ids(before.rooms.join[roomId]?.timeline.events).length).toBeGreaterThan(0);

    const sent: string[] = [];
    for (let i = 0; i < 100; i++) sent.push((await alice.client.sendMessage(roomId, text(`m${i}`))).event_id);

    const gap = await sync(bob.client, { since: before.next_batch, filter });
    const room = gap.rooms.join[roomId]!;
    expect(room.timeline.limited).toBe(true);
    expect(ids(room.timeline.events)).toEqual(sent.slice(90));
    expect(room.timeline.prev_batch).toEqual(expect.any(String));
    // No state changed in the gap: the state section (state between since and the timeline's start) is empty.
    expect(room.state?.events ?? []).toEqual([]);

    // Back from prev_batch: m89 … m0, then the room's creation, each event once.
    const back: Event[] = [];
    let from: string | null | undefined = room.timeline.prev_batch;
    for (let page = 0; page < 20 && from; page++) {
      const res: { chunk: Event[]; end?: string } = await bob.client.http.authedRequest(Method.Get, `/rooms/${encodeURIComponent(roomId)}/messages`, {
        from,
        dir: Direction.Backward,
        limit: "25",
      });
      back.push(...res.chunk);
      from = res.chunk.length > 0 ? res.end : undefined;
    }
    expect(ids(back.filter((e) => e.type === "m.room.message"))).toEqual(sent.slice(0, 90).reverse());
    expect(new Set(ids(back)).size).toBe(back.length);
    expect(ids(back).filter((id) => sent.slice(90).includes(id))).toEqual([]);
    expect(back.at(-1)?.type).toBe("m.room.create");
    expect(ids(back)).toContain(before.rooms.join[roomId]!.timeline.events.at(-1)!.event_id);
  });

  it("[sync: gappy] state changed in the gap (a rename, a join) comes in the limited sync's state section, not lost", async () => {
    const alice = await register("alice");
    const bob = await register("bob");
    const carol = await register("carol");
    const { room_id: roomId } = await alice.client.createRoom({ preset: Preset.PublicChat, name: "Old name" });
    await bob.client.joinRoom(roomId);
    const filter = JSON.stringify({ room: { timeline: { limit: 5 } } });
    const before = await sync(bob.client, { filter });

    const sent: string[] = [];
    for (let i = 0; i < 30; i++) {
      if (i === 10) await alice.client.setRoomName(roomId, "New name");
      if (i === 20) await carol.client.joinRoom(roomId);
      sent.push((await alice.client.sendMessage(roomId, text(`m${i}`))).event_id);
    }
    const gap = await sync(bob.client, { since: before.next_batch, filter });
    const room = gap.rooms.join[roomId]!;
    expect(room.timeline.limited).toBe(true);
    expect(ids(room.timeline.events)).toEqual(sent.slice(25));
    const state = (room.state?.events ?? []) as IStateEvent[];
    expect(state.filter((e) => e.type === "m.room.name").map((e) => e.content)).toEqual([{ name: "New name" }]);
    expect(state.filter((e) => e.type === "m.room.member").map((e) => [e.state_key, e.content.membership])).toEqual([[carol.userId, "join"]]);
    // Only what changed in the gap: nothing the client already had.
    expect(state.map((e) => e.type).sort()).toEqual(["m.room.member", "m.room.name"]);
  });

  it("[sync: leave] after leaving, the next incremental /sync has the room under rooms.leave with the leave event, once; initial syncs show it only with include_leave; the running client sees 'leave'", async () => {
    const { alice, bob, roomId, raw, before } = await bobJoinsAlicesRoom("Leaving");
    expect(sections(before, roomId)).toEqual(["join"]);

    await bob.client.leave(roomId);
    const after = await sync(raw, { since: before.next_batch, timeout: 5_000 });
    expect(sections(after, roomId)).toEqual(["leave"]);
    const left = after.rooms.leave[roomId]!;
    const leaveEvent = left.timeline.events.at(-1) as IStateEvent;
    expect([leaveEvent.type, leaveEvent.state_key, leaveEvent.sender, leaveEvent.content.membership]).toEqual(["m.room.member", bob.userId, bob.userId, "leave"]);
    expect(left.timeline.events.map(brief)).toEqual(["m.room.member:leave"]);

    // Told once: the next sync (alice still talking in the room) says nothing of it.
    await alice.client.sendMessage(roomId, text("after bob left"));
    const later = await sync(raw, { since: after.next_batch, timeout: 1_000 });
    expect(sections(later, roomId)).toEqual([]);

    // Initial syncs: the left room only with room.include_leave, and then with the leave event.
    expect(sections(await sync(raw), roomId)).toEqual([]);
    const withLeave = await sync(raw, { filter: JSON.stringify({ room: { include_leave: true } }) });
    expect(sections(withLeave, roomId)).toEqual(["leave"]);
    const initialLeft = withLeave.rooms.leave[roomId]!;
    const shown = [...initialLeft.timeline.events, ...(initialLeft.state?.events ?? [])].filter((e) => e.event_id === leaveEvent.event_id);
    expect(shown).toHaveLength(1);
    expect(initialLeft.timeline.events.map(brief)).not.toContain("m.room.message:after bob left");

    await until(() => (bob.client.getRoom(roomId)?.getMyMembership() === "leave" ? true : undefined));
  });

  it.each([
    ["kick", "leave"],
    ["ban", "ban"],
  ] as const)("[sync: leave] after a %s, the user's next incremental /sync has the room under rooms.leave ending at it (sender, reason), nothing after; the running client sees '%s'", async (action, membership) => {
    const { alice, bob, roomId, raw, before } = await bobJoinsAlicesRoom("Kicking");

    const { event_id: last } = await alice.client.sendMessage(roomId, text("before the kick"));
    await (action === "kick" ? alice.client.kick(roomId, bob.userId, "too loud") : alice.client.ban(roomId, bob.userId, "too loud"));
    await alice.client.sendMessage(roomId, text("after the kick"));

    const after = await sync(raw, { since: before.next_batch, timeout: 5_000 });
    expect(sections(after, roomId)).toEqual(["leave"]);
    const events = after.rooms.leave[roomId]!.timeline.events;
    expect(events.map(brief)).toEqual(["m.room.message:before the kick", `m.room.member:${membership}`]);
    expect(events[0]!.event_id).toBe(last);
    const kick = events[1] as IStateEvent;
    expect([kick.sender, kick.state_key, kick.content.reason]).toEqual([alice.userId, bob.userId, "too loud"]);

    await until(() => (bob.client.getRoom(roomId)?.getMyMembership() === membership ? true : undefined));
    const seen = bob.client.getRoom(roomId)!.getLiveTimeline().getEvents().map((e) => e.getContent().body);
    expect(seen).toContain("before the kick");
    expect(seen).not.toContain("after the kick");
  });

  it("[sync: invite] an invited user's /sync has rooms.invite with stripped state: m.room.create, name, join_rules and the invite member event", async () => {
    const alice = await register("alice");
    const bob = await register("bob");
    const { room_id: roomId } = await alice.client.createRoom({ preset: Preset.PrivateChat, name: "Invite party" });
    const before = await sync(bob.client);
    expect(sections(before, roomId)).toEqual([]);

    await alice.client.invite(roomId, bob.userId);
    const incremental = await sync(bob.client, { since: before.next_batch, timeout: 5_000 });
    const initial = await sync(await otherDevice(bob.userId));
    for (const s of [incremental, initial]) {
      expect(sections(s, roomId)).toEqual(["invite"]);
      const stripped = s.rooms.invite[roomId]!.invite_state.events;
      for (const e of stripped) {
        expect([typeof e.type, typeof e.state_key, typeof e.sender, typeof e.content]).toEqual(["string", "string", "string", "object"]);
      }
      const byType = (type: string, stateKey = "") => stripped.filter((e) => e.type === type && e.state_key === stateKey);
      expect(byType("m.room.create").map((e) => e.sender)).toEqual([alice.userId]);
      expect(byType("m.room.name").map((e) => e.content)).toEqual([{ name: "Invite party" }]);
      expect(byType("m.room.join_rules").map((e) => e.content)).toEqual([{ join_rule: "invite" }]);
      expect(byType("m.room.member", bob.userId).map((e) => [e.sender, e.content.membership])).toEqual([[alice.userId, "invite"]]);
    }

    // Joining moves the room to rooms.join, sent whole (the invite, then the join, end its timeline).
    await bob.client.joinRoom(roomId);
    const joined = await sync(bob.client, { since: incremental.next_batch, timeout: 5_000 });
    expect(sections(joined, roomId)).toEqual(["join"]);
    const timeline = joined.rooms.join[roomId]!.timeline.events as IStateEvent[];
    expect(timeline.filter((e) => e.type === "m.room.member" && e.state_key === bob.userId).map((e) => [e.sender, e.content.membership])).toEqual([
      [alice.userId, "invite"],
      [bob.userId, "join"],
    ]);
    expect(timeline.at(-1)?.state_key).toBe(bob.userId);
    const whole = [...(joined.rooms.join[roomId]!.state?.events ?? []), ...timeline];
    expect(whole.filter((e) => e.type === "m.room.create" || e.type === "m.room.name").map((e) => e.type).sort()).toEqual(["m.room.create", "m.room.name"]);
  });

  it("[sync: invite] a rejected invite moves to rooms.leave on the next incremental /sync", async () => {
    const alice = await register("alice");
    const bob = await register("bob");
    const { room_id: roomId } = await alice.client.createRoom({ preset: Preset.PrivateChat, name: "Declined" });
    await alice.client.invite(roomId, bob.userId);
    const invited = await sync(bob.client);
    expect(sections(invited, roomId)).toEqual(["invite"]);

    await bob.client.leave(roomId);
    const after = await sync(bob.client, { since: invited.next_batch, timeout: 5_000 });
    expect(sections(after, roomId)).toEqual(["leave"]);
    const left = after.rooms.leave[roomId]!;
    const mine = [...left.timeline.events, ...(left.state?.events ?? [])].filter((e) => e.type === "m.room.member" && (e as IStateEvent).state_key === bob.userId);
    expect(mine.map((e) => [e.sender, e.content.membership])).toEqual([[bob.userId, "leave"]]);
  });

  it("[sync: filter] a stored filter (filter_id) and the same filter inline select the same rooms and events: rooms/not_rooms, timeline types/not_types, limit", async () => {
    const alice = await register("alice");
    const { room_id: a } = await alice.client.createRoom({ preset: Preset.PublicChat, name: "A" });
    const { room_id: b } = await alice.client.createRoom({ preset: Preset.PublicChat, name: "B" });
    const send = async (roomId: string, what: string) =>
      what.startsWith("x")
        ? (await alice.client.sendEvent(roomId, "org.parley.test" as never, { n: what } as never)).event_id
        : (await alice.client.sendMessage(roomId, text(what))).event_id;
    const ev: Record<string, string> = {};
    for (const [roomId, what] of [[a, "a1"], [a, "xa"], [a, "a2"], [b, "b1"], [b, "x1"], [b, "b2"], [b, "x2"], [b, "x3"], [b, "b3"]] as const) {
      ev[what] = await send(roomId, what);
    }

    const cases: Array<{ def: IFilterDefinition; rooms: Record<string, string[]>; limited?: Record<string, boolean> }> = [
      { def: { room: { rooms: [a], timeline: { types: ["m.room.message"], limit: 10 } } }, rooms: { [a]: ["a1", "a2"] } },
      { def: { room: { not_rooms: [a], timeline: { not_types: ["m.room.message"], limit: 3 } } }, rooms: { [b]: ["x1", "x2", "x3"] }, limited: { [b]: true } },
      { def: { room: { timeline: { limit: 2 } } }, rooms: { [a]: ["xa", "a2"], [b]: ["x3", "b3"] }, limited: { [a]: true, [b]: true } },
      { def: { room: { timeline: { rooms: [b], types: ["org.parley.*"], limit: 10 } } }, rooms: { [a]: [], [b]: ["x1", "x2", "x3"] } },
    ];
    for (const { def, rooms, limited } of cases) {
      const stored = await alice.client.createFilter(def);
      expect(stored.filterId).toEqual(expect.any(String));
      expect((await alice.client.getFilter(alice.userId, stored.filterId!, false)).getDefinition()).toEqual(def);
      for (const filter of [stored.filterId!, JSON.stringify(def)]) {
        const s = await sync(alice.client, { filter });
        const got = Object.fromEntries(Object.entries(s.rooms?.join ?? {}).map(([roomId, r]) => [roomId, ids(r.timeline?.events)]));
        const want = Object.fromEntries(Object.entries(rooms).map(([roomId, names]) => [roomId, names.map((n) => ev[n]!)]));
        expect({ filter: def, got }).toEqual({ filter: def, got: want });
        for (const [roomId, l] of Object.entries(limited ?? {})) expect(s.rooms.join[roomId]!.timeline.limited).toBe(l);
      }
    }

    // Incremental: the stored filter keeps applying to what comes after the token.
    const only = await alice.client.createFilter({ room: { rooms: [a], timeline: { types: ["m.room.message"] } } });
    const first = await sync(alice.client, { filter: only.filterId! });
    await send(b, "b4");
    await send(a, "xb");
    const a3 = await send(a, "a3");
    const next = await sync(alice.client, { since: first.next_batch, filter: only.filterId!, timeout: 5_000 });
    expect(Object.keys(next.rooms?.join ?? {})).toEqual([a]);
    expect(ids(next.rooms.join[a]!.timeline.events)).toEqual([a3]);
  });

  it("[sync: filter] an event in a room the filter drops, or of a type it drops, does not end the long-poll; one it keeps ends it at once", async () => {
    const alice = await register("alice");
    const { room_id: a } = await alice.client.createRoom({ preset: Preset.PublicChat, name: "Watched" });
    const { room_id: b } = await alice.client.createRoom({ preset: Preset.PublicChat, name: "Ignored" });
    const filter = JSON.stringify({ room: { rooms: [a], timeline: { not_types: ["org.parley.test"] } } });
    const first = await sync(alice.client, { filter });

    // Only events the filter leaves out (another room; a dropped type in the watched room):
    // the poll runs to its timeout, empty — the watched room is not listed for its counts alone.
    const t0 = Date.now();
    const quiet = sync(alice.client, { since: first.next_batch, filter, timeout: 2_000 });
    await new Promise((r) => setTimeout(r, 300));
    await alice.client.sendMessage(b, text("elsewhere"));
    await alice.client.setRoomName(b, "Still ignored");
    await alice.client.sendEvent(a, "org.parley.test" as never, { n: "dropped" } as never);
    const empty = await quiet;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_900);
    expect(empty.rooms?.join ?? {}).toEqual({});

    // A kept event ends a 20 s poll as soon as it is sent.
    const poll = sync(alice.client, { since: empty.next_batch, filter, timeout: 20_000 });
    await new Promise((r) => setTimeout(r, 300));
    const t1 = Date.now();
    const { event_id } = await alice.client.sendMessage(a, text("kept"));
    const woke = await poll;
    expect(Date.now() - t1).toBeLessThan(3_000);
    expect(Object.keys(woke.rooms?.join ?? {})).toEqual([a]);
    expect(ids(woke.rooms.join[a]!.timeline.events)).toEqual([event_id]);
  });

  it("[sync: filter] startClient({ filter }) with a Filter object: the client knows only the selected room and none of the excluded event types", async () => {
    const alice = await register("alice");
    const bob = await register("bob");
    const { room_id: a } = await alice.client.createRoom({ preset: Preset.PublicChat, name: "Kept" });
    const { room_id: b } = await alice.client.createRoom({ preset: Preset.PublicChat, name: "Dropped" });
    await bob.client.joinRoom(a);
    await bob.client.joinRoom(b);
    await alice.client.sendMessage(a, text("a-old"));
    await alice.client.sendEvent(a, "org.parley.test" as never, { n: "old" } as never);

    const filter = new Filter(bob.userId);
    filter.setDefinition({ room: { rooms: [a], timeline: { not_types: ["org.parley.test"], limit: 20 } } });
    await start(bob.client, { filter });
    expect(bob.client.getRooms().map((r) => r.roomId)).toEqual([a]);
    const types = () => bob.client.getRoom(a)!.getLiveTimeline().getEvents().map((e) => e.getType());
    expect(types()).not.toContain("org.parley.test");
    expect(bob.client.getRoom(a)!.getLiveTimeline().getEvents().map((e) => e.getContent().body)).toContain("a-old");

    // Live: b's message and a's excluded event never reach the client; a's message does.
    const live = new Promise<void>((resolve) => {
      bob.client.on(RoomEvent.Timeline, (e, room) => {
        if (room?.roomId === a && e.getContent().body === "a-live") resolve();
      });
    });
    await alice.client.sendMessage(b, text("b-live"));
    await alice.client.sendEvent(a, "org.parley.test" as never, { n: "live" } as never);
    await alice.client.sendMessage(a, text("a-live"));
    await live;
    expect(bob.client.getRoom(b)).toBeNull();
    expect(bob.client.getRooms().map((r) => r.roomId)).toEqual([a]);
    expect(types()).not.toContain("org.parley.test");
  });
});
