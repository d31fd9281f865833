/** ruma-state-res fixtures: every batch case in all three modes, and the MSC4297 state-map cases. */
import { describe, expect, it } from "vitest";
import { stateKey, type StateMap } from "../../../lib/pdu.ts";
import { resolveState } from "../../../lib/state-res/resolve.ts";
import {
  describeState, expectedState, loadBatch, MapStore, readJson, resolveAllAtOnce, resolveBatchByBatch,
  resolveEventByEvent, rulesOf,
} from "./modes.ts";

const BATCH_CASES: Record<string, string[]> = {
  minimal_private_chat: ["bootstrap-private-chat.json"],
  minimal_public_chat: ["bootstrap-public-chat.json"],
  origin_server_ts_tiebreak: ["bootstrap-private-chat.json", "origin-server-ts-tiebreak.json"],
  ban_vs_power_levels: ["bootstrap-public-chat.json", "ban-vs-power-levels-alice.json", "ban-vs-power-levels-bob.json"],
  topic_vs_power_levels: ["bootstrap-public-chat.json", "topic-vs-power-levels-alice.json", "topic-vs-power-levels-bob.json"],
  power_levels_admin_vs_mod: [
    "bootstrap-public-chat.json", "power-levels-admin-vs-mod-alice.json", "power-levels-admin-vs-mod-bob.json",
  ],
  topic_vs_ban: ["bootstrap-public-chat.json", "topic-vs-ban-common.json", "topic-vs-ban-alice.json", "topic-vs-ban-bob.json"],
  join_rules_vs_join: [
    "bootstrap-public-chat.json", "join-rules-vs-join-common.json", "join-rules-vs-join-alice.json", "join-rules-vs-join-ella.json",
  ],
  concurrent_joins: ["bootstrap-public-chat.json", "concurrent-joins-charlie.json", "concurrent-joins-ella.json"],
};

const STATE_MAP_CASES: Record<string, { maps: string[]; pdus: string }> = {
  msc4297_problem_a_state_res_v2_0: { maps: ["MSC4297-problem-A/state-bob.json", "MSC4297-problem-A/state-charlie.json"], pdus: "MSC4297-problem-A/pdus-v11.json" },
  msc4297_problem_a_state_res_v2_1: { maps: ["MSC4297-problem-A/state-bob.json", "MSC4297-problem-A/state-charlie.json"], pdus: "MSC4297-problem-A/pdus-v12.json" },
  msc4297_problem_b_state_res_v2_0: { maps: ["MSC4297-problem-B/state-eve.json", "MSC4297-problem-B/state-zara.json"], pdus: "MSC4297-problem-B/pdus-v11.json" },
  msc4297_problem_b_state_res_v2_1: { maps: ["MSC4297-problem-B/state-eve.json", "MSC4297-problem-B/state-zara.json"], pdus: "MSC4297-problem-B/pdus-v12.json" },
};

describe("ruma-state-res fixtures: batch cases", () => {
  for (const [name, files] of Object.entries(BATCH_CASES)) {
    const batches = files.map(loadBatch);
    const all = batches.flat();
    const rules = rulesOf(batches);
    const tag = `[state-res ${rules.stateResolution}]`;
    const store = new MapStore(all);
    const expected = expectedState(name);

    it(`${tag} ${name} (event by event)`, () => {
      expect(describeState(resolveEventByEvent(all, rules), store)).toEqual(expected);
    });
    it(`${tag} ${name} (batch by batch)`, () => {
      expect(describeState(resolveBatchByBatch(batches, rules), store)).toEqual(expected);
    });
    it(`${tag} ${name} (all at once)`, () => {
      expect(describeState(resolveAllAtOnce(all, rules), store)).toEqual(expected);
    });
    it(`${tag} ${name} (all at once, state maps in reverse and rotated order)`, () => {
      // The result depends on the events, never on the order the forks are handed over in.
      const reversed = [...all].reverse();
      const rotated = [...all.slice(3), ...all.slice(0, 3)];
      expect(describeState(resolveAllAtOnce(reversed, rules), store)).toEqual(expected);
      expect(describeState(resolveAllAtOnce(rotated, rules), store)).toEqual(expected);
    });
  }
});

describe("ruma-state-res fixtures: MSC4297 state-map cases", () => {
  for (const [name, { maps, pdus }] of Object.entries(STATE_MAP_CASES)) {
    const events = loadBatch(pdus);
    const rules = rulesOf([events]);
    const store = new MapStore(events);
    it(`[state-res ${rules.stateResolution}] ${name}`, () => {
      const stateMaps = maps.map((f): StateMap => {
        const ids = readJson(`fixtures/${f}`) as string[];
        return new Map(ids.map((id) => {
          const e = store.getEvent(id)!;
          return [stateKey(e.type, e.state_key!), id];
        }));
      });
      expect(describeState(resolveState(stateMaps, store, rules), store)).toEqual(expectedState(name));
    });
  }
});
