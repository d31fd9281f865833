import { describe, expect, it } from "vitest";
import {
  computeEventId,
  computeRoomIdForCreateEvent,
  createEventIdFromRoomId,
  generateServerScopedEventId,
  roomIdFromCreateEventId,
} from "../../lib/event-id.ts";
import { computeContentHash } from "../../lib/hashes.ts";
import { isValidEventId, isValidRoomId } from "../../lib/identifiers.ts";
import type { JsonObject } from "../../lib/json.ts";
import { roomVersionRules } from "../../lib/room-versions.ts";

const rules = (v: string) => roomVersionRules(v)!;

// Real events with known IDs, as published in gomatrixserverlib's eventversion_test.go (Apache-2.0).
const V1_EVENT = JSON.parse(
  `{"auth_events":[["$oXL79cT7fFxR7dPH:localhost",{"sha256":"abjkiDSg1RkuZrbj2jZoGMlQaaj1Ue3Jhi7I7NlKfXY"}],["$IVUsaSkm1LBAZYYh:localhost",{"sha256":"X7RUj46hM/8sUHNBIFkStbOauPvbDzjSdH4NibYWnko"}],["$VS2QT0EeArZYi8wf:localhost",{"sha256":"k9eM6utkCH8vhLW9/oRsH74jOBS/6RVK42iGDFbylno"}]],"content":{"name":"test3"},"depth":7,"event_id":"$yvN1b43rlmcOs5fY:localhost","hashes":{"sha256":"Oh1mwI1jEqZ3tgJ+V1Dmu5nOEGpCE4RFUqyJv2gQXKs"},"origin":"localhost","origin_server_ts":1510854416361,"prev_events":[["$FqI6TVvWpcbcnJ97:localhost",{"sha256":"upCsBqUhNUgT2/+zkzg8TbqdQpWWKQnZpGJc6KcbUC4"}]],"prev_state":[],"room_id":"!19Mp0U9hjajeIiw1:localhost","sender":"@test:localhost","signatures":{"localhost":{"ed25519:u9kP":"5IzSuRXkxvbTp0vZhhXYZeOe+619iG3AybJXr7zfNn/4vHz4TH7qSJVQXSaHHvcTcDodAKHnTG1WDulgO5okAQ"}},"state_key":"","type":"m.room.name"}`,
) as JsonObject;
const JKI_CREATE = JSON.parse(
  `{"auth_events": [], "prev_events": [], "type": "m.room.create", "room_id": "!uXDCzlYgCTHtiWCkEx:jki.re", "sender": "@erikj:jki.re", "content": {"room_version": "5", "predecessor": {"room_id": "!gdRMqOrTFdOCYHNwOo:half-shot.uk", "event_id": "$LP7ROBc4b+cMc1UE9haIz8q5AK2AIW4eJ90FfKLvyZI"}, "creator": "@erikj:jki.re"}, "depth": 1, "prev_state": [], "state_key": "", "origin": "jki.re", "origin_server_ts": 1560284621137, "hashes": {"sha256": "IX6zuNiJpJPNf70BLleL3HSCpjKeq9Uhu7uUpyDjBmc"}, "signatures": {"jki.re": {"ed25519:auto": "O4IyFfF2PPtGp5uaDm8t57dZbdh8vc8Q64LgCwvzYRVItAMI0uisfiAFaxkVT7MRpzh6N2QNN5NMRXZKmgPYDA"}}, "unsigned": {"age": 1321650}}`,
) as JsonObject;

