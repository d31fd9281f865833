import { describe, expect, it } from "vitest";
import { MatrixError } from "../../lib/errors.ts";
import { clientEventFromPdu, parsePdu, pduFromWire, pduToWire, redactsOf, referenceHashesOf } from "../../lib/event-format.ts";
import { computeEventId } from "../../lib/event-id.ts";
import type { JsonObject } from "../../lib/json.ts";
import type { Pdu } from "../../lib/pdu.ts";
import { roomVersionRules } from "../../lib/room-versions.ts";

const rules = (v: string) => roomVersionRules(v)!;

// A real v1 event (gomatrixserverlib eventversion_test.go, Apache-2.0).
const V1_WIRE = JSON.parse(
  `{"auth_events":[["$oXL79cT7fFxR7dPH:localhost",{"sha256":"abjkiDSg1RkuZrbj2jZoGMlQaaj1Ue3Jhi7I7NlKfXY"}],["$IVUsaSkm1LBAZYYh:localhost",{"sha256":"X7RUj46hM/8sUHNBIFkStbOauPvbDzjSdH4NibYWnko"}]],"content":{"name":"test3"},"depth":7,"event_id":"$yvN1b43rlmcOs5fY:localhost","hashes":{"sha256":"Oh1mwI1jEqZ3tgJ+V1Dmu5nOEGpCE4RFUqyJv2gQXKs"},"origin":"localhost","origin_server_ts":1510854416361,"prev_events":[["$FqI6TVvWpcbcnJ97:localhost",{"sha256":"upCsBqUhNUgT2/+zkzg8TbqdQpWWKQnZpGJc6KcbUC4"}]],"prev_state":[],"room_id":"!19Mp0U9hjajeIiw1:localhost","sender":"@test:localhost","signatures":{"localhost":{"ed25519:u9kP":"5IzSuRXkxvbTp0vZhhXYZeOe+619iG3AybJXr7zfNn/4vHz4TH7qSJVQXSaHHvcTcDodAKHnTG1WDulgO5okAQ"}},"state_key":"","type":"m.room.name"}`,
) as JsonObject;
const V4_WIRE: JsonObject = {
  room_id: "!r:example.org",
  sender: "@a:example.org",
  type: "m.room.message",
  content: { body: "hi" },
  origin: "example.org",
  origin_server_ts: 5,
  depth: 3,
  prev_events: ["$p"],
  auth_events: ["$a1", "$a2"],
  hashes: { sha256: "x" },
  signatures: {},
  unsigned: { age: 1 },
  some_future_key: { kept: true },
};

describe("event format: wire ⇄ Pdu", () => {
  it("[rooms/v1: event format] references are [id, hashes] pairs; the event ID is carried", () => {
    const pdu = pduFromWire(V1_WIRE, rules("1"));
    expect(pdu.event_id).toBe("$yvN1b43rlmcOs5fY:localhost");
    expect(pdu.prev_events).toEqual(["$FqI6TVvWpcbcnJ97:localhost"]);
    expect(pdu.auth_events).toEqual(["$oXL79cT7fFxR7dPH:localhost", "$IVUsaSkm1LBAZYYh:localhost"]);
    expect((pdu as unknown as JsonObject).origin).toBe("localhost");
    expect(pduToWire(pdu, rules("1"), referenceHashesOf(V1_WIRE))).toEqual(V1_WIRE);
  });
  it("[rooms/v1: event format] unknown reference hashes are written as {}", () => {
    const pdu = pduFromWire(V1_WIRE, rules("2"));
    const wire = pduToWire(pdu, rules("2"));
    expect(wire.prev_events).toEqual([["$FqI6TVvWpcbcnJ97:localhost", {}]]);
    const viaFunction = pduToWire(pdu, rules("2"), (id) => (id.startsWith("$Fq") ? { sha256: "h" } : undefined));
    expect(viaFunction.prev_events).toEqual([["$FqI6TVvWpcbcnJ97:localhost", { sha256: "h" }]]);
  });
  it("[rooms/v4: event format] plain ID references; the event ID is passed in and not written back", async () => {
    const id = await computeEventId(V4_WIRE, rules("4"));
    const pdu = pduFromWire(V4_WIRE, rules("4"), id);
    expect(pdu.event_id).toBe(id);
    expect(pdu.prev_events).toEqual(["$p"]);
    const back = pduToWire(pdu, rules("4"));
    expect(back).toEqual(V4_WIRE);
    expect("event_id" in back).toBe(false);
    expect(await parsePdu(V4_WIRE, rules("4"))).toEqual(pdu);
  });
  it("[rooms/v3: event format] v3+ needs the computed event ID", () => {
    expect(() => pduFromWire(V4_WIRE, rules("3"))).toThrow(/event ID must be computed/);
  });
  it("malformed PDUs are M_BAD_JSON with the field named", () => {
    const cases: [JsonObject, RegExp][] = [
      [{ ...V4_WIRE, sender: 1 }, /sender must be a string/],
      [{ ...V4_WIRE, content: [] }, /content must be an object/],
      [{ ...V4_WIRE, prev_events: "$p" }, /prev_events must be an array/],
      [{ ...V4_WIRE, auth_events: [["$a", {}]] }, /auth_events\[0\] must be an event ID string/],
      [{ ...V4_WIRE, state_key: 5 }, /state_key must be a string/],
    ];
    for (const [json, msg] of cases) {
      expect(() => pduFromWire(json, rules("4"), "$x")).toThrow(msg);
      expect(() => pduFromWire(json, rules("4"), "$x")).toThrow(MatrixError);
    }
    expect(() => pduFromWire({ ...V1_WIRE, prev_events: [["$a"]] }, rules("1"))).toThrow(/\[event_id, \{sha256\}\] pair/);
  });
  it("[hostile JSON] a __proto__ top-level key survives as data", async () => {
    const json = JSON.parse(JSON.stringify(V4_WIRE).replace("{", '{"__proto__":{"x":1},')) as JsonObject;
    const pdu = pduFromWire(json, rules("4"), "$x");
    expect(Object.getPrototypeOf(pdu)).toBe(Object.prototype);
    expect(Object.keys(pduToWire(pdu, rules("4")))).toContain("__proto__");
  });
});

