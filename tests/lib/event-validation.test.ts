import { describe, expect, it } from "vitest";
import { buildEvent, type BuildEventInput } from "../../lib/event-build.ts";
import { MatrixError } from "../../lib/errors.ts";
import { requiredSigningServers, validatePduFormat, verifyPduHashesAndSignatures, type GetServerKey } from "../../lib/event-validation.ts";
import type { JsonObject } from "../../lib/json.ts";
import { roomVersionRules } from "../../lib/room-versions.ts";
import { Ed25519Key, signEvent } from "../../lib/signing.ts";

const rules = (v: string) => roomVersionRules(v)!;
const H = (c: string) => "$" + c.repeat(43);

function expectError(f: () => void, errcode: string, msg: RegExp): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(MatrixError);
    expect((e as MatrixError).errcode).toBe(errcode);
    expect((e as MatrixError).message).toMatch(msg);
    return;
  }
  throw new Error(`expected ${errcode} ${msg}`);
}

const v11Event = (over: JsonObject = {}): JsonObject => ({
  room_id: "!r:example.org",
  sender: "@a:example.org",
  type: "m.room.message",
  content: { body: "hi" },
  origin_server_ts: 5,
  depth: 3,
  prev_events: [H("p")],
  auth_events: [H("a")],
  hashes: { sha256: "x" },
  signatures: { "example.org": { "ed25519:1": "sig" } },
  ...over,
});

