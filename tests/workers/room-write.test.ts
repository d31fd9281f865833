// The Room actor's write path through the edge: sending, transaction IDs, concurrency,
// durability across a restart of the actor, size limits and bad input.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import type { Room } from "../../party/room.ts";
import { RoomStore } from "../../party/room/store.ts";
import { roomActor } from "../../party/stubs.ts";
import { createRoom, enc, expectError, newUser, roomEvents, roomPath, roomSql, sendMessage, V3 } from "./room-helpers.ts";

describe("[room: send] messages", () => {
  it("[cs: send] a joined member's message is stored and readable; the sender's device sees its transaction_id", async () => {
    const a = await newUser();
    const roomId = await createRoom(a);
    const sent = await a.ok("PUT", roomPath(roomId, "send/m.room.message/txn1"), { msgtype: "m.text", body: "hi" });
    const ev = await a.ok("GET", roomPath(roomId, `event/${enc(sent.event_id as string)}`));
    expect(ev).toMatchObject({ event_id: sent.event_id, room_id: roomId, sender: a.userId, type: "m.room.message", content: { body: "hi" } });
    expect((ev.unsigned as JsonObject).transaction_id).toBe("txn1");
  });

  it("[cs: send/txnId] the same txnId from the same device gives the same event_id; another device gets a new event", async () => {
    const a = await newUser();
    const roomId = await createRoom(a);
    const path = roomPath(roomId, "send/m.room.message/same");
    const first = await a.ok("PUT", path, { msgtype: "m.text", body: "once" });
    const again = await a.ok("PUT", path, { msgtype: "m.text", body: "once" });
    expect(again.event_id).toBe(first.event_id);
    const count = await roomSql<{ n: number }>(roomId, "SELECT COUNT(*) AS n FROM events WHERE type = 'm.room.message'");
    expect(count[0]!.n).toBe(1);
    // A second login of the same user is another device: its txnId space is its own.
    const other = await a.call("POST", `${V3}/login`, { type: "m.login.password", identifier: { type: "m.id.user", user: a.userId }, password: "correct horse battery" });
    const token2 = other.body.access_token as string;
    const res = await fetchAs(token2, "PUT", path, { msgtype: "m.text", body: "once" });
    expect(res.event_id).not.toBe(first.event_id);
  });

  it("[cs: send/txnId] the same txnId sent 10 times concurrently yields one event", async () => {
    const a = await newUser();
    const roomId = await createRoom(a);
    const path = roomPath(roomId, "send/m.room.message/burst");
    const replies = await Promise.all(Array.from({ length: 10 }, () => a.ok("PUT", path, { msgtype: "m.text", body: "x" })));
    expect(new Set(replies.map((r) => r.event_id)).size).toBe(1);
    const count = await roomSql<{ n: number }>(roomId, "SELECT COUNT(*) AS n FROM events WHERE txn_id = 'burst'");
    expect(count[0]!.n).toBe(1);
  });

  it("[cs: send/txnId] transaction IDs are remembered for the room's newest ROOM_TXN_WINDOW sends, read back from SQLite by a fresh instance", async () => {
    const a = await newUser();
    const roomId = await createRoom(a);
    const ids: string[] = [];
    for (const t of ["w1", "w2", "w3"]) ids.push((await a.ok("PUT", roomPath(roomId, `send/m.room.message/${t}`), { msgtype: "m.text", body: t })).event_id as string);
    const seen = await runInDurableObject(roomActor(env, roomId), (_: Room, state) => {
      // A store as a fresh instance with a window of 2 builds it: the two newest only.
      const store = new RoomStore(state.storage, 2);
      return ["w1", "w2", "w3"].map((t) => store.eventForTxn(a.userId, a.deviceId, t) ?? null);
    });
    expect(seen).toEqual([null, ids[1], ids[2]]);
  });

  it("[room: durability] a txnId survives a restart of the actor, and so does every acknowledged event", async () => {
    const a = await newUser();
    const roomId = await createRoom(a);
    const path = roomPath(roomId, "send/m.room.message/persist");
    const first = await a.ok("PUT", path, { msgtype: "m.text", body: "before restart" });
    const stub = roomActor(env, roomId);
    // Abort the instance: the next request meets a fresh one that only has SQLite.
    await runInDurableObject(stub, (_: Room, state) => {
      try {
        state.abort("test restart");
      } catch {
        // abort throws inside the aborted object
      }
    }).catch(() => {});
    const again = await a.ok("PUT", path, { msgtype: "m.text", body: "before restart" });
    expect(again.event_id).toBe(first.event_id);
    const after = await sendMessage(a, roomId, "after restart");
    expect(after.status).toBe(200);
    const events = await roomEvents(roomId);
    expect(events.map((e) => e.stream)).toEqual(events.map((_, i) => i + 1));
    // The new event builds on the tip recovered from SQLite.
    const last = events.at(-1)!;
    expect(last.event_id).toBe(after.body.event_id);
    expect(last.pdu.prev_events).toEqual([events.at(-2)!.event_id]);
  });
});