const pdu = (over: Partial<Pdu>): Pdu => ({
  event_id: "$e",
  room_id: "!r:x",
  sender: "@a:x",
  type: "m.room.message",
  content: { body: "b" },
  origin_server_ts: 9,
  prev_events: [],
  auth_events: [],
  ...over,
});

describe("ClientEvent", () => {
  it("[client-server: room event format] carries the ClientEvent fields only", () => {
    const ev = clientEventFromPdu(pdu({ depth: 4, hashes: { sha256: "h" }, signatures: {}, unsigned: { age: 3 }, state_key: "" }));
    expect(ev).toEqual({ event_id: "$e", room_id: "!r:x", sender: "@a:x", type: "m.room.message", content: { body: "b" }, origin_server_ts: 9, state_key: "", unsigned: { age: 3 } });
    expect("state_key" in clientEventFromPdu(pdu({}))).toBe(false);
  });
  it("[rooms/v11: redactions] content.redacts is mirrored to the top level for older clients", () => {
    const ev = clientEventFromPdu(pdu({ type: "m.room.redaction", content: { redacts: "$t", reason: "r" } }));
    expect(ev.redacts).toBe("$t");
    expect(ev.content).toEqual({ redacts: "$t", reason: "r" });
  });
  it("[rooms/v10: redactions] top-level redacts is mirrored into content for newer clients", () => {
    const p = pdu({ type: "m.room.redaction", redacts: "$t", content: { reason: "r" } });
    const ev = clientEventFromPdu(p);
    expect(ev.redacts).toBe("$t");
    expect(ev.content).toEqual({ reason: "r", redacts: "$t" });
    expect(p.content).toEqual({ reason: "r" }); // not modified
  });
  it("[rooms/v12: room-ids] a create event's room ID comes from its event ID", () => {
    const { room_id: _r, ...create } = pdu({ type: "m.room.create", event_id: "$abc", state_key: "" });
    expect(clientEventFromPdu(create as Pdu).room_id).toBe("!abc");
    const { room_id: _s, ...msg } = pdu({});
    expect(() => clientEventFromPdu(msg as Pdu)).toThrow(/no room_id/);
  });
  it("redactsOf reads the right place per room version", () => {
    expect(redactsOf(pdu({ type: "m.room.redaction", redacts: "$t" }), rules("10"))).toBe("$t");
    expect(redactsOf(pdu({ type: "m.room.redaction", redacts: "$t" }), rules("11"))).toBeUndefined();
    expect(redactsOf(pdu({ type: "m.room.redaction", content: { redacts: "$c" } }), rules("11"))).toBe("$c");
    expect(redactsOf(pdu({ type: "m.room.message", content: { redacts: "$c" } }), rules("11"))).toBeUndefined();
  });
});
