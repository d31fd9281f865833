// Room tags and the 3PID list end to end: the real server (npm start) driven by
// matrix-js-sdk 37.5.0, every response the SDK receives validated against the spec's OpenAPI.
// https://spec.matrix.org/v1.19/client-server-api/#room-tagging, #adding-account-administrative-contact-information
import { describe, expect, it } from "vitest";
import { Method } from "matrix-js-sdk";
import { errcodeOf, sdkHarness } from "./sdk.ts";

const { register } = sdkHarness();

type SyncBody = {
  next_batch: string;
  rooms?: { join?: Record<string, { account_data?: { events: { type: string; content: unknown }[] } }> };
};

describe("[e2e: tags] matrix-js-sdk against the real server", () => {
  it("[cs: room-tagging] setRoomTag, getRoomTags, deleteRoomTag; the tags are m.tag room account data in /sync", async () => {
    const alice = await register("tags");
    const { room_id: roomId } = await alice.client.createRoom({});
    expect(await alice.client.getRoomTags(roomId)).toEqual({ tags: {} });
    const first = await alice.client.http.authedRequest<SyncBody>(Method.Get, "/sync", { timeout: "0" });

    await alice.client.setRoomTag(roomId, "m.favourite", { order: 0.5 });
    await alice.client.setRoomTag(roomId, "u.work", {});
    expect(await alice.client.getRoomTags(roomId)).toEqual({ tags: { "m.favourite": { order: 0.5 }, "u.work": {} } });

    const path = `/user/${encodeURIComponent(alice.userId)}/rooms/${encodeURIComponent(roomId)}/account_data/m.tag`;
    expect(await alice.client.http.authedRequest(Method.Get, path)).toEqual({ tags: { "m.favourite": { order: 0.5 }, "u.work": {} } });
    const next = await alice.client.http.authedRequest<SyncBody>(Method.Get, "/sync", { since: first.next_batch, timeout: "0" });
    const mTag = next.rooms?.join?.[roomId]?.account_data?.events.find((e) => e.type === "m.tag");
    expect(mTag?.content).toEqual({ tags: { "m.favourite": { order: 0.5 }, "u.work": {} } });

    await alice.client.deleteRoomTag(roomId, "m.favourite");
    expect(await alice.client.getRoomTags(roomId)).toEqual({ tags: { "u.work": {} } });
  });

  it("[cs: room-tagging] an order outside [0,1] is 400 M_INVALID_PARAM and changes nothing", async () => {
    const alice = await register("tags");
    const { room_id: roomId } = await alice.client.createRoom({});
    expect(await errcodeOf(alice.client.setRoomTag(roomId, "u.bad", { order: 2 }))).toEqual([400, "M_INVALID_PARAM"]);
    expect(await alice.client.getRoomTags(roomId)).toEqual({ tags: {} });
  });

  it("[cs: room-tagging] another user's tags are 403 M_FORBIDDEN", async () => {
    const alice = await register("tags");
    const bob = await register("tags");
    const { room_id: roomId } = await alice.client.createRoom({});
    await alice.client.setRoomTag(roomId, "u.mine", {});
    const path = `/user/${encodeURIComponent(alice.userId)}/rooms/${encodeURIComponent(roomId)}/tags`;
    expect(await errcodeOf(bob.client.http.authedRequest(Method.Get, path))).toEqual([403, "M_FORBIDDEN"]);
    expect(await errcodeOf(bob.client.http.authedRequest(Method.Put, `${path}/u.x`, undefined, {}))).toEqual([403, "M_FORBIDDEN"]);
    expect(await errcodeOf(bob.client.http.authedRequest(Method.Delete, `${path}/u.mine`))).toEqual([403, "M_FORBIDDEN"]);
    expect(await alice.client.getRoomTags(roomId)).toEqual({ tags: { "u.mine": {} } });
  });

  it("[cs: 3pid] getThreePids lists none: Parley binds no third-party identifiers", async () => {
    const alice = await register("pid");
    expect(await alice.client.getThreePids()).toEqual({ threepids: [] });
  });
});
