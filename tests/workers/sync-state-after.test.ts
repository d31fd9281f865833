// /sync v2 `use_state_after` (spec v1.16+): state_after carries the state delta up to the
// END of the timeline — timeline state events included — and replaces `state`.
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3sync
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { createRoom, newUser, roomPath, sendMessage, V3, type TestUser } from "./room-helpers.ts";

type Sync = JsonObject & { next_batch: string; rooms?: any };

async function sync(u: TestUser, query: Record<string, string | number | boolean> = {}): Promise<Sync> {
  const q = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)] as [string, string]));
  return (await u.ok("GET", `${V3}/sync?${q}`)) as Sync;
}
const ids = (events: any[] | undefined) => (events ?? []).map((e: any) => `${e.type}|${e.state_key}|${e.content?.name ?? e.content?.membership ?? ""}`);

describe("/sync v2: use_state_after", () => {
  it("[sync: use_state_after] an initial sync sends state_after (the state at the end of the timeline) and omits state", async () => {
    const alice = await newUser("sa");
    const roomId = await createRoom(alice, { preset: "private_chat", name: "first" });
    await alice.ok("PUT", roomPath(roomId, "state/m.room.name/"), { name: "second" });
    const s = await sync(alice, { use_state_after: true });
    const room = s.rooms.join[roomId];
    expect(room.state).toBeUndefined();
    expect(ids(room.state_after.events)).toContain("m.room.name||second");
    expect(ids(room.state_after.events)).not.toContain("m.room.name||first");
    // The same sync without the parameter keeps the spec's old shape.
    const old = await sync(alice);
    expect(old.rooms.join[roomId].state_after).toBeUndefined();
  });

  it("[sync: use_state_after] an incremental sync puts a timeline state event in state_after too, and a plain message gives an empty state_after", async () => {
    const alice = await newUser("sb");
    const roomId = await createRoom(alice, { preset: "private_chat", name: "before" });
    const s0 = await sync(alice, { use_state_after: true });
    await alice.ok("PUT", roomPath(roomId, "state/m.room.name/"), { name: "after" });
    const s1 = await sync(alice, { use_state_after: true, since: s0.next_batch });
    const room = s1.rooms.join[roomId];
    expect(ids(room.timeline.events)).toContain("m.room.name||after");
    expect(ids(room.state_after.events)).toEqual(["m.room.name||after"]);
    expect(room.state).toBeUndefined();

    await sendMessage(alice, roomId, "just text");
    const s2 = await sync(alice, { use_state_after: true, since: s1.next_batch });
    const r2 = s2.rooms.join[roomId];
    expect(r2.timeline.events.map((e: any) => e.content.body)).toEqual(["just text"]);
    // Required even when empty.
    expect(r2.state_after).toEqual({ events: [] });
  });

  it("[sync: use_state_after] a state change hidden by the timeline filter still reaches the client", async () => {
    const alice = await newUser("sc");
    const roomId = await createRoom(alice, { preset: "private_chat", name: "old" });
    const filter = JSON.stringify({ room: { timeline: { types: ["m.room.message"] } } });
    const s0 = await sync(alice, { filter });
    await alice.ok("PUT", roomPath(roomId, "state/m.room.name/"), { name: "new" });
    await sendMessage(alice, roomId, "after rename");
    for (const useStateAfter of [false, true]) {
      const s1 = await sync(alice, { filter, since: s0.next_batch, use_state_after: useStateAfter });
      const room = s1.rooms.join[roomId];
      const state = useStateAfter ? room.state_after.events : room.state.events;
      expect(ids(state)).toContain("m.room.name||new");
    }
  });

  it("[sync: use_state_after] a bad value is 400 M_INVALID_PARAM", async () => {
    const alice = await newUser("sd");
    const r = await alice.call("GET", `${V3}/sync?use_state_after=yes`);
    expect(r.status).toBe(400);
    expect(r.body.errcode).toBe("M_INVALID_PARAM");
  });
});