describe("event IDs", () => {
  it("[rooms/v1: event-ids] the event ID is carried in the event", async () => {
    expect(await computeEventId(V1_EVENT, rules("1"))).toBe("$yvN1b43rlmcOs5fY:localhost");
    await expect(computeEventId({ ...V1_EVENT, event_id: undefined } as unknown as JsonObject, rules("2"))).rejects.toThrow(/event_id/);
  });
  it("[server-server: content hash] real v1 and v5 events have the content hash they carry", async () => {
    expect(await computeContentHash(V1_EVENT)).toBe("Oh1mwI1jEqZ3tgJ+V1Dmu5nOEGpCE4RFUqyJv2gQXKs");
    expect(await computeContentHash(JKI_CREATE)).toBe("IX6zuNiJpJPNf70BLleL3HSCpjKeq9Uhu7uUpyDjBmc");
  });
  it("[rooms/v3: event-ids] $ + standard base64 reference hash (real event)", async () => {
    const id = await computeEventId(JKI_CREATE, rules("3"));
    expect(id).toBe("$RrGxF28UrHLmoASHndYb9Jb/1SFww2ptmtur9INS438");
    expect(isValidEventId(id, rules("3").eventFormat)).toBe(true);
  });
  it("[rooms/v4: event-ids] $ + URL-safe reference hash (real event)", async () => {
    const id = await computeEventId(JKI_CREATE, rules("4"));
    expect(id).toBe("$RrGxF28UrHLmoASHndYb9Jb_1SFww2ptmtur9INS438");
    expect(await computeEventId(JKI_CREATE, rules("5"))).toBe(id);
    expect(isValidEventId(id, rules("4").eventFormat)).toBe(true);
  });
  it("[rooms/v4: event-ids] unsigned and signatures do not change the ID; content kept by redaction does", async () => {
    const id = await computeEventId(JKI_CREATE, rules("5"));
    expect(await computeEventId({ ...JKI_CREATE, unsigned: {}, signatures: {} }, rules("5"))).toBe(id);
    const content = { ...(JKI_CREATE.content as JsonObject), creator: "@other:jki.re" };
    expect(await computeEventId({ ...JKI_CREATE, content }, rules("5"))).not.toBe(id);
  });
  it("[rooms/v11: redactions] `origin` no longer takes part in the ID", async () => {
    const other = { ...JKI_CREATE, origin: "elsewhere" };
    expect(await computeEventId(other, rules("10"))).not.toBe(await computeEventId(JKI_CREATE, rules("10")));
    expect(await computeEventId(other, rules("11"))).toBe(await computeEventId(JKI_CREATE, rules("11")));
  });
  it("[rooms/v1: event-ids] generated server-scoped IDs are valid and distinct", () => {
    const a = generateServerScopedEventId("example.org");
    expect(a).toMatch(/^\$[A-Za-z0-9_-]{18}:example\.org$/);
    expect(isValidEventId(a, rules("1").eventFormat)).toBe(true);
    expect(generateServerScopedEventId("example.org")).not.toBe(a);
  });
});

describe("room IDs", () => {
  const { room_id: _r, ...create12 } = { ...JKI_CREATE, content: { room_version: "12" } } as JsonObject;
  it("[rooms/v12: room-ids] the room ID is ! + URL-safe reference hash of the create event", async () => {
    const roomId = await computeRoomIdForCreateEvent(create12, rules("12"));
    const eventId = await computeEventId(create12, rules("12"));
    expect(roomId).toBe("!" + eventId.slice(1));
    expect(isValidRoomId(roomId, rules("12").eventFormat)).toBe(true);
    expect(createEventIdFromRoomId(roomId, rules("12"))).toBe(eventId);
    expect(roomIdFromCreateEventId(eventId, rules("12"))).toBe(roomId);
  });
  it("[rooms/v12: room-ids] a create event with a room_id, or an older version, is refused", async () => {
    await expect(computeRoomIdForCreateEvent({ ...create12, room_id: "!x:y" }, rules("12"))).rejects.toThrow(/room_id/);
    await expect(computeRoomIdForCreateEvent(create12, rules("11"))).rejects.toThrow(/version 12/);
    expect(createEventIdFromRoomId("!abc:x", rules("11"))).toBeUndefined();
  });
});
