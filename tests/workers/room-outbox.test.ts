// The room's outbox: effects written with their event, delivered after commit, retried
// with backoff by the alarm when delivery fails.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Room } from "../../party/room.ts";
import { roomActor } from "../../party/stubs.ts";
import { createRoom, newUser, roomPath, roomSql, V3 } from "./room-helpers.ts";

describe("[room: outbox] durable membership effects", () => {
  it("[room: outbox] an invite reaches the invitee's User actor; the outbox is empty afterwards", async () => {
    const a = await newUser();
    const b = await newUser();
    const roomId = await createRoom(a);
    await a.ok("POST", roomPath(roomId, "invite"), { user_id: b.userId });
    expect(await roomSql(roomId, "SELECT id FROM outbox")).toEqual([]);
    // the invitee's actor recorded the invite: after joining, the room is listed
    await b.ok("POST", roomPath(roomId, "join"), {});
    expect((await b.ok("GET", `${V3}/joined_rooms`)).joined_rooms).toEqual([roomId]);
  });

  it("[room: outbox] a delivery that fails stays with a later retry time and an alarm; the alarm delivers what is due", async () => {
    const a = await newUser();
    const b = await newUser();
    const roomId = await createRoom(a);
    const stub = roomActor(env, roomId);
    // One undeliverable item and one due membership update (as a commit would have written them).
    await runInDurableObject(stub, (_: Room, state) => {
      state.storage.sql.exec("INSERT INTO outbox (kind, target, payload, next_ts) VALUES ('bogus', 'x', '{}', 0)");
      state.storage.sql.exec(
        "INSERT INTO outbox (kind, target, payload, next_ts) VALUES ('membership', ?, ?, 0)",
        b.userId,
        JSON.stringify({ room_id: roomId, event_id: "$fake", stream: 999, membership: "join" }),
      );
      return state.storage.setAlarm(Date.now() + 60_000); // not on its own: the test runs it
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const rows = await roomSql<{ kind: string; attempts: number; next_ts: number }>(roomId, "SELECT kind, attempts, next_ts FROM outbox");
    expect(rows.map((r) => [r.kind, r.attempts])).toEqual([["bogus", 1]]);
    expect(rows[0]!.next_ts).toBeGreaterThan(Date.now());
    const alarm = await runInDurableObject(stub, (_: Room, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    expect((await b.ok("GET", `${V3}/joined_rooms`)).joined_rooms).toEqual([roomId]);
  });
  it("[room: outbox] a failed delivery's later retry never postpones a sooner alarm (the backstop that brings an idle room back after a restart)", async () => {
    const a = await newUser();
    const roomId = await createRoom(a);
    const stub = roomActor(env, roomId);
    const soon = Date.now() + 10_000;
    await runInDurableObject(stub, async (_: Room, state) => {
      // A row that failed 5 times before: its next retry is 32 s away.
      state.storage.sql.exec("INSERT INTO outbox (kind, target, payload, next_ts, attempts) VALUES ('bogus', 'x', '{}', 0, 5)");
      await state.storage.setAlarm(soon);
    });
    // A state change runs an outbox pass (not awaited by the send): the bogus row fails again.
    await a.ok("PUT", roomPath(roomId, "state/m.room.topic/"), { topic: "pass" });
    for (let i = 0; i < 100; i++) {
      const [row] = await roomSql<{ attempts: number }>(roomId, "SELECT attempts FROM outbox WHERE kind = 'bogus'");
      if (row!.attempts === 6) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const alarm = await runInDurableObject(stub, (_: Room, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    expect(alarm!).toBeLessThanOrEqual(soon);
  });
});
