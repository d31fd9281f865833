// Room tags and the 3PID list through the edge Worker (SELF.fetch), inside workerd.
// https://spec.matrix.org/v1.19/client-server-api/#room-tagging
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { createRoom, enc, newUser, V3, type TestUser } from "./room-helpers.ts";

const tagsPath = (u: TestUser, roomId: string, tag?: string) =>
  `${V3}/user/${enc(u.userId)}/rooms/${enc(roomId)}/tags${tag === undefined ? "" : `/${enc(tag)}`}`;

type RoomSync = { account_data?: { events: { type: string; content: JsonObject }[] } };
type Sync = JsonObject & { next_batch: string; rooms?: { join?: Record<string, RoomSync> } };

async function sync(u: TestUser, since?: string): Promise<Sync> {
  const q = since === undefined ? "" : `?since=${enc(since)}&timeout=0`;
  return (await u.ok("GET", `${V3}/sync${q}`)) as Sync;
}

const mTag = (s: Sync, roomId: string) =>
  s.rooms?.join?.[roomId]?.account_data?.events.find((e) => e.type === "m.tag")?.content;

describe("[cs: room-tagging] tags endpoints", () => {
  it("[cs: room-tagging] put, list, replace, delete; a room with no tags lists {}", async () => {
    const u = await newUser("tag");
    const room = await createRoom(u);
    expect(await u.ok("GET", tagsPath(u, room))).toEqual({ tags: {} });
    expect(await u.ok("PUT", tagsPath(u, room, "u.work"), { order: 0.25 })).toEqual({});
    expect(await u.ok("PUT", tagsPath(u, room, "m.favourite"), {})).toEqual({});
    expect(await u.ok("GET", tagsPath(u, room))).toEqual({ tags: { "u.work": { order: 0.25 }, "m.favourite": {} } });
    // A second PUT replaces the tag's content.
    await u.ok("PUT", tagsPath(u, room, "u.work"), { order: 1 });
    expect((await u.ok("GET", tagsPath(u, room))).tags).toEqual({ "u.work": { order: 1 }, "m.favourite": {} });
    expect(await u.ok("DELETE", tagsPath(u, room, "u.work"))).toEqual({});
    expect(await u.ok("GET", tagsPath(u, room))).toEqual({ tags: { "m.favourite": {} } });
    // Deleting a tag that is not there succeeds and changes nothing.
    expect(await u.ok("DELETE", tagsPath(u, room, "u.none"))).toEqual({});
    expect(await u.ok("GET", tagsPath(u, room))).toEqual({ tags: { "m.favourite": {} } });
  });

  it("[cs: room-tagging] tags are per room", async () => {
    const u = await newUser("tag");
    const [a, b] = [await createRoom(u), await createRoom(u)];
    await u.ok("PUT", tagsPath(u, a, "u.only-a"), { order: 0.5 });
    expect(await u.ok("GET", tagsPath(u, b))).toEqual({ tags: {} });
    expect(await u.ok("GET", tagsPath(u, a))).toEqual({ tags: { "u.only-a": { order: 0.5 } } });
  });

  it("[cs: room-tagging] order must be a number in [0,1]", async () => {
    const u = await newUser("tag");
    const room = await createRoom(u);
    for (const order of [-0.01, 1.5, "0.5", null, true]) {
      const r = await u.call("PUT", tagsPath(u, room, "u.bad"), { order });
      expect(r.status, JSON.stringify(order)).toBe(400);
      expect(r.body.errcode).toBe("M_INVALID_PARAM");
    }
    expect(await u.ok("GET", tagsPath(u, room))).toEqual({ tags: {} });
    // The bounds themselves are in range.
    await u.ok("PUT", tagsPath(u, room, "u.zero"), { order: 0 });
    await u.ok("PUT", tagsPath(u, room, "u.one"), { order: 1 });
    expect(Object.keys((await u.ok("GET", tagsPath(u, room))).tags as JsonObject).sort()).toEqual(["u.one", "u.zero"]);
  });

  it("[cs: room-tagging] tag names are at most 255 bytes; bodies must be JSON objects", async () => {
    const u = await newUser("tag");
    const room = await createRoom(u);
    await u.ok("PUT", tagsPath(u, room, "u." + "x".repeat(253)), {});
    // 254 ASCII + one two-byte character: 256 bytes in 255 characters.
    const long = await u.call("PUT", tagsPath(u, room, "u." + "x".repeat(252) + "é"), {});
    expect(long.status).toBe(400);
    expect(long.body.errcode).toBe("M_INVALID_PARAM");
    const notObject = await u.call("PUT", tagsPath(u, room, "u.arr"), [1]);
    expect(notObject.status).toBe(400);
    expect(notObject.body.errcode).toBe("M_BAD_JSON");
    expect(Object.keys((await u.ok("GET", tagsPath(u, room))).tags as JsonObject)).toEqual(["u." + "x".repeat(253)]);
  });

  it("[cs: room-tagging] another user's tags are forbidden (403 M_FORBIDDEN); no token is 401", async () => {
    const alice = await newUser("tag");
    const bob = await newUser("tag");
    const room = await createRoom(alice);
    await alice.ok("PUT", tagsPath(alice, room, "u.mine"), {});
    for (const [method, tag] of [["GET", undefined], ["PUT", "u.x"], ["DELETE", "u.mine"]] as const) {
      const r = await bob.call(method, tagsPath(alice, room, tag), method === "PUT" ? {} : undefined);
      expect(r.status, method).toBe(403);
      expect(r.body.errcode).toBe("M_FORBIDDEN");
    }
    expect(await alice.ok("GET", tagsPath(alice, room))).toEqual({ tags: { "u.mine": {} } });
    const anon = await fetchNoAuth(tagsPath(alice, room));
    expect(anon.status).toBe(401);
  });

  it("[cs: room-tagging] an invalid room ID is 400 M_INVALID_PARAM", async () => {
    const u = await newUser("tag");
    const r = await u.call("PUT", tagsPath(u, "not-a-room", "u.x"), {});
    expect(r.status).toBe(400);
    expect(r.body.errcode).toBe("M_INVALID_PARAM");
  });
});

