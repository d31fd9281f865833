// Device-list tracking by rooms (lib/e2ee/device-list-tracking.ts): what a sync's room
// answers say, and how per-room member lists turn into changed/left.
import { describe, expect, it } from "vitest";
import { applyObservations, observeRooms, type MemberLists } from "../../../lib/e2ee/device-list-tracking.ts";
import { decodeView, encodeView, isAhead, mergePosition } from "../../../lib/sync/position.ts";

/** MemberLists over plain maps, as the actor's SQL holds them. */
function memoryLists(): MemberLists & { rooms: Map<string, { stream: number; d: number; users: Set<string> }> } {
  const rooms = new Map<string, { stream: number; d: number; users: Set<string> }>();
  const room = (id: string) => {
    let r = rooms.get(id);
    if (!r) rooms.set(id, (r = { stream: 0, d: 0, users: new Set() }));
    return r;
  };
  return {
    rooms,
    streamOf: (id) => rooms.get(id)?.stream,
    deviceListPosOf: (id) => rooms.get(id)?.d ?? 0,
    members: (id) => [...(rooms.get(id)?.users ?? [])],
    add: (id, u) => void room(id).users.add(u),
    remove: (id, u) => void rooms.get(id)?.users.delete(u),
    dropRoom: (id) => void rooms.delete(id),
    setRoom: (id, stream) => void (room(id).stream = stream),
    setDeviceListPos: (id, d) => void (room(id).d = d),
    shared: (u) => [...rooms.values()].some((r) => r.users.has(u)),
  };
}

const ME = "@me:x";

describe("[e2ee: device lists] observations from room answers", () => {
  it("whole lists, changes, departures and key changes; what was sent already is not sent again", () => {
    const obs = observeRooms(
      [
        ["!a", { membership: "join", position: { s: 5 }, members: [ME, "@b:x"] }],
        ["!b", { membership: "join", position: { s: 9, d: 3 }, memberChanges: { joined: ["@c:x"], left: [] }, deviceListChanged: ["@d:x"] }],
        ["!c", { membership: "leave", position: { s: 4 } }],
        ["!d", { membership: "invite", position: { s: 1 } }],
        ["!e", { membership: "join", position: { s: 7 } }],
        ["!f", { membership: "join", position: { s: 3 }, members: ["@z:x"] }],
      ],
      [["!c", 4], ["!g", 8], ["!h", 2]],
      { lists: new Map([["!f", 3]]), gone: new Map([["!h", 2]]) },
    );
    expect(obs).toEqual([
      { roomId: "!a", stream: 5, members: [ME, "@b:x"] },
      { roomId: "!b", stream: 9, joined: ["@c:x"], left: [], d: 3, keysChanged: ["@d:x"] },
      { roomId: "!c", stream: 4, gone: true },
      { roomId: "!g", stream: 8, gone: true }, // left while no answer covered it; !h was sent already
    ]);
  });

  it("a user is changed when first shared, left when the last shared room goes, and key changes count only while shared", () => {
    const lists = memoryLists();
    let out = applyObservations(lists, ME, [{ roomId: "!a", stream: 5, members: [ME, "@b:x", "@c:x"] }]);
    expect(Object.fromEntries(out.sharing)).toEqual({ "@b:x": true, "@c:x": true });
    out = applyObservations(lists, ME, [{ roomId: "!b", stream: 2, members: ["@b:x"] }]);
    expect(out.sharing.size).toBe(0); // already shared through !a
    out = applyObservations(lists, ME, [{ roomId: "!a", stream: 6, joined: [], left: ["@b:x", "@c:x"] }]);
    expect(Object.fromEntries(out.sharing)).toEqual({ "@c:x": false }); // @b:x still in !b
    out = applyObservations(lists, ME, [{ roomId: "!b", stream: 3, gone: true }]);
    expect(Object.fromEntries(out.sharing)).toEqual({ "@b:x": false });
    out = applyObservations(lists, ME, [{ roomId: "!a", stream: 8, d: 4, keysChanged: ["@c:x", "@e:x"] }]);
    expect(out.keysChanged).toEqual([]); // neither shares a room now
  });

  it("older facts never overwrite newer ones, and a key change is recorded once per room position", () => {
    const lists = memoryLists();
    applyObservations(lists, ME, [{ roomId: "!a", stream: 10, members: ["@b:x"] }]);
    // Another device's answer computed earlier arrives late: ignored.
    const late = applyObservations(lists, ME, [{ roomId: "!a", stream: 8, members: ["@b:x", "@c:x"] }]);
    expect(late.sharing.size).toBe(0);
    expect(lists.members("!a")).toEqual(["@b:x"]);
    expect(applyObservations(lists, ME, [{ roomId: "!a", stream: 7, gone: true }]).sharing.size).toBe(0);
    expect(applyObservations(lists, ME, [{ roomId: "!a", stream: 10, d: 2, keysChanged: ["@b:x"] }]).keysChanged).toEqual(["@b:x"]);
    expect(applyObservations(lists, ME, [{ roomId: "!a", stream: 11, d: 2, keysChanged: ["@b:x"] }]).keysChanged).toEqual([]);
    expect(applyObservations(lists, ME, [{ roomId: "!a", stream: 11, d: 3, keysChanged: ["@b:x", ME] }]).keysChanged).toEqual(["@b:x"]);
  });
});

describe("[sync: tokens] the device-list part of a room position", () => {
  it("moves a room ahead, merges by maximum and survives a token round trip (absent is 0)", () => {
    expect(isAhead({ s: 1, r: 0, t: 0, d: 2 }, { s: 1, r: 0, t: 0, d: 1 })).toBe(true);
    expect(isAhead({ s: 1, r: 0, t: 0, d: 1 }, { s: 1, r: 0, t: 0 })).toBe(true);
    expect(isAhead({ s: 1, r: 0, t: 0 }, { s: 1, r: 0, t: 0, d: 1 })).toBe(false);
    expect(mergePosition({ s: 1, r: 0, t: 0, b: 0, d: 3 }, { s: 2, r: 0, t: 0, b: 0 })).toEqual({ s: 2, r: 0, t: 0, b: 0, d: 3 });
    const v = { m: "join" as const, ms: 1, s: 5, r: 2, t: 0, d: 7 };
    expect(encodeView(3, v)).toBe("3.j.1.5.2.0.7");
    expect(decodeView(encodeView(3, v))).toEqual({ idx: 3, view: v });
    expect(decodeView("3.j.1.5.2.0")).toEqual({ idx: 3, view: { m: "join", ms: 1, s: 5, r: 2, t: 0 } });
    expect(decodeView("3.j.1.5.2.0.0")).toBeUndefined();
  });
});
