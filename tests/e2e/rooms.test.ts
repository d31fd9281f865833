// Rooms end to end: the real server (npm start) driven by matrix-js-sdk 37.5.0 — two
// users create a room, invite, join, send, read state and events, redact, leave — with
// every response the SDK receives validated against the spec's OpenAPI.
import { describe, expect, it } from "vitest";
import { MsgType, Preset, Visibility } from "matrix-js-sdk";
import { errcodeOf, sdkHarness } from "./sdk.ts";

const { register } = sdkHarness({ ignoredErrors: ["Error sending event"] });

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
