// Account locking and suspension through the edge Worker, inside workerd.
// https://spec.matrix.org/v1.19/client-server-api/#account-locking
// https://spec.matrix.org/v1.19/client-server-api/#account-suspension
import { describe, expect, it } from "vitest";
import { registrationMac } from "../../party/edge/admin.ts";
import { call, createRoom, enc, expectError, newUser, roomPath, SERVER_NAME, V3, type TestUser } from "./room-helpers.ts";

const V1 = "/_matrix/client/v1";
const lockPath = (userId: string) => `${V1}/admin/lock/${enc(userId)}`;
const suspendPath = (userId: string) => `${V1}/admin/suspend/${enc(userId)}`;

/** An admin made through the shared-secret endpoint (the secret vitest.config.ts binds). */
async function newAdmin(): Promise<{ userId: string; token: string }> {
  const username = `modop${Math.floor(Math.random() * 1e9)}`;
  const nonce = (await call("GET", "/_synapse/admin/v1/register")).body.nonce as string;
  const mac = await registrationMac("test-shared-secret", { nonce, username, password: "pw-pw-pw", admin: true });
  const r = await call("POST", "/_synapse/admin/v1/register", { nonce, username, password: "pw-pw-pw", admin: true, mac });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return { userId: r.body.user_id as string, token: r.body.access_token as string };
}

describe("[cs: admin lock/suspend] the admin API", () => {
  it("[cs: admin lock/suspend] non-admins get 403 M_FORBIDDEN before any lookup (same answer for existing and unknown users)", async () => {
    const u = await newUser("mod");
    const v = await newUser("mod");
    for (const path of [lockPath(v.userId), suspendPath(v.userId), lockPath(`@nobody${Date.now()}:${SERVER_NAME}`)]) {
      expectError(await u.call("GET", path), 403, "M_FORBIDDEN");
    }
    expectError(await u.call("PUT", lockPath(v.userId), { locked: true }), 403, "M_FORBIDDEN");
    expectError(await u.call("PUT", suspendPath(v.userId), { suspended: true }), 403, "M_FORBIDDEN");
    expectError(await call("GET", lockPath(v.userId)), 401, "M_MISSING_TOKEN");
    // Nothing changed.
    expect((await v.call("GET", `${V3}/account/whoami`)).status).toBe(200);
  });

  it("[cs: admin lock/suspend] remote or malformed user 400 M_INVALID_PARAM; unknown user 404 M_NOT_FOUND; another admin 403; bad body M_BAD_JSON / M_MISSING_PARAM", async () => {
    const admin = await newAdmin();
    const other = await newAdmin();
    const u = await newUser("mod");
    const as = (method: string, path: string, body?: unknown) => call(method, path, body, admin.token);
    expectError(await as("GET", lockPath("@alice:elsewhere.example")), 400, "M_INVALID_PARAM");
    expectError(await as("GET", suspendPath("not-a-user")), 400, "M_INVALID_PARAM");
    expectError(await as("GET", lockPath(`@nobody${Date.now()}:${SERVER_NAME}`)), 404, "M_NOT_FOUND");
    expectError(await as("PUT", suspendPath(`@nobody${Date.now()}:${SERVER_NAME}`), { suspended: true }), 404, "M_NOT_FOUND");
    expectError(await as("PUT", lockPath(other.userId), { locked: true }), 403, "M_FORBIDDEN");
    expectError(await as("GET", suspendPath(other.userId)), 403, "M_FORBIDDEN");
    expectError(await as("PUT", lockPath(admin.userId), { locked: true }), 403, "M_FORBIDDEN");
    expectError(await as("PUT", lockPath(u.userId), {}), 400, "M_MISSING_PARAM");
    expectError(await as("PUT", lockPath(u.userId), { locked: "yes" }), 400, "M_BAD_JSON");
    expectError(await as("PUT", suspendPath(u.userId), { locked: true }), 400, "M_MISSING_PARAM");
    expect((await as("GET", lockPath(u.userId))).body).toEqual({ locked: false });
    expect((await as("GET", suspendPath(u.userId))).body).toEqual({ suspended: false });
  });

  it("[cs: capabilities] m.account_moderation is offered to server admins only (omitted when both would be false)", async () => {
    const admin = await newAdmin();
    const u = await newUser("mod");
    const caps = (await call("GET", `${V3}/capabilities`, undefined, admin.token)).body.capabilities as Record<string, unknown>;
    expect(caps["m.account_moderation"]).toEqual({ lock: true, suspend: true });
    const mine = (await u.ok("GET", `${V3}/capabilities`)).capabilities as Record<string, unknown>;
    expect(mine["m.account_moderation"]).toBeUndefined();
  });
});

