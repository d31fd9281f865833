// POST /rooms/{roomId}/upgrade through the edge, in workerd: the new room's create event
// and copied state, the tombstone, the old room's restricted power levels, refusals.
// https://spec.matrix.org/v1.19/client-server-api/#room-upgrades
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { createRoom, expectError, newUser, roomEvents, roomPath, sendMessage, V3, type TestUser } from "./room-helpers.ts";

type StateEvent = { type: string; state_key: string; content: JsonObject; sender: string; event_id: string };

async function stateOf(u: TestUser, roomId: string): Promise<Map<string, StateEvent>> {
  const r = await u.call("GET", roomPath(roomId, "state"));
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return new Map((r.body as unknown as StateEvent[]).map((e) => [`${e.type}|${e.state_key}`, e]));
}

async function upgrade(u: TestUser, roomId: string, body: JsonObject): Promise<string> {
  const r = await u.ok("POST", roomPath(roomId, "upgrade"), body);
  return r.replacement_room as string;
}

describe("[upgrade] across room versions", () => {
  for (const [from, to] of [["10", "11"], ["11", "12"], ["12", "12"], ["10", "12"]] as const) {
    it(`[upgrade] v${from} → v${to}: new room with predecessor, copied state, bans; old room tombstoned and restricted`, async () => {
      const a = await newUser();
      const b = await newUser();
      const m = await newUser();
      const old = await createRoom(a, { preset: "public_chat", room_version: from, name: "Room", topic: "About" });
      await b.ok("POST", `${V3}/join/${encodeURIComponent(old)}`, {});
      await m.ok("POST", `${V3}/join/${encodeURIComponent(old)}`, {});
      await a.ok("POST", roomPath(old, "ban"), { user_id: m.userId, reason: "spam" });
      await a.ok("PUT", roomPath(old, "state/m.room.encryption/"), { algorithm: "m.megolm.v1.aes-sha2" });
      const last = (await roomEvents(old)).at(-1)!.event_id;

      const nu = await upgrade(a, old, { new_version: to });
      if (to === "12") expect(nu).toMatch(/^![A-Za-z0-9_-]{43}$/);

      const ns = await stateOf(a, nu);
      const create = ns.get("m.room.create|")!;
      expect(create.content.room_version).toBe(to);
      expect(create.content.predecessor).toEqual({ room_id: old, event_id: last });
      expect(create.sender).toBe(a.userId);
      expect(ns.get("m.room.name|")!.content.name).toBe("Room");
      expect(ns.get("m.room.topic|")!.content.topic).toBe("About");
      expect(ns.get("m.room.join_rules|")!.content.join_rule).toBe("public");
      expect(ns.get("m.room.encryption|")!.content.algorithm).toBe("m.megolm.v1.aes-sha2");
      expect(ns.get(`m.room.member|${a.userId}`)!.content.membership).toBe("join");
      // [upgrade] bans are copied; other members are not joined (they follow the tombstone).
      expect(ns.get(`m.room.member|${m.userId}`)!.content).toEqual({ membership: "ban", reason: "spam" });
      expect(ns.get(`m.room.member|${b.userId}`)).toBeUndefined();
      const users = ns.get("m.room.power_levels|")!.content.users as JsonObject;
      if (to === "12") expect(users[a.userId]).toBeUndefined();
      else expect(users[a.userId]).toBe(100);

      // [upgrade] old room gets a tombstone pointing at the new room
      const os = await stateOf(a, old);
      expect(os.get("m.room.tombstone|")!.content).toEqual({ body: "This room has been replaced", replacement_room: nu });
      expect(os.get("m.room.tombstone|")!.sender).toBe(a.userId);
      const pl = os.get("m.room.power_levels|")!.content;
      expect(pl.events_default).toBe(50);
      expect(pl.invite).toBe(50);
      // [upgrade] ordinary members can no longer talk in the old room
      expectError(await sendMessage(b, old), 403, "M_FORBIDDEN");
      expect((await sendMessage(a, old)).status).toBe(200);

      // [upgrade] the upgrader's room list has the new room; members can join it
      expect((await a.ok("GET", `${V3}/joined_rooms`)).joined_rooms).toContain(nu);
      await b.ok("POST", `${V3}/join/${encodeURIComponent(nu)}`, {});
      expectError(await m.call("POST", `${V3}/join/${encodeURIComponent(nu)}`, {}), 403, "M_FORBIDDEN");
    });
  }

  it("[upgrade] a moderator raised just long enough to copy state keeps their own level afterwards", async () => {
    const a = await newUser();
    const b = await newUser();
    const old = await createRoom(a, {
      preset: "public_chat",
      room_version: "11",
      power_level_content_override: { users: { [a.userId]: 100, [b.userId]: 50 }, events: { "m.room.tombstone": 50, "m.room.power_levels": 50, "m.room.encryption": 100 } },
    });
    await b.ok("POST", `${V3}/join/${encodeURIComponent(old)}`, {});
    await a.ok("PUT", roomPath(old, "state/m.room.encryption/"), { algorithm: "m.megolm.v1.aes-sha2" }); // needs 100
    const nu = await upgrade(b, old, { new_version: "11" });
    const pls = (await roomEvents(nu)).filter((e) => e.pdu.type === "m.room.power_levels").map((e) => e.pdu.content as JsonObject);
    expect(pls).toHaveLength(2);
    expect((pls[0]!.users as JsonObject)[b.userId]).toBe(100);
    expect((pls[1]!.users as JsonObject)[b.userId]).toBe(50);
    const ns = await stateOf(b, nu);
    expect(ns.get("m.room.encryption|")!.content.algorithm).toBe("m.megolm.v1.aes-sha2");
    expect((ns.get("m.room.power_levels|")!.content.users as JsonObject)[b.userId]).toBe(50);
  });

  it("[upgrade] additional_creators become creators of a v12 replacement", async () => {
    const a = await newUser();
    const b = await newUser();
    const old = await createRoom(a, { room_version: "11" });
    const nu = await upgrade(a, old, { new_version: "12", additional_creators: [b.userId] });
    const create = (await stateOf(a, nu)).get("m.room.create|")!;
    expect(create.content.additional_creators).toEqual([b.userId]);
  });
});

