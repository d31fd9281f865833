// /sync v2 with a filter's event_fields: room events keep only the listed fields.
// https://spec.matrix.org/v1.19/client-server-api/#filtering
import { describe, expect, it } from "vitest";
import { createRoom, newUser, sendMessage, V3 } from "./room-helpers.ts";

describe("/sync v2: Filter.event_fields", () => {
  it("[sync: event_fields] timeline and state events carry only the fields the filter lists (inline filter and filter ID)", async () => {
    const alice = await newUser("ef");
    const roomId = await createRoom(alice, { preset: "private_chat", name: "fields" });
    await sendMessage(alice, roomId, "hello");
    const filter = { event_fields: ["type", "content.body", "content.name"], room: { timeline: { limit: 50 } } };
    const inline = await alice.ok("GET", `${V3}/sync?filter=${encodeURIComponent(JSON.stringify(filter))}`);
    const { filter_id } = await alice.ok("POST", `${V3}/user/${encodeURIComponent(alice.userId)}/filter`, filter);
    const byId = await alice.ok("GET", `${V3}/sync?filter=${encodeURIComponent(filter_id as string)}`);
    for (const s of [inline, byId] as any[]) {
      const room = s.rooms.join[roomId];
      const events = [...room.timeline.events, ...(room.state?.events ?? [])];
      expect(events.length).toBeGreaterThan(0);
      for (const e of events) expect(Object.keys(e).filter((k) => k !== "type" && k !== "content")).toEqual([]);
      const msg = room.timeline.events.find((e: any) => e.type === "m.room.message");
      expect(msg).toEqual({ type: "m.room.message", content: { body: "hello" } });
      const name = events.find((e: any) => e.type === "m.room.name");
      expect(name).toEqual({ type: "m.room.name", content: { name: "fields" } });
    }
    // Without the filter the events are whole.
    const plain = (await alice.ok("GET", `${V3}/sync`)) as any;
    expect(plain.rooms.join[roomId].timeline.events.at(-1).event_id).toBeDefined();
  });
});
