// VoIP, reporting, whois, spaces, room summaries, mutual rooms, OpenID and search end to end:
// the real server (npm start) driven by matrix-js-sdk 37.5.0, every response validated
// against the spec's OpenAPI (except /voip/turnServer's `{}`, see below).
import { describe, expect, inject, it } from "vitest";
import { ClientPrefix, type MatrixClient, Method } from "matrix-js-sdk";
import { errcodeOf, sdkHarness } from "./sdk.ts";

const { register, client } = sdkHarness({ ignoredErrors: ["Error"] });

const v1 = { prefix: ClientPrefix.V1 } as Parameters<MatrixClient["http"]["authedRequest"]>[4];

describe("[e2e: client extras] matrix-js-sdk against the real server", () => {
  it("[cs: voip] turnServer with no TURN configured answers {} (as Synapse), which the SDK accepts", async () => {
    const alice = await register("voip");
    // The spec's schema requires the credential fields; `{}` is the de facto "no TURN" answer
    // Synapse gives and matrix-js-sdk understands, so this one response is not validated.
    const plain = client({ validating: false, accessToken: alice.client.getAccessToken()!, userId: alice.userId });
    expect(await plain.http.authedRequest(Method.Get, "/voip/turnServer")).toEqual({});
    await plain.checkTurnServers();
    expect(plain.getTurnServers()).toEqual([]);
  });

  it("[cs: reporting-content] reportEvent (SDK), report a room and a user", async () => {
    const alice = await register("rep");
    const bob = await register("rep");
    const { room_id: roomId } = await alice.client.createRoom({ preset: "public_chat" as never });
    await bob.client.joinRoom(roomId);
    const { event_id: eventId } = await alice.client.sendTextMessage(roomId, "offensive");
    expect(await bob.client.reportEvent(roomId, eventId, -100, "spam")).toEqual({});
    expect(await bob.client.http.authedRequest(Method.Post, `/rooms/${encodeURIComponent(roomId)}/report`, undefined, { reason: "bad room" })).toEqual({});
    expect(await bob.client.http.authedRequest(Method.Post, `/users/${encodeURIComponent(alice.userId)}/report`, undefined, { reason: "bad user" })).toEqual({});
    const outsider = await register("rep");
    expect(await errcodeOf(outsider.client.reportEvent(roomId, eventId, 0, "x"))).toEqual([404, "M_NOT_FOUND"]);
  });

  it("[cs: admin whois] a user looks themself up; another user is 403", async () => {
    const alice = await register("whois");
    const bob = await register("whois");
    const me = await alice.client.http.authedRequest<{ user_id: string; devices: Record<string, unknown> }>(Method.Get, `/admin/whois/${encodeURIComponent(alice.userId)}`);
    expect(me.user_id).toBe(alice.userId);
    expect(Object.keys(me.devices)).toEqual([alice.client.getDeviceId()]);
    expect(await errcodeOf(alice.client.http.authedRequest(Method.Get, `/admin/whois/${encodeURIComponent(bob.userId)}`))).toEqual([403, "M_FORBIDDEN"]);
  });

  it("[cs: spaces] getRoomHierarchy pages through a space; room_summary and mutual_rooms", async () => {
    const alice = await register("space");
    const bob = await register("space");
    const server = alice.userId.slice(alice.userId.indexOf(":") + 1);
    const { room_id: space } = await alice.client.createRoom({ preset: "public_chat" as never, name: "Space", creation_content: { type: "m.space" } });
    const children: string[] = [];
    for (const name of ["one", "two", "three"]) {
      const { room_id } = await alice.client.createRoom({ preset: "public_chat" as never, name });
      await alice.client.sendStateEvent(space, "m.space.child" as never, { via: [server], order: name } as never, room_id);
      children.push(room_id);
    }
    await bob.client.joinRoom(space);
    const first = await bob.client.getRoomHierarchy(space, 2);
    // Children in `order` order: "one" < "three" < "two".
    expect(first.rooms.map((r) => r.room_id)).toEqual([space, children[0]]);
    expect(first.rooms[0]!.children_state.length).toBe(3);
    const second = await bob.client.getRoomHierarchy(space, 2, undefined, undefined, first.next_batch);
    expect(second.rooms.map((r) => r.room_id)).toEqual([children[2], children[1]]);
    expect(second.next_batch).toBeUndefined();

    const summary = await bob.client.http.authedRequest<{ room_id: string; membership: string; room_type: string }>(Method.Get, `/room_summary/${encodeURIComponent(space)}`, undefined, undefined, v1);
    expect(summary).toMatchObject({ room_id: space, membership: "join", room_type: "m.space" });

    const mutual = await bob.client.http.authedRequest<{ joined: string[]; count: number }>(Method.Get, "/mutual_rooms", { user_id: alice.userId }, undefined, v1);
    expect(mutual).toEqual({ joined: [space], count: 1 });
  });

  it("[cs: openid] getOpenIdToken, exchanged at the federation userinfo endpoint", async () => {
    const alice = await register("oid");
    const token = await alice.client.getOpenIdToken();
    expect(token.token_type).toBe("Bearer");
    const res = await fetch(`${inject("baseUrl")}/_matrix/federation/v1/openid/userinfo?access_token=${encodeURIComponent(token.access_token)}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ sub: alice.userId });
  });

  it("[cs: server-side search] searchRoomEvents finds messages in joined rooms with context", async () => {
    const alice = await register("search");
    const { room_id: roomId } = await alice.client.createRoom({});
    await alice.client.sendTextMessage(roomId, "before");
    await alice.client.sendTextMessage(roomId, "the platypus is here");
    await alice.client.sendTextMessage(roomId, "after");
    const res = await alice.client.searchRoomEvents({ term: "platypus" });
    expect(res.count).toBe(1);
    expect(res.highlights).toEqual(["platypus"]);
    expect(res.results.length).toBe(1);
    expect(res.results[0]!.context.getEvent().getContent().body).toBe("the platypus is here");
    expect(res.results[0]!.context.getTimeline().map((e) => e.getContent().body)).toEqual(["before", "the platypus is here", "after"]);
  });
});
