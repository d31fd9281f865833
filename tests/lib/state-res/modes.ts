/**
 * The three ways the ruma fixtures are resolved (see /work/shared/vectors/README.md), over
 * a plain in-memory store. All fixture PDUs are state events with synthetic IDs.
 */
import { readFileSync } from "node:fs";
import type { EventStore } from "../../../lib/auth-chain.ts";
import { isJsonObject, type JsonObject } from "../../../lib/json.ts";
import { splitStateKey, stateKey, type Pdu, type StateMap } from "../../../lib/pdu.ts";
import { roomVersionRules, type RoomVersionRules } from "../../../lib/room-versions.ts";
import { resolveState } from "../../../lib/state-res/resolve.ts";

export const VECTORS = new URL("../../../../shared/vectors/ruma-state-res/", import.meta.url);

export function readJson(rel: string): unknown {
  return JSON.parse(readFileSync(new URL(rel, VECTORS), "utf8"));
}

/** Fixture PDUs as `Pdu`: event_id taken from the field, no hash or signature checks. */
export function loadBatch(rel: string): Pdu[] {
  const raw = readJson(`fixtures/${rel}`);
  if (!Array.isArray(raw)) throw new Error(`${rel}: not an array`);
  return raw.map((e: unknown) => {
    if (!isJsonObject(e)) throw new Error(`${rel}: not an object`);
    return {
      event_id: e.event_id as string,
      ...(typeof e.room_id === "string" ? { room_id: e.room_id } : {}),
      sender: e.sender as string,
      type: e.type as string,
      ...(typeof e.state_key === "string" ? { state_key: e.state_key } : {}),
      content: e.content as JsonObject,
      origin_server_ts: e.origin_server_ts as number,
      prev_events: e.prev_events as string[],
      auth_events: e.auth_events as string[],
    };
  });
}

/** The room version is the first file's create event's. */
export function rulesOf(batches: Pdu[][]): RoomVersionRules {
  const create = batches[0]?.[0];
  if (create?.type !== "m.room.create") throw new Error("first PDU is not m.room.create");
  const v = create.content["room_version"];
  const rules = typeof v === "string" ? roomVersionRules(v) : undefined;
  if (!rules) throw new Error(`unknown room version ${String(v)}`);
  return rules;
}

export class MapStore implements EventStore {
  readonly events = new Map<string, Pdu>();
  constructor(pdus: Iterable<Pdu> = []) {
    this.add(pdus);
  }
  add(pdus: Iterable<Pdu>): void {
    for (const p of pdus) this.events.set(p.event_id, p);
  }
  getEvent(id: string): Pdu | undefined {
    return this.events.get(id);
  }
}

const keyOf = (p: Pdu) => stateKey(p.type, p.state_key!);

/**
 * (a) Event by event: walk prev_events forward from the create event. The state before an
 * event resolves the states after its prev events; the state after it resolves the state
 * before against the state before plus the event, so the event is itself auth-checked (a
 * rejected event leaves the state unchanged). Finally resolve the states after the leaves.
 */
export function resolveEventByEvent(pdus: Pdu[], rules: RoomVersionRules): StateMap {
  const store = new MapStore(pdus);
  const children = new Map<string, string[]>();
  const stack: string[] = [];
  for (const p of pdus) {
    for (const prev of p.prev_events) children.set(prev, [...(children.get(prev) ?? []), p.event_id]);
    if (p.type === "m.room.create" && p.prev_events.length === 0) stack.push(p.event_id);
  }
  const after = new Map<string, StateMap>();
  const leaves: string[] = [];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (after.has(id)) continue;
    const pdu = store.getEvent(id)!;
    const prevStates = pdu.prev_events.map((p) => after.get(p));
    if (prevStates.some((s) => s === undefined)) continue; // revisited once its last prev event is done
    const before = resolveState(prevStates as StateMap[], store, rules);
    const proposed = new Map(before).set(keyOf(pdu), id);
    after.set(id, resolveState([before, proposed], store, rules));
    const next = children.get(id);
    if (next) stack.push(...next);
    else leaves.push(id);
  }
  if (after.size !== pdus.length) throw new Error("some events were never reached from the create event");
  return resolveState(leaves.map((l) => after.get(l)!), store, rules);
}

/** (b) File by file: each batch, every PDU in a state map of its own, against the previous result. */
export function resolveBatchByBatch(batches: Pdu[][], rules: RoomVersionRules): StateMap {
  const store = new MapStore();
  let state: StateMap | undefined;
  for (const batch of batches) {
    store.add(batch);
    const maps = batch.map((p): StateMap => new Map([[keyOf(p), p.event_id]]));
    state = resolveState(state ? [state, ...maps] : maps, store, rules);
  }
  return state ?? new Map();
}

/** (c) All at once, every PDU in a state map of its own. */
export function resolveAllAtOnce(pdus: Pdu[], rules: RoomVersionRules): StateMap {
  return resolveState(
    pdus.map((p): StateMap => new Map([[keyOf(p), p.event_id]])),
    new MapStore(pdus),
    rules,
  );
}

export interface ResolvedEntry {
  type: string;
  state_key: string;
  event_id: string;
  content?: JsonObject;
}

/** The snapshot's shape: sorted by type, state_key, event_id, with the event's content. */
export function describeState(state: StateMap, store: EventStore): ResolvedEntry[] {
  return [...state]
    .map(([k, event_id]) => {
      const [type, state_key] = splitStateKey(k);
      return { type, state_key, event_id, content: store.getEvent(event_id)?.content ?? {} };
    })
    .sort((a, b) => cmp(a.type, b.type) || cmp(a.state_key, b.state_key) || cmp(a.event_id, b.event_id));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The JSON array after the snapshot's `---` header. */
export function expectedState(name: string): ResolvedEntry[] {
  const text = readFileSync(new URL(`snapshots/${name}@resolved_state.snap`, VECTORS), "utf8");
  const body = text.slice(text.lastIndexOf("\n---\n") + 5);
  return JSON.parse(body) as ResolvedEntry[];
}
