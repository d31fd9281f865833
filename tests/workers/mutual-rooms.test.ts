// GET /mutual_rooms through the edge Worker, inside workerd.
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv1mutual_rooms
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { router } from "../../party/edge/index.ts";
import { BASE, call, createRoom, enc, expectError, newUser, roomPath, SERVER_NAME, type TestUser } from "./room-helpers.ts";

const mutual = (userId: string, from?: string) => `/_matrix/client/v1/mutual_rooms?user_id=${enc(userId)}${from === undefined ? "" : `&from=${enc(from)}`}`;

async function withPageSize(u: TestUser, path: string, size: number): Promise<JsonObject> {
  const ctx = createExecutionContext();
  const res = await router.handle(new Request(BASE + path, { headers: { Authorization: `Bearer ${u.token}` } }), { ...env, MUTUAL_ROOMS_PAGE_SIZE: String(size) }, ctx);
  await waitOnExecutionContext(ctx);
  expect(res.status).toBe(200);
  return res.json<JsonObject>();
}

describe("[cs: mutual rooms] GET /mutual_rooms", () => {
  it("[cs: mutual rooms] rooms where both are joined (not invited, not left), with count; unknown users have none", async () => {
    const alice = await newUser("mut");
    const bob = await newUser("mut");
    const shared1 = await createRoom(alice, { preset: "public_chat" });
    const shared2 = await createRoom(alice, { preset: "public_chat" });
    const left = await createRoom(alice, { preset: "public_chat" });
    const invitedOnly = await createRoom(alice);
    await createRoom(alice); // alice alone
    for (const r of [shared1, shared2, left]) await bob.ok("POST", roomPath(r, "join"), {});
    await bob.ok("POST", roomPath(left, "leave"), {});
    await alice.ok("POST", roomPath(invitedOnly, "invite"), { user_id: bob.userId });
    const res = await alice.ok("GET", mutual(bob.userId));
    expect(res).toEqual({ joined: [shared1, shared2].sort(), count: 2 });
    // Symmetric.
    expect(await bob.ok("GET", mutual(alice.userId))).toEqual(res);
    expect(await alice.ok("GET", mutual(`@nobody-${Date.now()}:${SERVER_NAME}`))).toEqual({ joined: [], count: 0 });
    expect(await alice.ok("GET", mutual("@someone:elsewhere.example"))).toEqual({ joined: [], count: 0 });
  });

  it("[cs: mutual rooms] pages of MUTUAL_ROOMS_PAGE_SIZE with next_batch; count is the total", async () => {
    const alice = await newUser("mut");
    const bob = await newUser("mut");
    const rooms: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await createRoom(alice, { preset: "public_chat" });
      await bob.ok("POST", roomPath(r, "join"), {});
      rooms.push(r);
    }
    rooms.sort();
    const p1 = await withPageSize(alice, mutual(bob.userId), 2);
    expect(p1).toEqual({ joined: rooms.slice(0, 2), count: 5, next_batch: expect.any(String) });
    const p2 = await withPageSize(alice, mutual(bob.userId, p1.next_batch as string), 2);
    expect(p2).toEqual({ joined: rooms.slice(2, 4), count: 5, next_batch: expect.any(String) });
    const p3 = await withPageSize(alice, mutual(bob.userId, p2.next_batch as string), 2);
    expect(p3).toEqual({ joined: rooms.slice(4), count: 5 });
  });

  it("[cs: mutual rooms] user_id missing 400 M_MISSING_PARAM; invalid or own ID, or a bad from token, 400 M_INVALID_PARAM", async () => {
    const alice = await newUser("mut");
    expectError(await alice.call("GET", "/_matrix/client/v1/mutual_rooms"), 400, "M_MISSING_PARAM");
    expectError(await alice.call("GET", mutual("not-a-user")), 400, "M_INVALID_PARAM");
    expectError(await alice.call("GET", mutual(alice.userId)), 400, "M_INVALID_PARAM");
    expectError(await alice.call("GET", mutual(`@x:${SERVER_NAME}`, "bogus")), 400, "M_INVALID_PARAM");
    expectError(await call("GET", mutual(alice.userId)), 401, "M_MISSING_TOKEN");
  });
});