describe("PDU format", () => {
  it("[server-server: pdu_v11] a well-formed event passes", () => {
    expect(() => validatePduFormat(v11Event(), rules("11"))).not.toThrow();
  });
  it("[client-server: size limits] the whole event is at most 65536 bytes of canonical JSON", () => {
    const fill = (n: number) => v11Event({ content: { body: "x".repeat(n) } });
    const size = (n: number) => JSON.stringify(fill(n)).length; // ASCII, already canonical-sized
    const fits = 65536 - size(0);
    expect(() => validatePduFormat(fill(fits), rules("11"))).not.toThrow();
    expectError(() => validatePduFormat(fill(fits + 1), rules("11")), "M_TOO_LARGE", /65537 bytes, more than 65536/);
  });
  it("[client-server: size limits] type, state_key, sender and room_id are at most 255 bytes", () => {
    expectError(() => validatePduFormat(v11Event({ type: "t".repeat(256) }), rules("11")), "M_TOO_LARGE", /type is longer/);
    expect(() => validatePduFormat(v11Event({ type: "t".repeat(255) }), rules("11"))).not.toThrow();
    expectError(() => validatePduFormat(v11Event({ state_key: "é".repeat(128) }), rules("11")), "M_TOO_LARGE", /state_key is longer/);
    expectError(() => validatePduFormat(v11Event({ sender: "@" + "a".repeat(250) + ":example.org" }), rules("11")), "M_TOO_LARGE", /sender is longer/);
    expectError(() => validatePduFormat(v11Event({ room_id: "!" + "a".repeat(250) + ":example.org" }), rules("11")), "M_TOO_LARGE", /room_id is longer/);
  });
  it("[server-server: pdu] field types", () => {
    const cases: [JsonObject, RegExp][] = [
      [{ type: 1 }, /type must be a string/],
      [{ state_key: null }, /state_key must be a string/],
      [{ sender: "alice" }, /sender is not a valid user ID/],
      [{ room_id: "r" }, /room_id is not a valid room ID/],
      [{ content: "x" }, /content must be an object/],
      [{ depth: -1 }, /depth must be an integer ≥ 0/],
      [{ depth: "1" }, /depth must be an integer/],
      [{ origin_server_ts: "5" }, /origin_server_ts must be an integer/],
      [{ prev_events: [1] }, /prev_events\[0\] must be an event ID/],
      [{ prev_events: ["$p:example.org"] }, /prev_events\[0\] is not a valid event ID/],
      [{ auth_events: {} }, /auth_events must be an array/],
      [{ hashes: {} }, /hashes.sha256 must be a string/],
      [{ signatures: { x: { k: 1 } } }, /signatures must map/],
      [{ unsigned: [] }, /unsigned must be an object/],
    ];
    for (const [over, msg] of cases) expectError(() => validatePduFormat(v11Event(over), rules("11")), "M_BAD_JSON", msg);
  });
  it("[server-server: pdu_v4] prev_events at most 20, auth_events at most 10", () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => "$" + String(i).padStart(43, "a"));
    expect(() => validatePduFormat(v11Event({ prev_events: ids(20), auth_events: ids(10) }), rules("11"))).not.toThrow();
    expectError(() => validatePduFormat(v11Event({ prev_events: ids(21) }), rules("11")), "M_BAD_JSON", /prev_events has 21 entries, more than 20/);
    expectError(() => validatePduFormat(v11Event({ auth_events: ids(11) }), rules("11")), "M_BAD_JSON", /auth_events has 11 entries, more than 10/);
  });
  it("[rooms/v6: canonical JSON] floats and out-of-range numbers are rejected since v6, with their path", () => {
    const ev = v11Event({ content: { a: [1, { b: 1.5 }] } });
    expectError(() => validatePduFormat(ev, rules("6")), "M_BAD_JSON", /content\.a\[1\]\.b is not an integer/);
    expectError(() => validatePduFormat(v11Event({ depth: 2 ** 53 }), rules("6")), "M_BAD_JSON", /depth is not an integer/);
  });
  it("[rooms/v5: canonical JSON] floats in content are tolerated before v6", () => {
    const v5 = v11Event({ content: { a: 1.5 }, prev_events: [H("p")], auth_events: [H("a")] });
    expect(() => validatePduFormat(v5, rules("5"))).not.toThrow();
  });
  it("[rooms/v1: event format] event_id and [id, hash] references are required", () => {
    const v1: JsonObject = { ...v11Event(), event_id: "$e:example.org", prev_events: [["$p:example.org", { sha256: "h" }]], auth_events: [] };
    expect(() => validatePduFormat(v1, rules("1"))).not.toThrow();
    const { event_id: _e, ...noId } = v1;
    expectError(() => validatePduFormat(noId, rules("1")), "M_BAD_JSON", /event_id must be a string/);
    expectError(() => validatePduFormat({ ...v1, prev_events: ["$p:example.org"] }, rules("1")), "M_BAD_JSON", /pair/);
  });
  it("[rooms/v3: event-ids] references must be in the version's event ID format", () => {
    expectError(() => validatePduFormat(v11Event({ prev_events: [H("_")] }), rules("3")), "M_BAD_JSON", /not a valid event ID/);
    expect(() => validatePduFormat(v11Event({ prev_events: [H("/")] }), rules("3"))).not.toThrow();
  });
  it("[rooms/v12: room-ids] create events have no room_id; other events use the hash room ID", () => {
    const { room_id: _r, ...create } = v11Event({ type: "m.room.create", state_key: "", content: { room_version: "12" } });
    expect(() => validatePduFormat(create, rules("12"))).not.toThrow();
    expectError(() => validatePduFormat({ ...create, room_id: "!" + "c".repeat(43) }, rules("12")), "M_BAD_JSON", /no room_id since room version 12/);
    expectError(() => validatePduFormat(v11Event(), rules("12")), "M_BAD_JSON", /not a valid room ID for this room version/);
    expect(() => validatePduFormat(v11Event({ room_id: "!" + "c".repeat(43) }), rules("12"))).not.toThrow();
    expectError(() => validatePduFormat(create, rules("11")), "M_BAD_JSON", /room_id must be a string/);
  });
  it("[rooms/v11: redactions] m.room.redaction needs content.redacts since v11, top-level redacts before", () => {
    expect(() => validatePduFormat(v11Event({ type: "m.room.redaction", content: { redacts: H("t") } }), rules("11"))).not.toThrow();
    expectError(() => validatePduFormat(v11Event({ type: "m.room.redaction", redacts: H("t"), content: {} }), rules("11")), "M_BAD_JSON", /content.redacts/);
    expect(() => validatePduFormat(v11Event({ type: "m.room.redaction", redacts: H("t"), content: {} }), rules("10"))).not.toThrow();
    expectError(() => validatePduFormat(v11Event({ type: "m.room.redaction", content: { redacts: H("t") } }), rules("10")), "M_BAD_JSON", /redacts must be a string/);
  });
});

