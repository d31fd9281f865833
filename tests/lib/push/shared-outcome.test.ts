import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../lib/json.ts";
import { defaultRuleset } from "../../../lib/push/default-rules.ts";
import { evaluatePushRules } from "../../../lib/push/evaluate.ts";
import { neutralRules, readerOutcome } from "../../../lib/push/shared-outcome.ts";
import type { Ruleset } from "../../../lib/push/types.ts";

const ROOM = "!shared:example.org";
const users = ["@ann:example.org", "@bob:example.org", "@cy:other.example"];
const text = (u: string, extra: Partial<Ruleset> = {}) => JSON.stringify({ global: { ...defaultRuleset(u), ...extra } });

let stream = 0;
function ev(content: JsonObject, sender = "@sender:example.org", type = "m.room.message") {
  const event: JsonObject = { event_id: `$e${++stream}`, type, sender, room_id: ROOM, origin_server_ts: 1, content };
  return { roomId: ROOM, stream, json: JSON.stringify(event), event };
}

const events = [
  ev({ msgtype: "m.text", body: "hello" }),
  ev({ msgtype: "m.notice", body: "bot says" }),
  ev({ msgtype: "m.text", body: "hi ann", "m.mentions": { user_ids: ["@ann:example.org"] } }),
  ev({ msgtype: "m.text", body: "everyone", "m.mentions": { room: true } }),
  ev({ msgtype: "m.text", body: "@room", "m.mentions": { room: true } }, "@mod:example.org"),
  ev({ "m.relates_to": { rel_type: "m.annotation", event_id: "$x", key: "👍" } }, undefined, "m.reaction"),
  ev({ algorithm: "m.megolm.v1.aes-sha2", ciphertext: "..." }, undefined, "m.room.encrypted"),
];

describe("push outcomes shared between readers", () => {
  it("[push: shared outcomes] every reader gets exactly what their own rules say, whether shared or not", () => {
    for (const memberCount of [2, 5]) {
      for (const senderLevel of [0, 50, 100]) {
        for (const u of users) {
          const own = JSON.parse(text(u)).global as Ruleset;
          const neutral = neutralRules(text(u), u);
          expect(neutral).not.toBeNull();
          for (const e of events) {
            const ctx = { userId: u, displayName: "Ann", roomMemberCount: memberCount, senderPowerLevel: senderLevel, notificationPowerLevels: { room: 50 } };
            const want = evaluatePushRules(e.event, ctx, own);
            expect(readerOutcome(e, ctx, own, neutral)).toEqual({ notify: want.notify, highlight: want.highlight });
          }
        }
      }
    }
  });

  it("[push: shared outcomes] readers with the default rules share one neutral ruleset; a display-name rule or an ID JSON escapes is never shared", () => {
    const keys = new Set(users.map((u) => neutralRules(text(u), u)!.key));
    expect(keys.size).toBe(1);
    const named: Partial<Ruleset> = { content: [], override: [{ rule_id: "name", default: false, enabled: true, conditions: [{ kind: "contains_display_name" }], actions: ["notify"] }] };
    expect(neutralRules(text("@ann:example.org", named), "@ann:example.org")).toBeNull();
    expect(neutralRules(text('@a"b:example.org'), '@a"b:example.org')).toBeNull();
  });
});
