import { readFileSync } from "node:fs";
import { canonicalJson } from "../../lib/canonical-json.ts";
import { describe, expect, it } from "vitest";
import { decodeBase64 } from "../../lib/base64.ts";
import { buildEvent, type BuildEventInput } from "../../lib/event-build.ts";
import { computeEventId } from "../../lib/event-id.ts";
import { verifyPduHashesAndSignatures } from "../../lib/event-validation.ts";
import { isValidEventId, isValidRoomId } from "../../lib/identifiers.ts";
import type { JsonObject } from "../../lib/json.ts";
import { ROOM_VERSIONS, roomVersionRules } from "../../lib/room-versions.ts";
import { Ed25519Key } from "../../lib/signing.ts";

const vectors = JSON.parse(readFileSync(new URL("../../../shared/vectors/spec-appendix.json", import.meta.url), "utf8")) as {
  signing: { seed_base64: string; public_key_base64: string; server_name: string; key_id: string };
  event_signing_room_v1_redaction: { input: JsonObject; output: JsonObject }[];
};
const specKey = () => Ed25519Key.fromSeed(decodeBase64(vectors.signing.seed_base64), vectors.signing.key_id);
const rules = (v: string) => roomVersionRules(v)!;
const T = "$" + "t".repeat(43);

const base = (v: string, over: Partial<BuildEventInput> = {}): BuildEventInput => ({
  rules: rules(v),
  roomId: "!r:domain",
  sender: "@a:domain",
  type: "m.room.message",
  content: { body: "hi" },
  prevEvents: [],
  authEvents: [],
  depth: 3,
  originServerTs: 1000000,
  origin: "domain",
  ...over,
});

describe("building events", () => {
  it("[server-server: signing events] a v3 build of the spec's first event gives the spec's hash and signature", async () => {
    // v3–v5 share v1's redaction rules and carry no event_id, so the output must be the vector's.
    const v = vectors.event_signing_room_v1_redaction[0]!;
    const built = await buildEvent(
      { ...base("3"), roomId: "!x:domain", type: "X", content: {}, unsigned: { age_ts: 1000000 } },
      await specKey(),
      "domain",
    );
    expect(built.wire).toEqual(v.output);
    expect(built.pdu.event_id).toBe(await computeEventId(v.output, rules("3")));
  });
  for (const v of ROOM_VERSIONS.keys()) {
    it(`[rooms/v${v}] a built event has a valid ID, hash and signature`, async () => {
      const key = await specKey();
      const r = rules(v);
      const prev = r.eventFormat.eventIdFormat === "server-scoped" ? "$prev:domain" : "$" + "A".repeat(43);
      const built = await buildEvent(base(v, { prevEvents: [prev], authEvents: [prev], roomId: r.eventFormat.roomIdIsCreateEventHash ? "!" + "B".repeat(43) : "!r:domain" }), key, "domain");
      expect(isValidEventId(built.pdu.event_id, r.eventFormat)).toBe(true);
      expect(built.pdu.event_id).toBe(await computeEventId(built.wire, r));
      // The canonical text handed to storage is the wire event's, byte for byte.
      expect(built.canonical).toBe(canonicalJson(built.wire));
      expect(built.pdu.prev_events).toEqual([prev]);
      expect(built.wire.prev_events).toEqual(r.eventFormat.referencesCarryHashes ? [[prev, {}]] : [prev]);
      expect("origin" in built.wire).toBe(!r.redaction.dropOriginMembershipPrevState);
      const result = await verifyPduHashesAndSignatures(built.wire, r, async (s, k) => (s === "domain" && k === "ed25519:1" ? { key: key.publicKeyBase64 } : undefined));
      expect(result).toEqual({ ok: true, redactNeeded: false });
    });
  }
  it("[rooms/v12: room-ids] a create event has no room_id and defines the room ID", async () => {
    const built = await buildEvent(base("12", { roomId: undefined, type: "m.room.create", stateKey: "", content: { room_version: "12" } }), await specKey(), "domain");
    expect("room_id" in built.wire).toBe(false);
    expect(built.roomId).toBe("!" + built.pdu.event_id.slice(1));
    expect(isValidRoomId(built.roomId, rules("12").eventFormat)).toBe(true);
    await expect(buildEvent(base("12", { type: "m.room.create", stateKey: "", roomId: "!x:y" }), await specKey(), "domain")).rejects.toThrow(/no room_id/);
  });
  it("[rooms/v11: create] a v11 create event still has its room_id", async () => {
    const built = await buildEvent(base("11", { type: "m.room.create", stateKey: "", content: { room_version: "11" } }), await specKey(), "domain");
    expect(built.wire.room_id).toBe("!r:domain");
    expect(built.roomId).toBe("!r:domain");
    await expect(buildEvent(base("11", { roomId: undefined }), await specKey(), "domain")).rejects.toThrow(/roomId is required/);
  });
  it("[rooms/v10: redactions] redacts is a top-level key", async () => {
    const built = await buildEvent(base("10", { type: "m.room.redaction", content: { reason: "r" }, redacts: "$t:domain" }), await specKey(), "domain");
    expect(built.wire.redacts).toBe("$t:domain");
    expect(built.wire.content).toEqual({ reason: "r" });
    expect(built.pdu.redacts).toBe("$t:domain");
  });
  it("[rooms/v11: redactions] redacts goes in content", async () => {
    const content = { reason: "r" };
    const built = await buildEvent(base("11", { type: "m.room.redaction", content, redacts: T }), await specKey(), "domain");
    expect("redacts" in built.wire).toBe(false);
    expect(built.wire.content).toEqual({ reason: "r", redacts: T });
    expect(content).toEqual({ reason: "r" }); // input not modified
  });
  it("[rooms/v1: event-ids] v1–v2 events get a fresh $opaque:server ID", async () => {
    const built = await buildEvent(base("2"), await specKey(), "domain");
    expect(built.wire.event_id).toBe(built.pdu.event_id);
    expect(built.pdu.event_id).toMatch(/^\$[A-Za-z0-9_-]{18}:domain$/);
  });
  it("unsigned is carried but not hashed or signed", async () => {
    const key = await specKey();
    const a = await buildEvent(base("11", { unsigned: { transaction_id: "t1" } }), key, "domain");
    const b = await buildEvent(base("11"), key, "domain");
    expect(a.wire.unsigned).toEqual({ transaction_id: "t1" });
    expect(a.pdu.event_id).toBe(b.pdu.event_id);
  });
  it("[client-server: size limits] an event over 65536 bytes is M_TOO_LARGE", async () => {
    await expect(buildEvent(base("11", { content: { body: "x".repeat(65536) } }), await specKey(), "domain")).rejects.toMatchObject({ errcode: "M_TOO_LARGE" });
  });
});
