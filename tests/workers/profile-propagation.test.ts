// A displayname or avatar change reaches every joined room as a new member event, through
// the User actor's outbox (party/user/outbox.ts): queued in the profile change's
// transaction, delivered after it, retried by the alarm while a room cannot be reached.
// https://spec.matrix.org/v1.19/client-server-api/#put_matrixclientv3profileuseridkeyname
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { userActor } from "../../party/stubs.ts";
import type { User } from "../../party/user.ts";
import { createRoom, enc, newUser, roomEvents, V3, type TestUser } from "./room-helpers.ts";

async function memberContent(roomId: string, userId: string): Promise<JsonObject | undefined> {
  const events = await roomEvents(roomId);
  const mine = events.filter((e) => e.pdu.type === "m.room.member" && e.pdu.state_key === userId);
  return mine.at(-1)?.pdu.content as JsonObject | undefined;
}

function outbox(u: TestUser) {
  return runInDurableObject(userActor(env, u.userId), (_: User, state) =>
    state.storage.sql.exec<{ kind: string; target: string; attempts: number }>("SELECT kind, target, attempts FROM user_outbox ORDER BY id").toArray(),
  );
}

describe("[profile: propagation] member events follow the profile", () => {
  it("[profile: displayname] a new displayname becomes a member event in every joined room; the outbox is empty after", async () => {
    const alice = await newUser("ppa");
    const [r1, r2] = await Promise.all([createRoom(alice), createRoom(alice)]);
    await alice.ok("PUT", `${V3}/profile/${enc(alice.userId)}/displayname`, { displayname: "Alice Two" });
    expect((await memberContent(r1, alice.userId))?.displayname).toBe("Alice Two");
    expect((await memberContent(r2, alice.userId))?.displayname).toBe("Alice Two");
    expect(await outbox(alice)).toEqual([]);
    // Deleting the field takes it out of the member events too.
    await alice.ok("DELETE", `${V3}/profile/${enc(alice.userId)}/displayname`);
    expect((await memberContent(r1, alice.userId))?.displayname).toBeUndefined();
  });

  it("[profile: durable] a room that fails keeps its row (retry with backoff); the alarm's retry delivers the latest profile", async () => {
    const alice = await newUser("ppb");
    const [ok, down] = await Promise.all([createRoom(alice), createRoom(alice)]);
    // Alice's actor cannot reach the room `down` (its namespace answers with a failing stub).
    await runInDurableObject(userActor(env, alice.userId), (u: User) => {
      const e = (u as unknown as { env: { ROOM: DurableObjectNamespace } }).env;
      const real = e.ROOM;
      const failing = { updateProfile: () => Promise.reject(new Error("room unavailable (test)")) };
      e.ROOM = new Proxy(real, {
        get: (t, p) => (p === "getByName" ? (name: string) => (name === down ? failing : t.getByName(name)) : Reflect.get(t, p)),
      });
      (u as unknown as { restoreRooms: () => void }).restoreRooms = () => (e.ROOM = real);
    });
    await alice.ok("PUT", `${V3}/profile/${enc(alice.userId)}/displayname`, { displayname: "First" });
    await alice.ok("PUT", `${V3}/profile/${enc(alice.userId)}/avatar_url`, { avatar_url: "mxc://localhost:8787/abc" });
    expect((await memberContent(ok, alice.userId))?.displayname).toBe("First");
    // One row for the failing room (the second change replaced the first), waiting for its retry.
    const rows = await outbox(alice);
    expect(rows.map((r) => [r.kind, r.target])).toEqual([["profile", down]]);
    expect(rows[0]!.attempts).toBeGreaterThan(0);
    // (The test env object is shared with the actors: restore it before reading the room.)
    await runInDurableObject(userActor(env, alice.userId), (u: User) => (u as unknown as { restoreRooms: () => void }).restoreRooms());
    expect((await memberContent(down, alice.userId))?.displayname).not.toBe("First");
    await runInDurableObject(userActor(env, alice.userId), async (u: User, state) => {
      state.storage.sql.exec("UPDATE user_outbox SET next_ts = 0"); // as when the retry time comes
      await u.onAlarm();
    });
    expect(await memberContent(down, alice.userId)).toMatchObject({ displayname: "First", avatar_url: "mxc://localhost:8787/abc", membership: "join" });
    expect(await outbox(alice)).toEqual([]);
  });

  it("[profile: refused] a room that refuses (no longer joined) is not retried", async () => {
    const alice = await newUser("ppc");
    const roomId = await createRoom(alice);
    await alice.ok("POST", `${V3}/rooms/${enc(roomId)}/leave`, {});
    await alice.ok("PUT", `${V3}/profile/${enc(alice.userId)}/displayname`, { displayname: "Gone" });
    expect(await outbox(alice)).toEqual([]);
    expect((await memberContent(roomId, alice.userId))?.membership).toBe("leave");
  });
});
