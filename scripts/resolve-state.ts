/**
 * Resolve room state from PDU files (the ruma-state-res fixture format: a JSON array of PDUs
 * each carrying its event_id; no hash or signature checks).
 *
 *   npm run -s resolve-state -- FILE...
 *     each file is a batch: its PDUs, each in a state map of its own, are resolved against
 *     the previous file's result.
 *   npm run -s resolve-state -- --state-maps MAP.json... --pdus FILE...
 *     each MAP.json is a JSON array of event IDs forming one state map; the PDUs are the store.
 *
 * Prints the resolved state as a JSON array of {type, state_key, event_id} sorted by type,
 * state_key, event_id. The room version is the create event's `room_version`. Any bad input:
 * one line on stderr and exit code 1.
 */
import { readFileSync } from "node:fs";
import type { EventStore } from "../lib/auth-chain.ts";
import { isJsonObject } from "../lib/json.ts";
import { splitStateKey, stateKey, type Pdu, type StateMap } from "../lib/pdu.ts";
import { roomVersionRules, type RoomVersionRules } from "../lib/room-versions.ts";
import { resolveState } from "../lib/state-res/resolve.ts";

class InputError extends Error {}

function readJsonFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new InputError(`${path}: cannot read file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InputError(`${path}: invalid JSON (${(e as Error).message})`);
  }
}

const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === "string");

function toPdu(raw: unknown, where: string): Pdu {
  if (!isJsonObject(raw)) throw new InputError(`${where}: not a JSON object`);
  const { event_id, type, sender, state_key, content, origin_server_ts, prev_events, auth_events, room_id } = raw;
  if (typeof event_id !== "string") throw new InputError(`${where}: event has no string event_id`);
  const at = `${where} (${event_id})`;
  if (typeof type !== "string") throw new InputError(`${at}: event has no string type`);
  if (typeof sender !== "string") throw new InputError(`${at}: event has no string sender`);
  if (state_key !== undefined && typeof state_key !== "string") throw new InputError(`${at}: state_key is not a string`);
  if (!isJsonObject(content)) throw new InputError(`${at}: content is not an object`);
  if (typeof origin_server_ts !== "number") throw new InputError(`${at}: origin_server_ts is not a number`);
  if (!isStringArray(prev_events) || !isStringArray(auth_events)) throw new InputError(`${at}: prev_events/auth_events must be arrays of event IDs`);
  if (room_id !== undefined && typeof room_id !== "string") throw new InputError(`${at}: room_id is not a string`);
  return {
    event_id, type, sender, content, origin_server_ts, prev_events, auth_events,
    ...(typeof state_key === "string" ? { state_key } : {}),
    ...(typeof room_id === "string" ? { room_id } : {}),
  };
}

function readPdus(path: string): Pdu[] {
  const raw = readJsonFile(path);
  if (!Array.isArray(raw)) throw new InputError(`${path}: expected a JSON array of PDUs`);
  return raw.map((e, i) => toPdu(e, `${path}[${i}]`));
}

function roomRules(pdus: Pdu[]): RoomVersionRules {
  const create = pdus.find((p) => p.type === "m.room.create" && p.state_key === "");
  if (!create) throw new InputError("no m.room.create event among the PDUs");
  const version = create.content["room_version"] ?? "1";
  const rules = typeof version === "string" ? roomVersionRules(version) : undefined;
  if (!rules) throw new InputError(`unknown room version ${JSON.stringify(version)} in ${create.event_id}`);
  if (rules.stateResolution === "v1") throw new InputError(`room version ${rules.id} uses state resolution v1, which is not implemented`);
  return rules;
}

function keyOf(p: Pdu, where: string): string {
  if (p.state_key === undefined) throw new InputError(`${where}: ${p.event_id} is not a state event`);
  return stateKey(p.type, p.state_key);
}

function storeOf(pdus: Iterable<Pdu>): EventStore & { add(p: Iterable<Pdu>): void } {
  const byId = new Map<string, Pdu>();
  const add = (ps: Iterable<Pdu>) => {
    for (const p of ps) byId.set(p.event_id, p);
  };
  add(pdus);
  return { getEvent: (id) => byId.get(id), add };
}

/** Mode (b): each file a batch resolved against the previous result. */
function resolveBatches(files: string[]): StateMap {
  const batches = files.map(readPdus);
  const rules = roomRules(batches[0] ?? []);
  const store = storeOf([]);
  let state: StateMap | undefined;
  batches.forEach((batch, i) => {
    store.add(batch);
    const maps = batch.map((p): StateMap => new Map([[keyOf(p, files[i]!), p.event_id]]));
    state = resolveState(state ? [state, ...maps] : maps, store, rules);
  });
  return state ?? new Map();
}

function resolveStateMaps(mapFiles: string[], pduFiles: string[]): StateMap {
  const pdus = pduFiles.flatMap(readPdus);
  const rules = roomRules(pdus);
  const store = storeOf(pdus);
  const maps = mapFiles.map((file): StateMap => {
    const ids = readJsonFile(file);
    if (!isStringArray(ids)) throw new InputError(`${file}: expected a JSON array of event IDs`);
    return new Map(ids.map((id) => {
      const p = store.getEvent(id);
      if (!p) throw new InputError(`${file}: ${id} is not among the PDUs`);
      return [keyOf(p, file), id];
    }));
  });
  return resolveState(maps, store, rules);
}

function parseArgs(argv: string[]): { maps: string[]; pdus: string[]; batches: string[] } {
  const out = { maps: [] as string[], pdus: [] as string[], batches: [] as string[] };
  let into = out.batches;
  for (const a of argv) {
    if (a === "--state-maps") into = out.maps;
    else if (a === "--pdus") into = out.pdus;
    else if (a.startsWith("--")) throw new InputError(`unknown option ${a}`);
    else into.push(a);
  }
  if (out.maps.length > 0 || out.pdus.length > 0) {
    if (out.batches.length > 0) throw new InputError("batch files cannot be mixed with --state-maps/--pdus");
    if (out.maps.length === 0 || out.pdus.length === 0) throw new InputError("--state-maps and --pdus each need at least one file");
  } else if (out.batches.length === 0) {
    throw new InputError("usage: resolve-state FILE... | resolve-state --state-maps MAP.json... --pdus FILE...");
  }
  return out;
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const state = args.batches.length > 0 ? resolveBatches(args.batches) : resolveStateMaps(args.maps, args.pdus);
  const rows = [...state].map(([k, event_id]) => {
    const [type, state_key] = splitStateKey(k);
    return { type, state_key, event_id };
  });
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  rows.sort((a, b) => cmp(a.type, b.type) || cmp(a.state_key, b.state_key) || cmp(a.event_id, b.event_id));
  process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
}

try {
  main();
} catch (e) {
  process.stderr.write(`resolve-state: ${e instanceof InputError ? e.message : `internal error: ${(e as Error)?.message ?? String(e)}`}\n`);
  process.exitCode = 1;
}