describe("hashes and signatures", () => {
  const keyOf = (keys: Record<string, Ed25519Key>, validUntilTs?: number): GetServerKey => async (server, keyId) => {
    const k = keys[server];
    return k && k.keyId === keyId ? { key: k.publicKeyBase64, ...(validUntilTs !== undefined ? { validUntilTs } : {}) } : undefined;
  };
  const input = (v: string, over: Partial<BuildEventInput> = {}): BuildEventInput => ({
    rules: rules(v),
    roomId: "!r:a.example",
    sender: "@u:a.example",
    type: "m.room.message",
    content: { body: "hi" },
    prevEvents: [],
    authEvents: [],
    depth: 1,
    originServerTs: 1000,
    origin: "a.example",
    ...over,
  });

  it("[server-server: validating signatures] a correctly signed event passes", async () => {
    const a = await Ed25519Key.generate("ed25519:a");
    const { wire } = await buildEvent(input("11"), a, "a.example");
    expect(await verifyPduHashesAndSignatures(wire, rules("11"), keyOf({ "a.example": a }))).toEqual({ ok: true, redactNeeded: false });
  });
  it("[server-server: validating signatures] a missing or bad signature from the sender's server rejects", async () => {
    const a = await Ed25519Key.generate("ed25519:a");
    const b = await Ed25519Key.generate("ed25519:a");
    const { wire } = await buildEvent(input("11"), a, "a.example");
    const wrongKey = await verifyPduHashesAndSignatures(wire, rules("11"), keyOf({ "a.example": b }));
    expect(wrongKey).toMatchObject({ ok: false, reason: expect.stringMatching(/no valid signature from a.example.*bad signature/) });
    const unknownKey = await verifyPduHashesAndSignatures(wire, rules("11"), keyOf({}));
    expect(unknownKey).toMatchObject({ ok: false, reason: expect.stringMatching(/key unknown/) });
    const unsigned = await verifyPduHashesAndSignatures({ ...wire, signatures: {} }, rules("11"), keyOf({ "a.example": a }));
    expect(unsigned).toMatchObject({ ok: false, reason: "no ed25519 signature from a.example" });
    // a field kept by redaction was changed after signing
    const tampered = await verifyPduHashesAndSignatures({ ...wire, origin_server_ts: 1001 }, rules("11"), keyOf({ "a.example": a }));
    expect(tampered.ok).toBe(false);
  });
  it("[server-server: validating hashes] changed content means redact, not reject", async () => {
    const a = await Ed25519Key.generate("ed25519:a");
    const { wire } = await buildEvent(input("11"), a, "a.example");
    const r = await verifyPduHashesAndSignatures({ ...wire, content: { body: "changed" } }, rules("11"), keyOf({ "a.example": a }));
    expect(r).toEqual({ ok: true, redactNeeded: true });
  });
  it("[rooms/v1: signatures] the event ID's server must sign too in v1–v2, not in v3+", async () => {
    const a = await Ed25519Key.generate("ed25519:a");
    const { wire } = await buildEvent(input("2"), a, "a.example");
    const foreignId = { ...wire, event_id: "$x:b.example" };
    expect(requiredSigningServers(foreignId, rules("2"))).toEqual(new Set(["a.example", "b.example"]));
    // re-sign by a.example with the new ID, so only b.example's signature is missing
    const resigned = await signEvent({ ...foreignId, signatures: {} }, "a.example", a, rules("2"));
    const r = await verifyPduHashesAndSignatures(resigned, rules("2"), keyOf({ "a.example": a }));
    expect(r).toMatchObject({ ok: false, reason: "no ed25519 signature from b.example" });
    expect(requiredSigningServers(foreignId, rules("3"))).toEqual(new Set(["a.example"]));
  });
  it("[rooms/v8: restricted joins] the authorising user's server must sign a join since v8", async () => {
    const a = await Ed25519Key.generate("ed25519:a");
    const b = await Ed25519Key.generate("ed25519:b");
    const join = input("8", { type: "m.room.member", stateKey: "@u:a.example", content: { membership: "join", join_authorised_via_users_server: "@res:b.example" } });
    const { wire } = await buildEvent(join, a, "a.example");
    expect(requiredSigningServers(wire, rules("8"))).toEqual(new Set(["a.example", "b.example"]));
    expect(requiredSigningServers(wire, rules("7"))).toEqual(new Set(["a.example"]));
    const keys = keyOf({ "a.example": a, "b.example": b });
    expect(await verifyPduHashesAndSignatures(wire, rules("8"), keys)).toMatchObject({ ok: false, reason: "no ed25519 signature from b.example" });
    const cosigned = await signEvent(wire, "b.example", b, rules("8"));
    expect(await verifyPduHashesAndSignatures(cosigned, rules("8"), keys)).toEqual({ ok: true, redactNeeded: false });
  });
  it("[server-server: validating signatures] an invite from a third-party invite does not need the sender's server", () => {
    const ev = v11Event({ type: "m.room.member", state_key: "@i:c.example", content: { membership: "invite", third_party_invite: { signed: {} } } });
    expect(requiredSigningServers(ev, rules("11"))).toEqual(new Set());
    expect(requiredSigningServers({ ...ev, content: { membership: "invite" } }, rules("11"))).toEqual(new Set(["example.org"]));
  });
  it("[rooms/v5: key validity] a key expired before origin_server_ts is refused since v5, not in v4", async () => {
    const a = await Ed25519Key.generate("ed25519:a");
    for (const [v, ok] of [["4", true], ["5", false]] as const) {
      const { wire } = await buildEvent(input(v, { originServerTs: 2000 }), a, "a.example");
      const r = await verifyPduHashesAndSignatures(wire, rules(v), keyOf({ "a.example": a }, 1999));
      expect(r.ok, `v${v}`).toBe(ok);
      if (!r.ok) expect(r.reason).toMatch(/key expired at 1999/);
      expect((await verifyPduHashesAndSignatures(wire, rules(v), keyOf({ "a.example": a }, 2000))).ok).toBe(true);
    }
  });
});