describe("[upgrade] refusals", () => {
  it("[upgrade] a member without tombstone power cannot upgrade", async () => {
    const a = await newUser();
    const b = await newUser();
    const old = await createRoom(a, { preset: "public_chat", room_version: "11" });
    await b.ok("POST", `${V3}/join/${encodeURIComponent(old)}`, {});
    expectError(await b.call("POST", roomPath(old, "upgrade"), { new_version: "12" }), 403, "M_FORBIDDEN");
    expect((await stateOf(a, old)).get("m.room.tombstone|")).toBeUndefined();
  });

  it("[upgrade] a non-member cannot upgrade", async () => {
    const a = await newUser();
    const c = await newUser();
    const old = await createRoom(a, { preset: "public_chat" });
    expectError(await c.call("POST", roomPath(old, "upgrade"), { new_version: "12" }), 403, "M_FORBIDDEN");
  });

  it("[upgrade] unknown new_version → 400 M_UNSUPPORTED_ROOM_VERSION, nothing sent", async () => {
    const a = await newUser();
    const old = await createRoom(a, { room_version: "11" });
    const before = (await roomEvents(old)).length;
    expectError(await a.call("POST", roomPath(old, "upgrade"), { new_version: "999" }), 400, "M_UNSUPPORTED_ROOM_VERSION");
    expect((await roomEvents(old)).length).toBe(before);
  });

  it("[upgrade] new_version is required", async () => {
    const a = await newUser();
    const old = await createRoom(a);
    expectError(await a.call("POST", roomPath(old, "upgrade"), {}), 400, "M_MISSING_PARAM");
  });

  it("[upgrade] a room already upgraded cannot be upgraded again", async () => {
    const a = await newUser();
    const old = await createRoom(a, { room_version: "11" });
    await upgrade(a, old, { new_version: "12" });
    expectError(await a.call("POST", roomPath(old, "upgrade"), { new_version: "12" }), 403, "M_FORBIDDEN");
  });

  it("[upgrade] an unknown room → 404 M_NOT_FOUND", async () => {
    const a = await newUser();
    expectError(await a.call("POST", roomPath("!nope:localhost:8787", "upgrade"), { new_version: "12" }), 404, "M_NOT_FOUND");
  });
});
