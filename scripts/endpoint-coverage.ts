/**
 * Endpoint coverage: the Matrix v1.19 operation list against Parley's route table.
 *
 *   npm run -s endpoints               writes docs/endpoints.md
 *   npm run -s endpoints -- --check    exits 1 if docs/endpoints.md is out of date
 *   --doc FILE                         another output/check target (used by the test)
 *
 * Inputs: ../shared/spec/endpoints-v1.19.tsv (api, file, method, path, deprecated) and the
 * route table in party/edge/index.ts, read as source text (importing it needs workerd).
 * An operation is implemented when a route has the same method and the same path template,
 * parameter names ignored and version prefix exact (`/v3/` never stands in for `/r0/`).
 * The application-service, push-gateway and identity APIs are served by other servers, so
 * for them the report says whether Parley calls them: a `/_matrix/...` string literal in
 * party/ (lib/ is pure and makes no requests, so a literal there is only "referenced").
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const SPEC_TSV = join(ROOT, "../shared/spec/endpoints-v1.19.tsv");
export const ROUTE_TABLE = join(ROOT, "party/edge/index.ts");
export const DOC = join(ROOT, "docs/endpoints.md");

export interface SpecOp {
  api: string;
  /** The spec file without `.yaml`: the endpoint group. */
  group: string;
  method: string;
  path: string;
  deprecated: boolean;
}
export interface Route {
  method: string;
  path: string;
  handler: string;
}

/** APIs a homeserver serves; the others are served by appservices, push gateways, identity servers. */
const SERVED_APIS = ["client-server", "server-server"];
const CALLED_APIS = ["application-service", "push-gateway", "identity"];

export function parseSpecTsv(text: string): SpecOp[] {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((line, i) => {
      const [api, file, method, path, deprecated] = line.split("\t").map((c) => c.trim());
      if (!api || !file || !method || !path?.startsWith("/")) throw new Error(`endpoints tsv line ${i + 1}: malformed: ${line}`);
      return { api, group: file.replace(/\.yaml$/, ""), method, path, deprecated: deprecated === "deprecated" };
    });
}

