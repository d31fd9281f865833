import { describe, expect, it } from "vitest";
import { stateKey, type StateMap } from "../../../lib/pdu.ts";
import { stateDelta, type StateDeltaInput } from "../../../lib/sync/state-delta.ts";

const S = (entries: Array<[string, string, string]>): StateMap => new Map(entries.map(([t, k, id]) => [stateKey(t, k), id]));
const base = S([
  ["m.room.create", "", "$create"],
  ["m.room.name", "", "$name1"],
  ["m.room.member", "@me:hs", "$me"],
  ["m.room.member", "@alice:hs", "$alice"],
  ["m.room.member", "@bob:hs", "$bob"],
]);
const input = (over: Partial<StateDeltaInput>): StateDeltaInput => ({
  before: undefined,
  atStart: base,
  fullState: false,
  filter: {},
  userId: "@me:hs",
  timelineSenders: [],
  heroes: [],
  timelineEventIds: new Set(),
  ...over,
});

describe("sync state section", () => {
  it("[sync: state] initial sync sends the whole state at the start of the timeline", () => {
    expect(stateDelta(input({})).state.sort()).toEqual(["$alice", "$bob", "$create", "$me", "$name1"]);
  });

  it("[sync: state] incremental sync sends only what changed since the token", () => {
    const atStart = new Map(base).set(stateKey("m.room.name", ""), "$name2").set(stateKey("m.room.topic", ""), "$topic");
    expect(stateDelta(input({ before: base, atStart })).state.sort()).toEqual(["$name2", "$topic"]);
    expect(stateDelta(input({ before: base, atStart: base })).state).toEqual([]);
  });

  it("[sync: full_state] full_state sends everything even with a token", () => {
    expect(stateDelta(input({ before: base, fullState: true })).state).toHaveLength(5);
  });

  it("[sync: state] events in the timeline are not repeated in state", () => {
    expect(stateDelta(input({ timelineEventIds: new Set(["$name1"]) })).state).not.toContain("$name1");
  });

  it("[filter: state types] not_types and types with wildcards apply to state", () => {
    expect(stateDelta(input({ filter: { not_types: ["m.room.member"] } })).state.sort()).toEqual(["$create", "$name1"]);
    expect(stateDelta(input({ filter: { types: ["m.room.*"], not_types: ["m.room.c*"] } })).state.sort()).toEqual(["$alice", "$bob", "$me", "$name1"]);
  });

  it("[lazy-loading: initial] only the user's own member event is in state; senders come as lazy members", () => {
    const r = stateDelta(input({ filter: { lazy_load_members: true }, timelineSenders: ["@alice:hs", "@me:hs"] }));
    expect(r.state.sort()).toEqual(["$create", "$me", "$name1"]);
    expect(r.lazyMembers).toEqual(["$alice"]);
  });

  it("[lazy-loading: heroes] the heroes' member events are sent with lazy loading", () => {
    expect(stateDelta(input({ filter: { lazy_load_members: true }, heroes: ["@bob:hs"] })).lazyMembers).toEqual(["$bob"]);
  });

  it("[lazy-loading: limited] member changes in the gap are always in state", () => {
    const atStart = new Map(base).set(stateKey("m.room.member", "@bob:hs"), "$bobLeft");
    const r = stateDelta(input({ before: base, atStart, filter: { lazy_load_members: true } }));
    expect(r.state).toEqual(["$bobLeft"]);
  });

  it("[lazy-loading] a sender whose member event is in the timeline needs no lazy member", () => {
    const r = stateDelta(input({ filter: { lazy_load_members: true }, timelineSenders: ["@alice:hs"], timelineEventIds: new Set(["$alice"]) }));
    expect(r.lazyMembers).toEqual([]);
  });
});
