// Redaction, state reads and single events through the edge; state versions in storage.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { stateKey } from "../../lib/pdu.ts";
import type { Room } from "../../party/room.ts";
import { roomActor } from "../../party/stubs.ts";
import { createRoom, enc, expectError, newUser, roomPath, roomSql, sendMessage, V3 } from "./room-helpers.ts";

describe("[cs: redaction] redact", () => {
  for (const version of ["10", "11", "12"]) {
    it(`[cs: redaction] v${version}: the sender redacts their message; it is served redacted with redacted_because, the original kept`, async () => {
      const a = await newUser();
      const roomId = await createRoom(a, { room_version: version });
      const sent = (await sendMessage(a, roomId, "secret")).body.event_id as string;
      const red = await a.ok("PUT", roomPath(roomId, `redact/${enc(sent)}/r1`), { reason: "oops" });
      const again = await a.ok("PUT", roomPath(roomId, `redact/${enc(sent)}/r1`), { reason: "oops" });
      expect(again.event_id).toBe(red.event_id);
      const ev = await a.ok("GET", roomPath(roomId, `event/${enc(sent)}`));
      expect(ev.content).toEqual({});
      const because = (ev.unsigned as JsonObject).redacted_because as JsonObject;
      expect(because.event_id).toBe(red.event_id);
      expect(because.redacts).toBe(sent);
      expect((because.content as JsonObject).redacts).toBe(sent);
      const redaction = await a.ok("GET", roomPath(roomId, `event/${enc(red.event_id as string)}`));
      expect(redaction.redacts).toBe(sent);
      // v11+: redacts lives in content of the PDU; before, at the top level.
      const rows = await roomSql<{ json: string; redacted_by: string }>(roomId, "SELECT json, redacted_by FROM events WHERE event_id = ?", red.event_id as string);
      const pdu = JSON.parse(rows[0]!.json) as JsonObject;
      if (version === "10") expect(pdu.redacts).toBe(sent);
      else expect((pdu.content as JsonObject).redacts).toBe(sent);
      const orig = await roomSql<{ json: string; redacted_by: string }>(roomId, "SELECT json, redacted_by FROM events WHERE event_id = ?", sent);
      expect(orig[0]!.redacted_by).toBe(red.event_id);
      expect(((JSON.parse(orig[0]!.json) as JsonObject).content as JsonObject).body).toBe("secret");
    });
  }

  it("[cs: redaction] redacting another user's event needs the redact level; a moderator may", async () => {
    const a = await newUser();
    const b = await newUser();
    const roomId = await createRoom(a, { preset: "public_chat" });
    await b.ok("POST", roomPath(roomId, "join"), {});
    const mine = (await sendMessage(a, roomId, "a's")).body.event_id as string;
    const theirs = (await sendMessage(b, roomId, "b's")).body.event_id as string;
    expectError(await b.call("PUT", roomPath(roomId, `redact/${enc(mine)}/x1`), {}), 403, "M_FORBIDDEN");
    await a.ok("PUT", roomPath(roomId, `redact/${enc(theirs)}/x2`), {});
    expectError(await a.call("PUT", roomPath(roomId, `redact/${enc("$" + "A".repeat(43))}/x3`), {}), 404, "M_NOT_FOUND");
  });

  it("[auth: redaction] a redacted power levels event keeps its levels for authorization", async () => {
    const a = await newUser();
    const b = await newUser();
    const roomId = await createRoom(a, { preset: "public_chat", room_version: "11" });
    await b.ok("POST", roomPath(roomId, "join"), {});
    const plId = (await a.ok("GET", roomPath(roomId, "state/m.room.power_levels?format=event"))).event_id as string;
    await a.ok("PUT", roomPath(roomId, `redact/${enc(plId)}/p1`), {});
    // state_default survives redaction (v11 keeps it), so b still cannot set the topic
    expectError(await b.call("PUT", roomPath(roomId, "state/m.room.topic"), { topic: "x" }), 403, "M_FORBIDDEN");
    expect((await a.ok("GET", roomPath(roomId, "state/m.room.power_levels"))).state_default).toBe(50);
  });
});