/** Source without comments; string and template literals kept intact (so `"https://"` survives). */
export function stripComments(src: string): string {
  let out = "";
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === "/" && src[i + 1] === "/") {
      const end = src.indexOf("\n", i);
      i = end < 0 ? src.length : end;
    } else if (c === "/" && src[i + 1] === "*") {
      const end = src.indexOf("*/", i + 2);
      i = end < 0 ? src.length : end + 2;
    } else if (c === '"' || c === "'" || c === "`") {
      let j = i + 1;
      while (j < src.length && src[j] !== c) j += src[j] === "\\" ? 2 : 1;
      out += src.slice(i, j + 1);
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** String literals of comment-free source, each `${...}` replaced by `{}`. */
export function stringLiterals(code: string): string[] {
  return [...code.matchAll(/(["'`])((?:\\.|(?!\1)[^\\])*)\1/g)].map((m) => m[2]!.replace(/\$\{[^}]*\}/g, "{}"));
}

/**
 * Routes of a Router chain: `.get|post|put|delete(path, handler)`. A `${module.CONST}` in a
 * path is looked up by `resolveConst`. Throws if any registration cannot be read, so a new
 * registration style cannot silently drop routes from the report.
 */
export function parseRoutes(src: string, resolveConst: (module: string, name: string) => string): Route[] {
  const code = stripComments(src);
  const calls = code.match(/\.(get|post|put|delete|add)\(/g) ?? [];
  const re = /\.(get|post|put|delete)\(\s*(["'`])((?:(?!\2).)*)\2\s*,\s*([\w.]+)\s*\)/g;
  const routes = [...code.matchAll(re)].map((m) => ({
    method: m[1]!.toUpperCase(),
    path: m[3]!.replace(/\$\{(\w+)\.(\w+)\}/g, (_, mod: string, name: string) => resolveConst(mod, name)),
    handler: m[4]!,
  }));
  if (routes.length !== calls.length) throw new Error(`route table: read ${routes.length} of ${calls.length} registrations`);
  for (const r of routes) if (r.path.includes("${")) throw new Error(`route table: cannot resolve ${r.path}`);
  return routes;
}

/** Resolves `${mod.NAME}` through `import * as mod from "./file.ts"` and `export const NAME = "..."`. */
export function constResolver(src: string, srcFile: string): (module: string, name: string) => string {
  return (mod, name) => {
    const imp = new RegExp(`import \\* as ${mod} from "([^"]+)"`).exec(src);
    if (!imp) throw new Error(`route table: no namespace import ${mod}`);
    const file = resolve(dirname(srcFile), imp[1]!);
    const def = new RegExp(`export const ${name} = "([^"]*)"`).exec(readFileSync(file, "utf8"));
    if (!def) throw new Error(`route table: ${relative(ROOT, file)} has no string constant ${name}`);
    return def[1]!;
  };
}

/** A path template with every `{param}` written `{}`: parameter names do not matter. */
export const template = (path: string): string => path.replace(/\{[^}/]*\}/g, "{}");

/** An outbound path (where `{}` is any text) can be a request to the spec path. */
export function callMatches(call: string, specPath: string): boolean {
  const a = template(call).split("/");
  const b = template(specPath).split("/");
  return a.length === b.length && a.every((s, i) => s === b[i] || s === "{}" || (b[i] === "{}" && s !== ""));
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".d.ts"))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** `/_matrix/...` paths written in each source file under `dir` (query strings dropped). */
export function outboundPaths(dir: string): Array<{ file: string; path: string }> {
  return tsFiles(dir).flatMap((file) =>
    stringLiterals(stripComments(readFileSync(file, "utf8")))
      .filter((s) => s.includes("/_matrix/"))
      .map((s) => ({ file: relative(ROOT, file), path: s.slice(s.indexOf("/_matrix/")).split("?")[0]! })),
  );
}

export interface Coverage {
  ops: Array<SpecOp & { handlers: string[]; sharedWith: string[]; callers: string[]; libRefs: string[] }>;
  extra: Array<Route & { kind: string }>;
}

export function coverage(ops: SpecOp[], routes: Route[], calls: Array<{ file: string; path: string }>, libRefs: Array<{ file: string; path: string }>): Coverage {
  const key = (m: string, p: string) => `${m} ${template(p)}`;
  const uniq = (xs: string[]) => [...new Set(xs)].sort();
  const served = ops.filter((o) => SERVED_APIS.includes(o.api));
  const out = ops.map((o) => ({
    ...o,
    handlers: SERVED_APIS.includes(o.api) ? routes.filter((r) => key(r.method, r.path) === key(o.method, o.path)).map((r) => r.handler) : [],
    sharedWith: ops.filter((x) => x !== o && key(x.method, x.path) === key(o.method, o.path)).map((x) => x.group),
    callers: CALLED_APIS.includes(o.api) ? uniq(calls.filter((c) => callMatches(c.path, o.path)).map((c) => c.file)) : [],
    libRefs: CALLED_APIS.includes(o.api) ? uniq(libRefs.filter((c) => callMatches(c.path, o.path)).map((c) => c.file)) : [],
  }));
  const extra = routes
    .filter((r) => !served.some((o) => key(o.method, o.path) === key(r.method, r.path)))
    .map((r) => ({ ...r, kind: extraKind(r, served, ops) }));
  return { ops: out, extra };
}

function extraKind(r: Route, served: SpecOp[], all: SpecOp[]): string {
  const msc = /msc(\d+)/i.exec(r.path);
  if (msc) return `unstable MSC${msc[1]}`;
  if (r.path.startsWith("/_synapse/")) return "Synapse admin API";
  const other = all.find((o) => !SERVED_APIS.includes(o.api) && o.method === r.method && template(o.path) === template(r.path));
  if (other) return `${other.api} API path`;
  // `/state/{eventType}` and `/state/{eventType}/`: the spec's empty `{stateKey}` form.
  const base = r.path.replace(/\/$/, "");
  const full = served.find((o) => o.method === r.method && template(o.path) === template(`${base}/{}`));
  if (full) return `\`${full.path}\` with the last parameter empty`;
  return "not in the spec";
}

const pct = (n: number, d: number) => (d === 0 ? "–" : `${Math.round((100 * n) / d)}%`);
const code = (s: string) => `\`${s}\``;
const API_TITLE: Record<string, string> = {
  "client-server": "Client-server API",
  "server-server": "Server-server (federation) API",
  "application-service": "Application service API",
  "push-gateway": "Push gateway API",
  identity: "Identity service API",
};

export function renderMarkdown(c: Coverage): string {
  const L: string[] = [];
  const apis = [...new Set(c.ops.map((o) => o.api))].sort((a, b) => Object.keys(API_TITLE).indexOf(a) - Object.keys(API_TITLE).indexOf(b));
  const done = (o: Coverage["ops"][number]) => (SERVED_APIS.includes(o.api) ? o.handlers.length > 0 : o.callers.length > 0);
  L.push(
    "# Endpoint coverage (Matrix v1.19)",
    "",
    "Generated by `npm run endpoints` (scripts/endpoint-coverage.ts) from `../shared/spec/endpoints-v1.19.tsv` and the route",
    "table in `party/edge/index.ts`; do not edit by hand. `tests/lib/endpoint-coverage.test.ts` runs it with `--check`, so this",
    "file fails the tests when it no longer matches the code.",
    "",
    "**Implemented** means a route with the same method and path template (parameter names ignored, version prefix exact) is",
    "registered. It says nothing about how complete the handler is: read the handler (named in each row) for its limits.",
    "The application-service, push-gateway and identity APIs are served by *other* servers; for them the question is whether",
    "Parley **calls** them: a `/_matrix/...` path written in `party/` source (a path only in `lib/`, which makes no requests, is",
    "listed as referenced, not called).",
    "",
    "## Summary",
    "",
    "| API | Served by | Operations | Implemented / called | Missing | Coverage |",
    "| --- | --- | ---: | ---: | ---: | ---: |",
  );
  for (const api of apis) {
    const ops = c.ops.filter((o) => o.api === api);
    const n = ops.filter(done).length;
    const role = SERVED_APIS.includes(api) ? "Parley" : "other servers (Parley calls)";
    L.push(`| ${API_TITLE[api] ?? api} | ${role} | ${ops.length} | ${n} | ${ops.length - n} | ${pct(n, ops.length)} |`);
  }
  const servedOps = c.ops.filter((o) => SERVED_APIS.includes(o.api));
  const servedDone = servedOps.filter(done).length;
  L.push(
    `| **Served by Parley, total** | | **${servedOps.length}** | **${servedDone}** | **${servedOps.length - servedDone}** | **${pct(servedDone, servedOps.length)}** |`,
    "",
    `Parley also serves ${c.extra.length} route(s) that are not spec operations (see [the end](#routes-not-in-the-spec)).`,
  );
  for (const api of apis) {
    const ops = c.ops.filter((o) => o.api === api);
    const served = SERVED_APIS.includes(api);
    const groups = [...new Set(ops.map((o) => o.group))].sort();
    L.push("", `## ${API_TITLE[api] ?? api}`, "");
    L.push(served ? "| Group (spec file) | Implemented | Operations | Status |" : "| Group (spec file) | Called | Operations | Status |");
    L.push("| --- | ---: | ---: | --- |");
    for (const g of groups) {
      const gs = ops.filter((o) => o.group === g);
      const n = gs.filter(done).length;
      const shared = gs.some((o) => done(o) && o.sharedWith.length > 0) ? " (a route shared with another group: see notes)" : "";
      const status = (n === gs.length ? "complete" : n === 0 ? (served ? "**none**" : "not called") : "**partial**") + shared;
      L.push(`| [${g}](#${api}-${g.replace(/[^\w-]/g, "").toLowerCase()}) | ${n} | ${gs.length} | ${status} |`);
    }
    for (const g of groups) {
      const gs = ops.filter((o) => o.group === g);
      L.push("", `<a id="${api}-${g.replace(/[^\w-]/g, "").toLowerCase()}"></a>`, `### ${api} / ${g} (${gs.filter(done).length}/${gs.length})`, "");
      L.push(served ? "| Method | Path | Status | Handler | Notes |" : "| Method | Path | Status | Called from | Notes |", "| --- | --- | --- | --- | --- |");
      for (const o of gs) {
        const notes = [
          o.deprecated ? "deprecated" : "",
          o.sharedWith.length ? `same method and path as ${o.sharedWith.map(code).join(", ")}: the route alone does not show this file's request is handled` : "",
          !served && o.callers.length === 0 && o.libRefs.length ? `path referenced in ${o.libRefs.map(code).join(", ")} (no request made)` : "",
        ].filter(Boolean);
        const status = served ? (done(o) ? "implemented" : "**not implemented**") : done(o) ? "called" : "not called";
        const where = served ? o.handlers.map(code).join(", ") : o.callers.map(code).join(", ");
        L.push(`| ${o.method} | ${code(o.path)} | ${status} | ${where} | ${notes.join("; ")} |`);
      }
    }
  }
  L.push("", "## Routes not in the spec", "", "Routes in `party/edge/index.ts` that match no client-server or server-server operation.", "");
  if (c.extra.length === 0) L.push("None.");
  else {
    L.push("| Method | Path | Kind | Handler |", "| --- | --- | --- | --- |");
    for (const r of c.extra) L.push(`| ${r.method} | ${code(r.path)} | ${r.kind} | ${code(r.handler)} |`);
  }
  return `${L.join("\n")}\n`;
}

export function generate(): string {
  const src = readFileSync(ROUTE_TABLE, "utf8");
  const routes = parseRoutes(src, constResolver(src, ROUTE_TABLE));
  const ops = parseSpecTsv(readFileSync(SPEC_TSV, "utf8"));
  return renderMarkdown(coverage(ops, routes, outboundPaths(join(ROOT, "party")), outboundPaths(join(ROOT, "lib"))));
}

function main(argv: string[]): number {
  const check = argv.includes("--check");
  const docArg = argv.indexOf("--doc");
  const doc = docArg >= 0 && argv[docArg + 1] ? resolve(argv[docArg + 1]!) : DOC;
  const text = generate();
  if (!check) {
    writeFileSync(doc, text);
    return 0;
  }
  let current = "";
  try {
    current = readFileSync(doc, "utf8");
  } catch {
    // A missing doc is out of date like any other.
  }
  if (current === text) return 0;
  process.stderr.write(`${relative(ROOT, doc)} is out of date: run npm run endpoints\n`);
  return 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`endpoint-coverage: ${(e as Error).message}\n`);
    process.exitCode = 2;
  }
}
