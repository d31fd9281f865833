import { describe, expect, it } from "vitest";
import type { EventStore } from "../../../lib/auth-chain.ts";
import { stateKey, type Pdu, type StateMap } from "../../../lib/pdu.ts";
import { roomVersionRules } from "../../../lib/room-versions.ts";
import { iterativeAuthChecks } from "../../../lib/state-res/iterative-auth.ts";
import { resolveState } from "../../../lib/state-res/resolve.ts";
import { ev } from "./graph.ts";

const v10 = roomVersionRules("10")!;
const A = "@alice:example.com";
const B = "@bob:example.com";

const room: Pdu[] = [
  ev("$create", [], { type: "m.room.create", content: { creator: A, room_version: "10" } }),
  ev("$join-a", ["$create"], { type: "m.room.member", state_key: A, content: { membership: "join" }, origin_server_ts: 1 }),
  ev("$pl", ["$create", "$join-a"], { type: "m.room.power_levels", content: { users: { [A]: 100 }, events: { "m.room.topic": 0 } }, origin_server_ts: 2 }),
  ev("$jr", ["$create", "$join-a", "$pl"], { type: "m.room.join_rules", content: { join_rule: "public" }, origin_server_ts: 3 }),
  ev("$join-b", ["$create", "$pl", "$jr"], { type: "m.room.member", state_key: B, sender: B, content: { membership: "join" }, origin_server_ts: 4 }),
  ev("$topic-b", ["$create", "$pl", "$join-b"], { sender: B, content: { topic: "bob's" }, origin_server_ts: 5 }),
];
const byId = new Map(room.map((e) => [e.event_id, e]));
const store = (rejected: string[] = []): EventStore => ({
  getEvent: (id) => byId.get(id),
  isRejected: (id) => rejected.includes(id),
});
const K = (t: string, k = "") => stateKey(t, k);
const base: StateMap = new Map([[K("m.room.create"), "$create"], [K("m.room.member", A), "$join-a"], [K("m.room.power_levels"), "$pl"], [K("m.room.join_rules"), "$jr"]]);

describe("resolveState", () => {
  it("[state-res v1] is not implemented and says so", () => {
    expect(() => resolveState([base], store(), roomVersionRules("1")!)).toThrow(/state resolution v1 .*not implemented/);
  });

  it("[state-res v2] no conflict: the unconflicted state map is the answer", () => {
    expect(resolveState([base, new Map(base)], store(), v10)).toEqual(base);
  });

  it("[state-res v2: iterative auth checks] a missing key is taken from the event's auth events", () => {
    const out = iterativeAuthChecks(["$topic-b"], base, store(), v10);
    expect(out.get(K("m.room.topic"))).toBe("$topic-b");
  });

  it("[state-res v2: iterative auth checks] ...unless that auth event was rejected; the failure is reported", () => {
    const seen: string[] = [];
    const out = iterativeAuthChecks(["$topic-b"], base, store(["$join-b"]), v10, (e, r) => seen.push(`${e.event_id} ${r.rule}`));
    expect(out.has(K("m.room.topic"))).toBe(false);
    expect(seen).toEqual(["$topic-b event/sender-not-joined"]);
  });

  it("[state-res v2: iterative auth checks] the state overrides the event's auth events for the keys the rules use", () => {
    const banned = ev("$ban-b", ["$create", "$pl", "$join-a", "$join-b"], {
      type: "m.room.member", state_key: B, content: { membership: "ban" }, origin_server_ts: 6,
    });
    byId.set(banned.event_id, banned);
    const state = new Map(base).set(K("m.room.member", B), "$ban-b");
    expect(iterativeAuthChecks(["$topic-b"], state, store(), v10).has(K("m.room.topic"))).toBe(false);
    byId.delete(banned.event_id);
  });

  it("[state-res v2] a conflicted event that fails auth is left out, the other side wins", () => {
    // Bob's topic against Alice's: Bob is not joined in the state where his join is rejected.
    const topicA = ev("$topic-a", ["$create", "$pl", "$join-a"], { content: { topic: "alice's" }, origin_server_ts: 2 });
    byId.set(topicA.event_id, topicA);
    const s1 = new Map(base).set(K("m.room.topic"), "$topic-a");
    const s2 = new Map(base).set(K("m.room.topic"), "$topic-b");
    expect(resolveState([s1, s2], store(["$join-b"]), v10).get(K("m.room.topic"))).toBe("$topic-a");
    // Both valid: mainline positions tie, so the later origin_server_ts is applied last and wins.
    expect(resolveState([s1, s2], store(), v10).get(K("m.room.topic"))).toBe("$topic-b");
    byId.delete(topicA.event_id);
  });
});
