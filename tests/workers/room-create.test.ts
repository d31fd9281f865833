// /createRoom through the edge, in workerd: every preset in v10, v11 and v12, versions,
// aliases, invites and failed creations that must leave nothing behind.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { createRoom, enc, expectError, newUser, roomEvents, roomPath, SERVER_NAME, V3 } from "./room-helpers.ts";

type StateEvent = { type: string; state_key: string; content: JsonObject; sender: string; event_id: string };

async function stateOf(u: Awaited<ReturnType<typeof newUser>>, roomId: string): Promise<Map<string, StateEvent>> {
  const r = await u.call("GET", roomPath(roomId, "state"));
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return new Map((r.body as unknown as StateEvent[]).map((e) => [`${e.type}|${e.state_key}`, e]));
}

describe("[cs: createRoom] presets × room versions", () => {
  for (const version of ["10", "11", "12"]) {
    for (const preset of ["private_chat", "trusted_private_chat", "public_chat"]) {
      it(`[cs: createRoom/preset] ${preset} in v${version}: the preset's state, power levels and room ID form`, async () => {
        const a = await newUser();
        const b = await newUser();
        const roomId = await createRoom(a, { preset, room_version: version, invite: [b.userId], name: "N", topic: "T" });
        if (version === "12") expect(roomId).toMatch(/^![A-Za-z0-9_-]{43}$/);
        else expect(roomId).toMatch(new RegExp(`^![A-Za-z0-9_-]{18}:${SERVER_NAME}$`));
        const state = await stateOf(a, roomId);
        const create = state.get("m.room.create|")!;
        expect(create.content.room_version).toBe(version);
        if (version === "12") expect(create.event_id).toBe("$" + roomId.slice(1));
        if (version === "10") expect(create.content.creator).toBe(a.userId);
        else expect(create.content.creator).toBeUndefined();
        expect(state.get("m.room.join_rules|")!.content.join_rule).toBe(preset === "public_chat" ? "public" : "invite");
        expect(state.get("m.room.history_visibility|")!.content.history_visibility).toBe("shared");
        expect(state.get("m.room.guest_access|")!.content.guest_access).toBe(preset === "public_chat" ? "forbidden" : "can_join");
        expect(state.get("m.room.name|")!.content.name).toBe("N");
        expect(state.get("m.room.topic|")!.content.topic).toBe("T");
        expect(state.get(`m.room.member|${a.userId}`)!.content.membership).toBe("join");
        expect(state.get(`m.room.member|${b.userId}`)!.content.membership).toBe("invite");
        const users = state.get("m.room.power_levels|")!.content.users as JsonObject;
        if (version === "12") {
          expect(users).toEqual({});
          const extra = create.content.additional_creators;
          if (preset === "trusted_private_chat") expect(extra).toEqual([b.userId]);
          else expect(extra).toBeUndefined();
        } else {
          expect(users[a.userId]).toBe(100);
          expect(users[b.userId]).toBe(preset === "trusted_private_chat" ? 100 : undefined);
        }
        // Every initial event passed the auth rules and sits on one linear chain.
        const events = await roomEvents(roomId);
        events.forEach((e, i) => expect(e.pdu.prev_events).toEqual(i === 0 ? [] : [events[i - 1]!.event_id]));
        expect((await a.ok("GET", `${V3}/joined_rooms`)).joined_rooms).toContain(roomId);
      });
    }
  }

  it("[cs: createRoom/room_version] default is 12; every creatable version works; unknown → 400 M_UNSUPPORTED_ROOM_VERSION", async () => {
    const a = await newUser();
    const dflt = await createRoom(a);
    expect((await a.ok("GET", roomPath(dflt, "state/m.room.create/"))).room_version).toBe("12");
    for (const v of ["2", "3", "4", "5", "6", "7", "8", "9"]) {
      const id = await createRoom(a, { room_version: v });
      expect((await a.ok("GET", roomPath(id, "state/m.room.create"))).room_version).toBe(v);
    }
    expectError(await a.call("POST", `${V3}/createRoom`, { room_version: "1" }), 400, "M_UNSUPPORTED_ROOM_VERSION");
    expectError(await a.call("POST", `${V3}/createRoom`, { room_version: "99" }), 400, "M_UNSUPPORTED_ROOM_VERSION");
  });
});

