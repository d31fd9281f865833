/**
 * State resolution benchmark: a synthetic room with 10,000 joined members forks in two; both
 * forks re-send member events (new displaynames) for the same users and set the same
 * power-level-neutral custom state keys, and fork A also changes the power levels, so the two
 * forks' state maps disagree on 10,001 events. Prints the median resolution time over a few
 * runs and the process's peak memory, for room versions 11 (v2) and 12 (v2.1).
 *
 *   npm run -s bench:state-res [-- --members N --conflicted N --runs N --bans]
 */
import { resourceUsage } from "node:process";
import type { EventStore } from "../lib/auth-chain.ts";
import type { JsonObject } from "../lib/json.ts";
import { stateKey, type Pdu, type StateMap } from "../lib/pdu.ts";
import { roomVersionRules, type RoomVersionRules } from "../lib/room-versions.ts";
import { resolveState } from "../lib/state-res/resolve.ts";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} needs a positive integer`);
  return v;
}
const MEMBERS = arg("members", 10_000);
const CONFLICTED = arg("conflicted", 10_000); // per fork: CONFLICTED / 2 events, on the same keys
const RUNS = arg("runs", 5);
// --bans: fork B bans its users instead of renaming them, so half the conflicted events are
// power events and go through the reverse topological power ordering rather than the mainline.
const BANS = process.argv.includes("--bans");

interface Room {
  store: EventStore;
  forkA: StateMap;
  forkB: StateMap;
  events: number;
}

function buildRoom(rules: RoomVersionRules): Room {
  const v12 = rules.authorization.createEventNotInAuthEvents;
  const events = new Map<string, Pdu>();
  const state: StateMap = new Map();
  const alice = "@alice:bench.example";
  const roomId = v12 ? "!create" : "!bench:bench.example";
  let ts = 0;
  let last: string[] = [];
  const send = (id: string, type: string, sk: string, sender: string, content: JsonObject, auth: string[], into: StateMap) => {
    const pdu: Pdu = {
      event_id: id, type, state_key: sk, sender, content, origin_server_ts: ts++,
      prev_events: last, auth_events: auth.filter((a) => !(v12 && a === "$create")),
      ...(type === "m.room.create" && v12 ? {} : { room_id: roomId }),
    };
    events.set(id, pdu);
    into.set(stateKey(type, sk), id);
    last = [id];
  };
  const get = (s: StateMap, t: string, k = "") => s.get(stateKey(t, k))!;

  send("$create", "m.room.create", "", alice, { room_version: rules.id }, [], state);
  send("$join-alice", "m.room.member", alice, alice, { membership: "join" }, ["$create"], state);
  // v12 creators may not be listed in users (they have infinite power anyway).
  const users: JsonObject = v12 ? {} : { [alice]: 100 };
  send("$pl-0", "m.room.power_levels", "", alice, { users }, ["$create", "$join-alice"], state);
  send("$join_rules", "m.room.join_rules", "", alice, { join_rule: "public" }, ["$create", "$join-alice", "$pl-0"], state);
  const user = (i: number) => `@user${i}:bench.example`;
  for (let i = 0; i < MEMBERS; i++) {
    send(`$join-${i}`, "m.room.member", user(i), user(i), { membership: "join", displayname: `user ${i}` }, ["$create", "$pl-0", "$join_rules"], state);
  }
  const forkPoint = last;

  const perFork = Math.floor(CONFLICTED / 2);
  const custom = Math.min(Math.floor(perFork / 10), perFork);
  const memberChanges = Math.min(perFork - custom, MEMBERS);
  const fork = (name: "a" | "b", changePowerLevels: boolean): StateMap => {
    const s = new Map(state);
    last = forkPoint;
    if (changePowerLevels) {
      send(`$pl-${name}`, "m.room.power_levels", "", alice, { users: { ...users, [user(0)]: 50 } }, ["$create", "$join-alice", "$pl-0"], s);
    }
    const pl = get(s, "m.room.power_levels");
    for (let i = 0; i < memberChanges; i++) {
      const own = get(s, "m.room.member", user(i));
      if (BANS && name === "b") {
        send(`$b-ban-${i}`, "m.room.member", user(i), alice, { membership: "ban" }, ["$create", pl, "$join-alice", own], s);
        continue;
      }
      send(`$${name}-member-${i}`, "m.room.member", user(i), user(i), { membership: "join", displayname: `user ${i} (${name})` }, ["$create", pl, "$join_rules", own], s);
    }
    for (let i = 0; i < custom; i++) {
      send(`$${name}-custom-${i}`, "org.parley.bench", `k${i}`, alice, { fork: name }, ["$create", pl, "$join-alice"], s);
    }
    return s;
  };
  const forkA = fork("a", true);
  const forkB = fork("b", false);
  return { store: { getEvent: (id) => events.get(id) }, forkA, forkB, events: events.size };
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

for (const id of ["11", "12"]) {
  const rules = roomVersionRules(id)!;
  const room = buildRoom(rules);
  let conflicted = 0;
  for (const [k, v] of room.forkA) if (room.forkB.get(k) !== v) conflicted += 2;
  const times: number[] = [];
  let resolved: StateMap = new Map();
  let rejected = 0;
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    resolved = resolveState([room.forkA, room.forkB], room.store, rules, { onRejected: () => rejected++ });
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  const fromA = [...resolved].filter(([k, v]) => room.forkA.get(k) === v && room.forkB.get(k) !== v).length;
  const mem = process.memoryUsage();
  console.log(
    `room v${id} (state res ${rules.stateResolution}): ${room.events} events, ${MEMBERS} members, ` +
      `${conflicted} conflicted state events; resolve median ${median.toFixed(0)} ms ` +
      `(min ${times[0]!.toFixed(0)}, max ${times[times.length - 1]!.toFixed(0)}, ${RUNS} runs); ` +
      `${resolved.size} keys resolved, ${fromA} from fork A, ${rejected / RUNS} rejected per run; ` +
      `heap used ${mib(mem.heapUsed)}, rss ${mib(mem.rss)}, peak rss ${mib(resourceUsage().maxRSS * 1024)}`,
  );
}