describe("[room: durability] abort in the middle of writes", () => {
  it("[room: durability] an actor aborted while sends are in flight keeps every acknowledged event and no half-written one", async () => {
    const a = await newUser();
    const roomId = await createRoom(a);
    const stub = roomActor(env, roomId);
    const before = (await roomEvents(roomId)).length;
    const sends = Array.from({ length: 60 }, (_, i) => sendMessage(a, roomId, `inflight ${i}`));
    // Abort once some sends are committed and others still queued or being signed.
    for (let i = 0; i < 500; i++) {
      const [{ n }] = await roomSql<{ n: number }>(roomId, "SELECT COUNT(*) AS n FROM events");
      if (n >= before + 5) break;
    }
    await runInDurableObject(stub, (_: Room, state) => {
      try {
        state.abort("abort mid-write");
      } catch {
        // the aborted object throws
      }
    }).catch(() => {});
    const replies = await Promise.all(sends);
    const acknowledged = replies.filter((r) => r.status === 200).map((r) => r.body.event_id as string);
    const events = await roomEvents(roomId);
    const stored = new Set(events.map((e) => e.event_id));
    for (const id of acknowledged) expect(stored.has(id)).toBe(true);
    // Whatever was stored is whole: a gap-free stream, one linear chain, state rows only for state events.
    events.forEach((e, i) => {
      expect(e.stream).toBe(i + 1);
      if (i > 0) expect(e.pdu.prev_events).toEqual([events[i - 1]!.event_id]);
    });
    const orphans = await roomSql<{ n: number }>(roomId, "SELECT COUNT(*) AS n FROM state_deltas WHERE event_id NOT IN (SELECT event_id FROM events)");
    expect(orphans[0]!.n).toBe(0);
    // and the room goes on
    expect((await sendMessage(a, roomId, "after")).status).toBe(200);
  });
});

describe("[room: write path] concurrency and ordering", () => {
  it("[room: write path] 50 concurrent sends from 16 senders all succeed as one linear chain with a gap-free stream", async () => {
    const owner = await newUser();
    const roomId = await createRoom(owner, { preset: "public_chat" });
    const senders = [owner, ...(await Promise.all(Array.from({ length: 15 }, () => newUser("c"))))];
    await Promise.all(senders.slice(1).map((u) => u.ok("POST", `${V3}/join/${enc(roomId)}`, {})));
    const before = (await roomEvents(roomId)).length;
    const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => sendMessage(senders[i % 16]!, roomId, `m${i}`)));
    for (const r of replies) expect(r.status, JSON.stringify(r.body)).toBe(200);
    const events = await roomEvents(roomId);
    expect(events.length).toBe(before + 50);
    expect(new Set(replies.map((r) => r.body.event_id))).toEqual(new Set(events.slice(before).map((e) => e.event_id)));
    events.forEach((e, i) => {
      expect(e.stream).toBe(i + 1);
      if (i > 0) {
        expect(e.pdu.prev_events).toEqual([events[i - 1]!.event_id]);
        expect(e.pdu.depth).toBe((events[i - 1]!.pdu.depth as number) + 1);
      }
    });
  });

  it("[room: cost] a message writes 2 rows (event row, event_id index), with a txnId too (remembered in memory); no state rows", async () => {
    const a = await newUser();
    const roomId = await createRoom(a);
    await sendMessage(a, roomId, "measure");
    const stats = await runInDurableObject(roomActor(env, roomId), (room: Room) => room.lastCommitStats());
    expect(stats).toEqual({ rowsWritten: 2, events: 1 });
    const stateRows = await roomSql<{ n: number }>(roomId, "SELECT COUNT(*) AS n FROM state_deltas");
    const stateEvents = await roomSql<{ n: number }>(roomId, "SELECT COUNT(*) AS n FROM events WHERE state_key IS NOT NULL");
    expect(stateRows[0]!.n).toBe(stateEvents[0]!.n);
  });
});

