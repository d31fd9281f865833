/**
 * Runs the JSON tables under fixtures/ (format in fixtures/README.md): each case is
 * authorized in every room version named in its `expect`, so each rule difference between
 * versions is checked as a pair.
 */
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { authorizeEvent } from "../../../lib/auth/index.ts";
import type { JsonObject } from "../../../lib/json.ts";
import type { Pdu } from "../../../lib/pdu.ts";
import { roomVersionRules } from "../../../lib/room-versions.ts";
import { stateOf, toPdu } from "./load.ts";

interface Case {
  name: string;
  spec: string;
  base?: string;
  state?: JsonObject[];
  event: JsonObject;
  expect: Record<string, true | string>;
}
interface FixtureFile {
  description: string;
  bases?: Record<string, JsonObject[]>;
  cases: Case[];
}

const dir = new URL("./fixtures/", import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith(".json")).sort();

/** Fills in room IDs and event IDs for one room version (see fixtures/README.md). */
function materialize(events: JsonObject[], event: JsonObject, roomIdIsCreateHash: boolean): { state: Pdu[]; event: Pdu } {
  let n = 0;
  const withId = (e: JsonObject): JsonObject =>
    e.event_id !== undefined ? e : { ...e, event_id: e.type === "m.room.create" ? "$create" : `$e${++n}` };
  const all = events.map(withId);
  const target = withId(event);
  const createId = String(all.find((e) => e.type === "m.room.create")?.event_id ?? "$create");
  const fill = (e: JsonObject): Pdu => {
    const out: JsonObject = { ...e };
    if (out.room_id === null) delete out.room_id;
    else if (out.room_id === undefined) {
      if (!roomIdIsCreateHash) out.room_id = "!r:a";
      else if (out.type !== "m.room.create") out.room_id = "!" + createId.slice(1);
    }
    return toPdu(out);
  };
  return { state: all.map(fill), event: fill(target) };
}

/** Base state, then the case's own state replacing entries with the same (type, state_key). */
function stateEvents(file: FixtureFile, c: Case): JsonObject[] {
  const byKey = new Map<string, JsonObject>();
  const base = c.base === undefined ? [] : file.bases?.[c.base];
  if (!base) throw new Error(`unknown base ${c.base}`);
  for (const e of [...base, ...(c.state ?? [])]) byKey.set(`${String(e.type)}\u0000${String(e.state_key)}`, e);
  return [...byKey.values()];
}

for (const f of files) {
  const file: FixtureFile = JSON.parse(readFileSync(new URL(f, dir), "utf8"));
  describe(`fixtures/${f}: ${file.description}`, () => {
    for (const c of file.cases) {
      for (const [version, expected] of Object.entries(c.expect)) {
        it(`${c.name} — v${version} ${expected === true ? "allows" : `rejects (${expected})`}`, () => {
          const rules = roomVersionRules(version);
          expect(rules, `room version ${version}`).toBeDefined();
          const { state, event } = materialize(stateEvents(file, c), c.event, rules!.eventFormat.roomIdIsCreateEventHash);
          const result = authorizeEvent(event, stateOf(state.map((e) => [e.type, e.state_key ?? "", e])), rules!);
          if (expected === true) expect(result).toEqual({ allowed: true });
          else expect(result).toMatchObject({ allowed: false, rule: expected });
        });
      }
    }
  });
}

it("fixtures exist", () => {
  expect(files.length).toBeGreaterThanOrEqual(4);
});