describe("[cs: account locking] a locked account", () => {
  it("[cs: account locking] every request fails 401 M_USER_LOCKED with soft_logout true, at once after the lock; unlocking restores the same token", async () => {
    const admin = await newAdmin();
    const u = await newUser("mod");
    // Warm the edge's session cache first: the lock must not wait for it to expire.
    expect((await u.call("GET", `${V3}/account/whoami`)).status).toBe(200);
    expect((await call("PUT", lockPath(u.userId), { locked: true }, admin.token)).body).toEqual({ locked: true });
    expect((await call("GET", lockPath(u.userId), undefined, admin.token)).body).toEqual({ locked: true });
    for (const [method, path] of [
      ["GET", `${V3}/account/whoami`],
      ["GET", `${V3}/sync?timeout=0`],
      ["GET", `${V3}/joined_rooms`],
      ["POST", `${V3}/createRoom`],
    ] as const) {
      const r = await u.call(method, path, method === "POST" ? {} : undefined);
      expectError(r, 401, "M_USER_LOCKED");
      expect(r.body.soft_logout, path).toBe(true);
    }
    expect((await call("PUT", lockPath(u.userId), { locked: false }, admin.token)).body).toEqual({ locked: false });
    expect((await u.ok("GET", `${V3}/account/whoami`)).user_id).toBe(u.userId);
  });

  it("[cs: account locking] a locked user may still log out (POST /logout)", async () => {
    const admin = await newAdmin();
    const u = await newUser("mod");
    await call("PUT", lockPath(u.userId), { locked: true }, admin.token);
    expect((await u.call("POST", `${V3}/logout`, {})).status).toBe(200);
    // The token is gone now, not merely locked.
    expectError(await u.call("GET", `${V3}/account/whoami`), 401, "M_UNKNOWN_TOKEN");
  });
});

describe("[cs: account suspension] a suspended account is read-only", () => {
  async function suspended(): Promise<{ u: TestUser; roomId: string; eventId: string; admin: { userId: string; token: string } }> {
    const admin = await newAdmin();
    const u = await newUser("mod");
    const roomId = await createRoom(u, { preset: "public_chat" });
    const eventId = (await u.ok("PUT", roomPath(roomId, "send/m.room.message/t1"), { msgtype: "m.text", body: "before" })).event_id as string;
    await u.ok("GET", `${V3}/account/whoami`); // warm the cache
    expect((await call("PUT", suspendPath(u.userId), { suspended: true }, admin.token)).body).toEqual({ suspended: true });
    return { u, roomId, eventId, admin };
  }

  it("[cs: account suspension] sending messages and state, creating/joining/inviting, profile changes, uploads: 403 M_USER_SUSPENDED", async () => {
    const { u, roomId } = await suspended();
    const other = await newUser("mod");
    const otherRoom = await createRoom(other, { preset: "public_chat" });
    const refused: Array<[string, string, unknown]> = [
      ["PUT", roomPath(roomId, "send/m.room.message/t2"), { msgtype: "m.text", body: "after" }],
      ["PUT", roomPath(roomId, "state/m.room.topic"), { topic: "t" }],
      ["PUT", roomPath(roomId, "state/m.room.topic/"), { topic: "t" }],
      ["POST", `${V3}/createRoom`, {}],
      ["POST", `${V3}/join/${enc(otherRoom)}`, {}],
      ["POST", roomPath(otherRoom, "join"), {}],
      ["POST", `${V3}/knock/${enc(otherRoom)}`, {}],
      ["POST", roomPath(roomId, "invite"), { user_id: other.userId }],
      ["POST", roomPath(roomId, "ban"), { user_id: other.userId }],
      ["PUT", `${V3}/profile/${enc(u.userId)}/displayname`, { displayname: "x" }],
      ["DELETE", `${V3}/profile/${enc(u.userId)}/avatar_url`, undefined],
      ["PUT", `${V3}/directory/room/${enc(`#sus${Date.now()}:${SERVER_NAME}`)}`, { room_id: roomId }],
      ["POST", "/_matrix/media/v1/create", undefined],
    ];
    for (const [method, path, body] of refused) expectError(await u.call(method, path, body), 403, "M_USER_SUSPENDED");
    // Nothing was written: the other user's room has no member event from u, the topic is unset.
    expect((await other.ok("GET", roomPath(otherRoom, "joined_members"))).joined as object).not.toHaveProperty(u.userId);
    expectError(await u.call("GET", roomPath(roomId, "state/m.room.topic")), 404, "M_NOT_FOUND");
  });

  it("[cs: account suspension] reads, receipts, redacting and leaving still work; lifting the suspension restores sending", async () => {
    const { u, roomId, eventId, admin } = await suspended();
    expect((await u.ok("GET", roomPath(roomId, "messages?dir=b&limit=5"))).chunk).toBeDefined();
    expect((await u.ok("GET", `${V3}/sync?timeout=0`)).rooms).toBeDefined();
    await u.ok("POST", roomPath(roomId, `receipt/m.read/${enc(eventId)}`), {});
    await u.ok("PUT", roomPath(roomId, `redact/${enc(eventId)}/r1`), {});
    // A redaction sent through /send is a redaction too.
    const second = await newUser("mod");
    await second.ok("POST", roomPath(roomId, "join"), {});
    await call("PUT", suspendPath(u.userId), { suspended: false }, admin.token);
    const e2 = (await u.ok("PUT", roomPath(roomId, "send/m.room.message/t3"), { msgtype: "m.text", body: "again" })).event_id as string;
    await call("PUT", suspendPath(u.userId), { suspended: true }, admin.token);
    expect((await u.call("PUT", roomPath(roomId, "send/m.room.redaction/r2"), { redacts: e2 })).status).not.toBe(403);
    await u.ok("POST", roomPath(roomId, "leave"), {});
    expect((await call("GET", suspendPath(u.userId), undefined, admin.token)).body).toEqual({ suspended: true });
  });
});