describe("[cs: room-tagging] tags are the m.tag room account data", () => {
  it("[cs: room-tagging] a tag appears as m.tag through the account_data API and in /sync", async () => {
    const u = await newUser("tag");
    const room = await createRoom(u);
    const first = await sync(u);
    await u.ok("PUT", tagsPath(u, room, "u.work"), { order: 0.5 });
    expect(await u.ok("GET", `${V3}/user/${enc(u.userId)}/rooms/${enc(room)}/account_data/m.tag`)).toEqual({
      tags: { "u.work": { order: 0.5 } },
    });
    const next = await sync(u, first.next_batch);
    expect(mTag(next, room)).toEqual({ tags: { "u.work": { order: 0.5 } } });
    await u.ok("DELETE", tagsPath(u, room, "u.work"));
    const after = await sync(u, next.next_batch);
    expect(mTag(after, room)).toEqual({ tags: {} });
  });

  it("[cs: room-tagging] m.tag written through the account_data API is what the tags API lists", async () => {
    const u = await newUser("tag");
    const room = await createRoom(u);
    await u.ok("PUT", `${V3}/user/${enc(u.userId)}/rooms/${enc(room)}/account_data/m.tag`, { tags: { "m.lowpriority": { order: 0.1 } } });
    expect(await u.ok("GET", tagsPath(u, room))).toEqual({ tags: { "m.lowpriority": { order: 0.1 } } });
    await u.ok("PUT", tagsPath(u, room, "u.two"), {});
    expect((await u.ok("GET", tagsPath(u, room))).tags).toEqual({ "m.lowpriority": { order: 0.1 }, "u.two": {} });
  });
});

describe("[cs: 3pid] account third-party identifiers", () => {
  it("[cs: 3pid] GET /account/3pid lists none: Parley binds no third-party identifiers", async () => {
    const u = await newUser("pid");
    expect(await u.ok("GET", `${V3}/account/3pid`)).toEqual({ threepids: [] });
    expect((await fetchNoAuth(`${V3}/account/3pid`)).status).toBe(401);
  });
  // Adding, binding and unbinding: tests/workers/threepid.test.ts.
});

async function fetchNoAuth(path: string): Promise<Response> {
  const { SELF } = await import("cloudflare:test");
  const res = await SELF.fetch("http://127.0.0.1:8787" + path);
  await res.arrayBuffer();
  return res;
}