describe("[cs: createRoom] options", () => {
  it("[cs: createRoom/room_alias_name] the alias is stored in D1 and is the canonical alias; a taken alias is 400 M_ROOM_IN_USE", async () => {
    const a = await newUser();
    const local = `room${Math.floor(Math.random() * 1e9)}`;
    const alias = `#${local}:${SERVER_NAME}`;
    const roomId = await createRoom(a, { room_alias_name: local, preset: "public_chat" });
    expect((await a.ok("GET", roomPath(roomId, "state/m.room.canonical_alias"))).alias).toBe(alias);
    const row = await env.DB.prepare("SELECT room_id, creator FROM room_aliases WHERE alias = ?").bind(alias).first();
    expect(row).toEqual({ room_id: roomId, creator: a.userId });
    expectError(await a.call("POST", `${V3}/createRoom`, { room_alias_name: local }), 400, "M_ROOM_IN_USE");
    // Joining by the alias reaches the room.
    const b = await newUser();
    expect((await b.ok("POST", `${V3}/join/${enc(alias)}`, {})).room_id).toBe(roomId);
    expectError(await b.call("POST", `${V3}/join/${enc(`#nope${local}:${SERVER_NAME}`)}`, {}), 404, "M_NOT_FOUND");
  });

  it("[cs: createRoom/is_direct] invite events carry is_direct; the invitee's User actor learns of the invite", async () => {
    const a = await newUser();
    const b = await newUser();
    const roomId = await createRoom(a, { is_direct: true, invite: [b.userId], preset: "trusted_private_chat" });
    const ev = await a.ok("GET", roomPath(roomId, `state/m.room.member/${enc(b.userId)}`));
    expect(ev).toEqual({ membership: "invite", is_direct: true });
    expect((await b.ok("POST", roomPath(roomId, "join"), {})).room_id).toBe(roomId);
    expect((await b.ok("GET", `${V3}/joined_rooms`)).joined_rooms).toEqual([roomId]);
  });

  it("[cs: createRoom/initial_state] initial_state and power_level_content_override shape the room", async () => {
    const a = await newUser();
    const roomId = await createRoom(a, {
      room_version: "11",
      initial_state: [
        { type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } },
        { type: "m.room.join_rules", content: { join_rule: "knock" } },
      ],
      power_level_content_override: { events_default: 10 },
    });
    expect(await a.ok("GET", roomPath(roomId, "state/m.room.encryption"))).toEqual({ algorithm: "m.megolm.v1.aes-sha2" });
    expect(await a.ok("GET", roomPath(roomId, "state/m.room.join_rules"))).toEqual({ join_rule: "knock" });
    expect((await a.ok("GET", roomPath(roomId, "state/m.room.power_levels"))).events_default).toBe(10);
  });

  it("[auth: event/send-power] a creation whose initial_state the creator may not send fails whole: 403, no room", async () => {
    const a = await newUser();
    const r = await a.call("POST", `${V3}/createRoom`, {
      room_version: "11",
      power_level_content_override: { state_default: 200, users: { [a.userId]: 100 } },
      initial_state: [{ type: "com.example.state", content: { x: 1 } }],
    });
    expectError(r, 403, "M_FORBIDDEN");
    expect(r.body.error).toContain("event/send-power");
    expect((await a.ok("GET", `${V3}/joined_rooms`)).joined_rooms).toEqual([]);
  });

  it("[room v12: room ID] eight identical /createRoom requests at once make eight rooms (room IDs are create-event hashes)", async () => {
    const a = await newUser();
    const replies = await Promise.all(Array.from({ length: 8 }, () => a.call("POST", `${V3}/createRoom`, { room_version: "12", preset: "private_chat" })));
    for (const r of replies) expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(new Set(replies.map((r) => r.body.room_id)).size).toBe(8);
  });

  it("[cs: createRoom] bad bodies: M_BAD_JSON, M_INVALID_PARAM, M_NOT_JSON", async () => {
    const a = await newUser();
    expectError(await a.call("POST", `${V3}/createRoom`, { preset: "nope" }), 400, "M_BAD_JSON");
    expectError(await a.call("POST", `${V3}/createRoom`, { invite: ["not-a-user"] }), 400, "M_INVALID_PARAM");
    expectError(await a.call("POST", `${V3}/createRoom`, { room_alias_name: "has space" }), 400, "M_INVALID_PARAM");
    expectError(await a.call("POST", `${V3}/createRoom`, "text"), 400, "M_BAD_JSON");
    expectError(await a.call("POST", `${V3}/createRoom`, { room_version: "12", power_level_content_override: { users: { [a.userId]: 100 } } }), 400, "M_BAD_JSON");
  });
});
