/**
 * gomatrixserverlib's event authorization tables (/work/shared/vectors/README.md): each
 * `allowed` event must pass and each `not_allowed` event must be rejected, against
 * `auth_events` as the state. The rule we reject with is checked too, so that a rejection
 * for an unrelated reason cannot pass as the expected one.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { authorizeEvent } from "../../../lib/auth/index.ts";
import type { JsonObject } from "../../../lib/json.ts";
import type { Pdu } from "../../../lib/pdu.ts";
import { roomVersionRules } from "../../../lib/room-versions.ts";
import { stateOf, toPdu } from "./load.ts";

interface VectorAuthEvents {
  create?: JsonObject;
  power_levels?: JsonObject;
  join_rules?: JsonObject;
  member?: Record<string, JsonObject>;
  third_party_invite?: Record<string, JsonObject>;
}
interface Vector {
  test: string;
  room_version_const: string;
  auth_events: VectorAuthEvents;
  allowed: JsonObject[];
  not_allowed: JsonObject[];
}

const vectors: Vector[] = JSON.parse(
  readFileSync(new URL("../../../../shared/vectors/gomatrixserverlib-eventauth.json", import.meta.url), "utf8"),
);

/** The spec rule each vector's `unsigned.not_allowed` reason corresponds to. */
const EXPECTED_RULE: Record<string, string> = {
  "Sent by a different server than the one which made the room_id": "create/room_id-domain",
  "Was not the first event in the room": "create/prev_events",
  "No create event": "event/no-create",
  "Sender is not a valid user ID": "event/sender",
  "Room is not a valid room ID": "create/room_id-domain",
  "Missing state_key": "create/state_key|member/state_key",
  "The state_key is not empty": "create/state_key",
  "Sender is not in the room": "event/sender-not-joined",
  "Sender is not in room": "event/sender-not-joined",
  // No join rule event: the room is invite-only, and @u2:a was not invited.
  "Only the creator can join the room": "member/join/not-invited",
  "The prev_event is not the create event": "member/join/not-invited",
  "There are no prev_events": "member/join/not-invited",
  "There are too many prev_events": "member/join/not-invited",
  "The sender doesn't match the joining user": "member/join/sender",
  "The membership is not 'join'": "member/invite/sender-not-joined",
  "Bad signature": "member/third_party_invite/signature",
  "MXID doesn't match state key": "member/third_party_invite/mxid",
  "Token doesn't refer to a known third-party invite": "member/third_party_invite/token",
  "Sender is from a different server.": "event/federate",
  "User @u3:b's level is too low to send a state event": "event/send-power",
  "User @u2:a's level is too low to send m.room.join_rules": "event/send-power",
  "User @u4:a is not in the room": "event/sender-not-joined",
  "Sent from a different room to the create event": "event/room_id",
  "State key starts with '@' and is for a different user": "event/state_key-user",
  "User power level is too low and event is from different server": "redaction/sender-domain",
  "User is not in the room": "event/sender-not-joined",
  "Invalid redacts event ID": "redaction/redacts",
  "Missing redacts event ID": "redaction/redacts",
  "Sender should not be able to ban->join themselves": "member/join/banned",
  "Sender should not be able to ban->knock themselves": "member/knock/membership",
  "Sender should not be able to ban->invite themselves": "member/invite/target",
  "Sender not invited or joined": "member/join/not-invited",
  "Sender is already joined": "member/knock/membership",
  "Sender is banned": "member/knock/membership",
};

function stateFrom(ae: VectorAuthEvents) {
  const entries: Array<[string, string, Pdu]> = [];
  if (ae.create) entries.push(["m.room.create", "", toPdu(ae.create)]);
  if (ae.power_levels) entries.push(["m.room.power_levels", "", toPdu(ae.power_levels)]);
  if (ae.join_rules) entries.push(["m.room.join_rules", "", toPdu(ae.join_rules)]);
  for (const [k, v] of Object.entries(ae.member ?? {})) entries.push(["m.room.member", k, toPdu(v)]);
  for (const [k, v] of Object.entries(ae.third_party_invite ?? {})) entries.push(["m.room.third_party_invite", k, toPdu(v)]);
  return stateOf(entries);
}

function describeEvent(e: JsonObject): string {
  const c = e.content as JsonObject;
  const m = typeof c?.membership === "string" ? ` ${c.membership}` : "";
  const sk = typeof e.state_key === "string" ? ` [${e.state_key}]` : "";
  return `${String(e.type)}${sk}${m} from ${String(e.sender)} (${String(e.event_id)})`;
}

describe("gomatrixserverlib event auth vectors", () => {
  it("has the 12 tables, and every not_allowed reason is mapped", () => {
    expect(vectors).toHaveLength(12);
    for (const v of vectors) {
      for (const e of v.not_allowed) expect(EXPECTED_RULE).toHaveProperty([String((e.unsigned as JsonObject).not_allowed)]);
    }
  });

  for (const v of vectors) {
    const id = v.room_version_const.replace(/^RoomVersionV/, "");
    const rules = roomVersionRules(id);
    describe(`${v.test} (room v${id})`, () => {
      const state = stateFrom(v.auth_events);
      v.allowed.forEach((e, i) => {
        it(`[auth: ${v.test}] allowed #${i}: ${describeEvent(e)}`, () => {
          expect(rules).toBeDefined();
          expect(authorizeEvent(toPdu(e), state, rules!)).toEqual({ allowed: true });
        });
      });
      v.not_allowed.forEach((e, i) => {
        const reason = String((e.unsigned as JsonObject).not_allowed);
        it(`[auth: ${EXPECTED_RULE[reason]}] ${v.test} not_allowed #${i}: ${reason}`, () => {
          const result = authorizeEvent(toPdu(e), state, rules!);
          expect(result.allowed).toBe(false);
          if (!result.allowed) expect(EXPECTED_RULE[reason]!.split("|")).toContain(result.rule);
        });
      });
    });
  }
});
