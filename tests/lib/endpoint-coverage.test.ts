/** scripts/endpoint-coverage.ts: docs/endpoints.md stays true to the route table. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  callMatches,
  constResolver,
  coverage,
  DOC,
  generate,
  parseRoutes,
  parseSpecTsv,
  renderMarkdown,
  ROOT,
  ROUTE_TABLE,
  SPEC_TSV,
  stringLiterals,
  stripComments,
  template,
  type Route,
  type SpecOp,
} from "../../scripts/endpoint-coverage.ts";

function run(...args: string[]) {
  const r = spawnSync(join(ROOT, "node_modules/.bin/tsx"), ["scripts/endpoint-coverage.ts", ...args], { cwd: ROOT, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const tmp = mkdtempSync(join(tmpdir(), "endpoint-coverage-"));
const op = (method: string, path: string, group = "g", api = "client-server"): SpecOp => ({ api, group, method, path, deprecated: false });
const route = (method: string, path: string, handler = "h.x"): Route => ({ method, path, handler });

describe("endpoint coverage CLI", { timeout: 30_000 }, () => {
  it("[coverage] docs/endpoints.md matches the route table and the spec list (--check)", () => {
    const r = run("--check");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("[coverage] --check exits 1 on a stale or missing doc", () => {
    const stale = join(tmp, "stale.md");
    writeFileSync(stale, readFileSync(DOC, "utf8").replace("| implemented |", "| **not implemented** |"));
    const r = run("--check", "--doc", stale);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/out of date: run npm run endpoints/);
    expect(run("--check", "--doc", join(tmp, "absent.md")).code).toBe(1);
  });

  it("[coverage] write mode writes what --check then accepts", () => {
    const out = join(tmp, "fresh.md");
    expect(run("--doc", out).code).toBe(0);
    expect(readFileSync(out, "utf8")).toBe(generate());
    expect(run("--check", "--doc", out).code).toBe(0);
  });
});

describe("endpoint coverage matching", () => {
  it("[coverage] parameter names do not matter, literal segments and version prefixes do", () => {
    expect(template("/_matrix/client/v3/rooms/{roomId}/join")).toBe(template("/_matrix/client/v3/rooms/{id}/join"));
    const c = coverage([op("GET", "/_matrix/client/v3/sync"), op("POST", "/_matrix/client/v3/join/{roomIdOrAlias}")], [route("GET", "/_matrix/client/r0/sync"), route("POST", "/_matrix/client/v3/join/{room}")], [], []);
    expect(c.ops.map((o) => o.handlers.length)).toEqual([0, 1]);
    expect(c.extra.map((r) => [r.path, r.kind])).toEqual([["/_matrix/client/r0/sync", "not in the spec"]]);
  });

  it("[coverage] the method must match too", () => {
    const c = coverage([op("PUT", "/_matrix/client/v3/devices/{deviceId}")], [route("GET", "/_matrix/client/v3/devices/{deviceId}")], [], []);
    expect(c.ops[0]!.handlers).toEqual([]);
    expect(c.extra).toHaveLength(1);
  });

  it("[coverage] unstable, Synapse admin and empty-parameter routes are named, not hidden", () => {
    const ops = [op("PUT", "/_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}")];
    const routes = [
      route("GET", "/_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device"),
      route("POST", "/_synapse/admin/v1/register"),
      route("PUT", "/_matrix/client/v3/rooms/{roomId}/state/{eventType}/"),
      route("PUT", "/_matrix/client/v3/rooms/{roomId}/state/{eventType}"),
    ];
    expect(coverage(ops, routes, [], []).extra.map((r) => r.kind)).toEqual([
      "unstable MSC3814",
      "Synapse admin API",
      "`/_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}` with the last parameter empty",
      "`/_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}` with the last parameter empty",
    ]);
  });

  it("[coverage] two spec files with one method and path are flagged: the route cannot tell their bodies apart", () => {
    const c = coverage([op("POST", "/_matrix/client/v3/rooms/{roomId}/invite", "inviting"), op("POST", "/_matrix/client/v3/rooms/{roomId}/invite", "third_party_membership")], [route("POST", "/_matrix/client/v3/rooms/{r}/invite")], [], []);
    expect(c.ops.map((o) => o.sharedWith)).toEqual([["third_party_membership"], ["inviting"]]);
    expect(renderMarkdown(c)).toMatch(/same method and path as `third_party_membership`/);
  });

  it("[coverage] APIs other servers serve are 'called' only from party/ source, never 'implemented' by a route", () => {
    const app = op("GET", "/_matrix/app/v1/thirdparty/user", "protocols", "application-service");
    const push = op("POST", "/_matrix/push/v1/notify", "push_notifier", "push-gateway");
    const c = coverage([app, push], [route("GET", "/_matrix/app/v1/thirdparty/user")], [{ file: "party/x.ts", path: "/_matrix/app/v1/thirdparty/{}" }], [{ file: "lib/p.ts", path: "/_matrix/push/v1/notify" }]);
    expect(c.ops.map((o) => [o.handlers, o.callers, o.libRefs])).toEqual([
      [[], ["party/x.ts"], []],
      [[], [], ["lib/p.ts"]],
    ]);
    expect(renderMarkdown(c)).toMatch(/\| POST \| `\/_matrix\/push\/v1\/notify` \| not called \|/);
  });

  it("[coverage] an outbound path with a placeholder matches literal segments, not longer paths", () => {
    expect(callMatches("/_matrix/app/v1/thirdparty/{}", "/_matrix/app/v1/thirdparty/location")).toBe(true);
    expect(callMatches("/_matrix/app/v1/thirdparty/{}", "/_matrix/app/v1/thirdparty/user/{protocol}")).toBe(false);
    expect(callMatches("/_matrix/app/v1/users/{}", "/_matrix/app/v1/rooms/{roomAlias}")).toBe(false);
  });

  it("[coverage] paths in comments are not calls; URLs inside strings survive comment stripping", () => {
    const src = '// GET /_matrix/app/v1/users/{userId}\n/* `/_matrix/app/v1/ping` */\nconst u = "https://h/_matrix/app/v1/rooms/" + `/_matrix/app/v1/transactions/${id}`;';
    expect(stringLiterals(stripComments(src))).toEqual(["https://h/_matrix/app/v1/rooms/", "/_matrix/app/v1/transactions/{}"]);
  });

  it("[coverage] route table parsing resolves module constants and refuses what it cannot read", () => {
    const src = 'import * as m from "./m.ts";\nnew Router()\n  // .get("/commented", x.y)\n  .get("/a/{b}", x.y)\n  .post(`${m.P}/c`, x.z);';
    expect(parseRoutes(src, (mod, name) => (mod === "m" && name === "P" ? "/pre" : ""))).toEqual([route("GET", "/a/{b}", "x.y"), route("POST", "/pre/c", "x.z")]);
    expect(() => parseRoutes('new Router().get(PATH, x.y).get("/a", x.z)', () => "")).toThrow(/read 1 of 2 registrations/);
  });

  it("[coverage] every registration line in party/edge/index.ts is read, and every spec operation is counted", () => {
    const src = readFileSync(ROUTE_TABLE, "utf8");
    const routes = parseRoutes(src, constResolver(src, ROUTE_TABLE));
    const lines = stripComments(src).split("\n").filter((l) => /^\s*\.(get|post|put|delete)\(/.test(l));
    expect(routes).toHaveLength(lines.length);
    for (const r of routes) expect(r.path).toMatch(/^\/[^\s$]*$/);
    const ops = parseSpecTsv(readFileSync(SPEC_TSV, "utf8"));
    const served = ops.filter((o) => o.api === "client-server" || o.api === "server-server").length;
    expect(generate()).toContain(`| **Served by Parley, total** | | **${served}** |`);
  });
});
