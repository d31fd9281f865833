// The deprecated pre-/sync reads: /initialSync, /events, /events/{eventId}, /rooms/{roomId}/initialSync.
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3initialsync
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { call, createRoom, enc, expectError, newUser, roomPath, sendMessage, V3 } from "./room-helpers.ts";

describe("[cs: initialSync] GET /initialSync (deprecated)", () => {
  it("[cs: initialSync] each joined room with its current state, at most `limit` newest messages oldest first with room_id, and an `end` token", async () => {
    const u = await newUser("ls");
    const roomId = await createRoom(u, { name: "legacy" });
    for (const body of ["one", "two", "three"]) await sendMessage(u, roomId, body);
    await u.ok("PUT", roomPath(roomId, "state/m.room.topic"), { topic: "newest topic" });
    const res = await u.ok("GET", `${V3}/initialSync?limit=2`);
    expect(typeof res.end).toBe("string");
    const room = (res.rooms as JsonObject[]).find((x) => x.room_id === roomId)!;
    expect(room.membership).toBe("join");
    const messages = room.messages as { chunk: JsonObject[]; start: string; end: string };
    expect(messages.chunk).toHaveLength(2);
    expect(messages.chunk.map((e) => e.type)).toEqual(["m.room.message", "m.room.topic"]);
    expect(messages.chunk.every((e) => e.room_id === roomId)).toBe(true);
    expect(messages.end).toBe(res.end);
    // The state is the current one: it includes the topic sent last (inside the timeline).
    const state = room.state as JsonObject[];
    expect(state.find((e) => e.type === "m.room.topic")?.content).toEqual({ topic: "newest topic" });
    expect(state.find((e) => e.type === "m.room.name")?.content).toEqual({ name: "legacy" });
    // The start token pages further back through /messages.
    const older = await u.ok("GET", roomPath(roomId, `messages?dir=b&from=${enc(messages.start)}&limit=1`));
    expect((older.chunk as JsonObject[])[0]!.content).toEqual({ msgtype: "m.text", body: "two" });
  });

  it("[cs: initialSync] invites are listed with membership invite; left rooms only with archived=true; bad limit 400 M_INVALID_PARAM", async () => {
    const u = await newUser("ls");
    const v = await newUser("ls");
    const invited = await createRoom(u);
    await u.ok("POST", roomPath(invited, "invite"), { user_id: v.userId });
    const left = await createRoom(v);
    await v.ok("POST", roomPath(left, "leave"), {});
    const plain = (await v.ok("GET", `${V3}/initialSync`)).rooms as JsonObject[];
    expect(plain.find((x) => x.room_id === invited)?.membership).toBe("invite");
    expect(plain.find((x) => x.room_id === left)).toBeUndefined();
    const archived = (await v.ok("GET", `${V3}/initialSync?archived=true`)).rooms as JsonObject[];
    expect(archived.find((x) => x.room_id === left)?.membership).toBe("leave");
    expectError(await v.call("GET", `${V3}/initialSync?limit=-1`), 400, "M_INVALID_PARAM");
    expectError(await v.call("GET", `${V3}/initialSync?archived=yes`), 400, "M_INVALID_PARAM");
    expectError(await call("GET", `${V3}/initialSync`), 401, "M_MISSING_TOKEN");
  });
});

