// Room upgrades end to end: the real server (npm start) driven by matrix-js-sdk 37.5.0 —
// alice upgrades a v11 room to v12 with client.upgradeRoom, bob follows the tombstone —
// with every response the SDK receives validated against the spec's OpenAPI.
// https://spec.matrix.org/v1.19/client-server-api/#room-upgrades
import { describe, expect, it } from "vitest";
import { MsgType, Preset } from "matrix-js-sdk";
import { errcodeOf, sdkHarness } from "./sdk.ts";

const { register } = sdkHarness({ ignoredErrors: ["Error sending event"] });

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
