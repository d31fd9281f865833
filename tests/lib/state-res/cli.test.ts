/** The resolve-state CLI, run as a child process with tsx. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { expectedState, VECTORS } from "./modes.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const FIXTURES = fileURLToPath(new URL("fixtures/", VECTORS));

function run(...args: string[]) {
  const r = spawnSync(join(ROOT, "node_modules/.bin/tsx"), ["scripts/resolve-state.ts", ...args], { cwd: ROOT, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const withoutContent = (name: string) => expectedState(name).map(({ type, state_key, event_id }) => ({ type, state_key, event_id }));

const tmp = mkdtempSync(join(tmpdir(), "resolve-state-"));
function file(name: string, text: string): string {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}
const create = { event_id: "$c", type: "m.room.create", sender: "@a:x", state_key: "", content: { room_version: "10" }, origin_server_ts: 0, prev_events: [], auth_events: [] };

describe("resolve-state CLI", { timeout: 30_000 }, () => {
  it("[state-res v2] batch files: topic_vs_ban matches the snapshot", () => {
    const files = ["bootstrap-public-chat.json", "topic-vs-ban-common.json", "topic-vs-ban-alice.json", "topic-vs-ban-bob.json"];
    const r = run(...files.map((f) => join(FIXTURES, f)));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(withoutContent("topic_vs_ban"));
  });

  it("[state-res v2.1] --state-maps/--pdus: MSC4297 problem B matches the snapshot", () => {
    const d = join(FIXTURES, "MSC4297-problem-B");
    const r = run("--state-maps", join(d, "state-eve.json"), join(d, "state-zara.json"), "--pdus", join(d, "pdus-v12.json"));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(withoutContent("msc4297_problem_b_state_res_v2_1"));
  });

  const bad: Array<[string, () => string[], RegExp]> = [
    ["missing file", () => [join(tmp, "nope.json")], /nope\.json: cannot read file/],
    ["invalid JSON", () => [file("invalid.json", "[{")], /invalid\.json: invalid JSON/],
    ["not an array", () => [file("object.json", "{}")], /object\.json: expected a JSON array of PDUs/],
    ["event without event_id", () => [file("noid.json", JSON.stringify([{ ...create, event_id: undefined }]))], /noid\.json\[0\]: event has no string event_id/],
    ["event without type", () => [file("notype.json", JSON.stringify([{ ...create, type: 7 }]))], /notype\.json\[0\] \(\$c\): event has no string type/],
    ["no create event", () => [file("nocreate.json", JSON.stringify([{ ...create, type: "m.room.topic" }]))], /no m\.room\.create event/],
    ["unknown room version", () => [file("v99.json", JSON.stringify([{ ...create, content: { room_version: "99" } }]))], /unknown room version "99"/],
    ["state map naming an unknown event", () => ["--state-maps", file("map.json", '["$x"]'), "--pdus", file("one.json", JSON.stringify([create]))], /map\.json: \$x is not among the PDUs/],
    ["no arguments", () => [], /usage: resolve-state/],
  ];
  for (const [what, args, message] of bad) {
    it(`bad input (${what}): one line on stderr, exit code 1`, () => {
      const r = run(...args());
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    });
  }
});