describe("[cs: events] GET /events (deprecated event stream)", () => {
  it("[cs: events] from the initialSync `end`: the new events with room_id, and an `end` to continue from; nothing new → empty chunk after timeout", async () => {
    const u = await newUser("ls");
    const roomId = await createRoom(u);
    const end = (await u.ok("GET", `${V3}/initialSync?limit=1`)).end as string;
    const sent = (await sendMessage(u, roomId, "after")).body.event_id as string;
    const page = await u.ok("GET", `${V3}/events?from=${enc(end)}&timeout=0`);
    expect(page.start).toBe(end);
    const chunk = page.chunk as JsonObject[];
    expect(chunk.map((e) => e.event_id)).toEqual([sent]);
    expect(chunk[0]!.room_id).toBe(roomId);
    const next = await u.ok("GET", `${V3}/events?from=${enc(page.end as string)}&timeout=50`);
    expect(next.chunk).toEqual([]);
  });

  it("[cs: events] a waiting /events is woken by a new event; without `from` it starts from now", async () => {
    const u = await newUser("ls");
    const roomId = await createRoom(u);
    await sendMessage(u, roomId, "old");
    const waiting = u.call("GET", `${V3}/events?timeout=5000`);
    await new Promise((r) => setTimeout(r, 200));
    const sent = (await sendMessage(u, roomId, "new")).body.event_id as string;
    const res = await waiting;
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect((res.body.chunk as JsonObject[]).map((e) => e.event_id)).toEqual([sent]);
  });

  it("[cs: events] bad timeout or room_id 400 M_INVALID_PARAM; room_id of a room not joined 403 (no peeking); a bad from token is refused with 400", async () => {
    const u = await newUser("ls");
    expectError(await u.call("GET", `${V3}/events?timeout=soon`), 400, "M_INVALID_PARAM");
    expectError(await u.call("GET", `${V3}/events?room_id=nope`), 400, "M_INVALID_PARAM");
    // room_id narrows to one joined room; peeking into another room through /events is refused.
    const mine = await createRoom(u);
    const other = await newUser("ls");
    const theirs = await createRoom(other, { preset: "public_chat" });
    const end = (await u.ok("GET", `${V3}/initialSync?limit=1`)).end as string;
    await sendMessage(u, mine, "only this");
    const narrowed = await u.ok("GET", `${V3}/events?from=${enc(end)}&room_id=${enc(mine)}&timeout=0`);
    expect((narrowed.chunk as JsonObject[]).map((e) => e.room_id)).toEqual([mine]);
    expectError(await u.call("GET", `${V3}/events?room_id=${enc(theirs)}&timeout=0`), 403, "M_FORBIDDEN");
    const bad = await u.call("GET", `${V3}/events?from=garbage&timeout=0`);
    expect(bad.status).toBe(400);
  });
});

describe("[cs: events/{eventId}] GET /events/{eventId} (deprecated)", () => {
  it("[cs: events/{eventId}] an event in one of the user's rooms, with room_id; another user's room or an unknown event: 404 M_NOT_FOUND", async () => {
    const u = await newUser("ls");
    const v = await newUser("ls");
    await createRoom(u);
    const roomId = await createRoom(u);
    const eventId = (await sendMessage(u, roomId, "find me")).body.event_id as string;
    const got = await u.ok("GET", `${V3}/events/${enc(eventId)}`);
    expect(got.event_id).toBe(eventId);
    expect(got.room_id).toBe(roomId);
    expect(got.content).toEqual({ msgtype: "m.text", body: "find me" });
    expectError(await v.call("GET", `${V3}/events/${enc(eventId)}`), 404, "M_NOT_FOUND");
    expectError(await u.call("GET", `${V3}/events/${enc("$" + "A".repeat(43))}`), 404, "M_NOT_FOUND");
    expectError(await u.call("GET", `${V3}/events/not-an-event`), 400, "M_INVALID_PARAM");
  });
});

describe("[cs: rooms/initialSync] GET /rooms/{roomId}/initialSync", () => {
  it("[cs: rooms/initialSync] a member gets membership, current state and the newest messages oldest first", async () => {
    const u = await newUser("ls");
    const roomId = await createRoom(u, { name: "peek" });
    for (const body of ["a", "b", "c"]) await sendMessage(u, roomId, body);
    const res = await u.ok("GET", roomPath(roomId, "initialSync?limit=2"));
    expect(res.room_id).toBe(roomId);
    expect(res.membership).toBe("join");
    const m = res.messages as { chunk: JsonObject[]; start: string; end: string };
    expect(m.chunk.map((e) => (e.content as JsonObject).body)).toEqual(["b", "c"]);
    expect(m.chunk.every((e) => e.room_id === roomId)).toBe(true);
    const back = await u.ok("GET", roomPath(roomId, `messages?dir=b&from=${enc(m.start)}&limit=1`));
    expect(((back.chunk as JsonObject[])[0]!.content as JsonObject).body).toBe("a");
    expect((res.state as JsonObject[]).find((e) => e.type === "m.room.name")?.content).toEqual({ name: "peek" });
  });

  it("[cs: rooms/initialSync] peeking: a world-readable room answers a non-member; a private one is 403 M_FORBIDDEN", async () => {
    const u = await newUser("ls");
    const v = await newUser("ls");
    const open = await createRoom(u, { preset: "public_chat", initial_state: [{ type: "m.room.history_visibility", state_key: "", content: { history_visibility: "world_readable" } }] });
    await sendMessage(u, open, "public words");
    const peek = await v.ok("GET", roomPath(open, "initialSync"));
    expect(peek.membership).toBeUndefined();
    expect(((peek.messages as { chunk: JsonObject[] }).chunk.at(-1)!.content as JsonObject).body).toBe("public words");
    const closed = await createRoom(u);
    expectError(await v.call("GET", roomPath(closed, "initialSync")), 403, "M_FORBIDDEN");
    expectError(await v.call("GET", roomPath("not-a-room", "initialSync")), 400, "M_INVALID_PARAM");
  });
});