describe("[room: send] bad input", () => {
  it("[cs: size-limits] an event over 65,536 bytes is 413 M_TOO_LARGE and nothing is stored", async () => {
    const a = await newUser();
    const roomId = await createRoom(a);
    const before = (await roomEvents(roomId)).length;
    const r = await a.call("PUT", roomPath(roomId, "send/m.room.message/big"), { msgtype: "m.text", body: "x".repeat(70_000) });
    expectError(r, 413, "M_TOO_LARGE");
    expect((await roomEvents(roomId)).length).toBe(before);
    // and the room still works
    expect((await sendMessage(a, roomId)).status).toBe(200);
  });

  it("[cs: send] malformed IDs, types and bodies get their errcodes", async () => {
    const a = await newUser();
    const roomId = await createRoom(a);
    expectError(await a.call("PUT", `${V3}/rooms/not-a-room/send/m.room.message/t1`, {}), 400, "M_INVALID_PARAM");
    expectError(await a.call("PUT", roomPath(roomId, `send/${"t".repeat(256)}/t1`), {}), 400, "M_INVALID_PARAM");
    expectError(await a.call("PUT", roomPath(roomId, `send/m.room.message/${"x".repeat(256)}`), {}), 400, "M_INVALID_PARAM");
    expectError(await a.call("PUT", roomPath(roomId, "send/m.room.message/t2"), [1, 2]), 400, "M_BAD_JSON");
    expectError(await a.call("PUT", roomPath(roomId, `state/m.room.topic/${"k".repeat(256)}`), { topic: "x" }), 400, "M_INVALID_PARAM");
    expectError(await a.call("PUT", roomPath(roomId, `redact/notanevent/t3`), {}), 400, "M_INVALID_PARAM");
  });

  it("[cs: send] an unknown room is 404 M_NOT_FOUND, and probing it creates no tables", async () => {
    const a = await newUser();
    const ghost = "!ghostroomxyzxyzxyz:localhost:8787";
    expectError(await a.call("PUT", roomPath(ghost, "send/m.room.message/t1"), { body: "x" }), 404, "M_NOT_FOUND");
    expectError(await a.call("GET", roomPath(ghost, "state")), 404, "M_NOT_FOUND");
    const tables = await roomSql<{ name: string }>(ghost, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf%' ESCAPE '\\'");
    expect(tables).toEqual([]);
  });

  it("[auth: event/sender-not-joined] a non-member cannot send: 403 M_FORBIDDEN naming the rule", async () => {
    const a = await newUser();
    const b = await newUser();
    const roomId = await createRoom(a, { preset: "public_chat" });
    const r = await sendMessage(b, roomId);
    expectError(r, 403, "M_FORBIDDEN");
    expect(r.body.error).toContain("event/sender-not-joined");
  });
});

async function fetchAs(token: string, method: string, path: string, body: unknown): Promise<JsonObject> {
  const { call } = await import("./room-helpers.ts");
  const r = await call(method, path, body, token);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
}