describe("[cs: state] reading state", () => {
  it("[cs: state] one state event as content or (format=event) as a ClientEvent; absent → 404; bad format → 400", async () => {
    const a = await newUser();
    const roomId = await createRoom(a, { name: "Named" });
    expect(await a.ok("GET", roomPath(roomId, "state/m.room.name/"))).toEqual({ name: "Named" });
    const ev = await a.ok("GET", roomPath(roomId, "state/m.room.name?format=event"));
    expect(ev).toMatchObject({ type: "m.room.name", state_key: "", content: { name: "Named" }, room_id: roomId, sender: a.userId });
    expectError(await a.call("GET", roomPath(roomId, "state/m.room.topic")), 404, "M_NOT_FOUND");
    expectError(await a.call("GET", roomPath(roomId, "state/m.room.name?format=xml")), 400, "M_INVALID_PARAM");
    const put = await a.ok("PUT", roomPath(roomId, "state/com.example.keyed/some%2Fkey"), { v: 1 });
    expect((await a.ok("GET", roomPath(roomId, "state/com.example.keyed/some%2Fkey?format=event"))).event_id).toBe(put.event_id);
  });

  it("[cs: event] an event is visible to members, not to strangers (404)", async () => {
    const a = await newUser();
    const b = await newUser();
    const roomId = await createRoom(a);
    const id = (await sendMessage(a, roomId)).body.event_id as string;
    expectError(await b.call("GET", roomPath(roomId, `event/${enc(id)}`)), 404, "M_NOT_FOUND");
    expectError(await a.call("GET", roomPath(roomId, `event/${enc("$" + "B".repeat(43))}`)), 404, "M_NOT_FOUND");
  });

  it("[room: state versions] state at every event equals the state rebuilt by replaying the room; snapshots at most every 64 changes", async () => {
    const a = await newUser();
    const roomId = await createRoom(a, { preset: "public_chat" });
    for (let i = 0; i < 150; i++) {
      if (i % 3 === 0) await a.ok("PUT", roomPath(roomId, `state/com.example.counter/k${i % 7}`), { i });
      else await sendMessage(a, roomId, `m${i}`);
    }
    const check = await runInDurableObject(roomActor(env, roomId), (room: Room, state) => {
      const rows = state.storage.sql
        .exec<{ event_id: string; type: string; state_key: string | null; state_before: number }>(
          "SELECT event_id, type, state_key, state_before FROM events ORDER BY stream",
        )
        .toArray();
      const replay = new Map<string, string>();
      let mismatches = 0;
      for (const r of rows) {
        const stored = room.store.stateAt(r.state_before);
        if (stored.size !== replay.size || [...replay].some(([k, v]) => stored.get(k) !== v)) mismatches++;
        if (r.state_key !== null) replay.set(stateKey(r.type, r.state_key), r.event_id);
      }
      const current = room.store.currentState();
      const snapshots = state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM state_versions WHERE snapshot = 1").one().n;
      const versions = state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM state_versions").one().n;
      return { mismatches, events: rows.length, currentMatches: current.size === replay.size && [...replay].every(([k, v]) => current.get(k) === v), snapshots, versions };
    });
    expect(check.mismatches).toBe(0);
    expect(check.currentMatches).toBe(true);
    expect(check.versions).toBeGreaterThan(50);
    expect(check.snapshots).toBe(Math.floor((check.versions - 1) / 64) + 1);
  });
});

describe("[cs: joined_rooms] room lists", () => {
  it("[cs: joined_rooms] lists joined rooms only", async () => {
    const a = await newUser();
    const r1 = await createRoom(a);
    const r2 = await createRoom(a);
    await a.ok("POST", roomPath(r2, "leave"), {});
    expect((await a.ok("GET", `${V3}/joined_rooms`)).joined_rooms).toEqual([r1]);
  });
});
