#!/usr/bin/env node
// `npm start`: a working Parley at http://127.0.0.1:8787 on this machine.
//
// 1. applies the D1 migrations to the local database (schema/d1),
// 2. bundles the Worker the way `wrangler deploy` does (offline: `--dry-run`) into
//    <data dir>/build,
// 3. runs it in ONE workerd process through Miniflare: the Worker and its actors behind
//    127.0.0.1:PORT, with every Durable Object's SQLite, D1, R2 and KV persisted under the
//    data directory (the same files `wrangler dev --persist-to <data dir>` uses). No dev
//    proxy in front, no file watching, no reload. No Cloudflare account, no login, no
//    prompts, no network.
//
// `npm run dev` (this script with --dev) runs `wrangler dev` instead, as before: a dev proxy
// in front of the Worker and a reload on every saved file, for working on the code.
//
// Environment (all optional; see docs/configuration.md):
//   PORT              port to listen on (8787)
//   PARLEY_DATA_DIR   where local state lives (.data)
//   SERVER_NAME, PUBLIC_BASEURL, REGISTRATION_MODE, REGISTRATION_SHARED_SECRET,
//   RATE_LIMITS_ENABLED, MAX_REQUEST_BYTES, RATE_* — passed to the Worker as vars.
//   PARLEY_APPSERVICES appservice registration files or directories, comma-separated
//                     (docs/appservices.md); checked before start, handed over as the
//                     APPSERVICE_REGISTRATIONS secret.
//   PARLEY_INSPECTOR_PORT  open a V8 inspector (Chrome DevTools) for the Worker on
//                     127.0.0.1:PORT (0: any free port). Off by default. (npm start only)
//   PARLEY_LOG_REQUESTS=1  log one line per request. Off by default. (npm start only)
//
// This is the local development profile: registration is `open` unless
// REGISTRATION_MODE says otherwise (wrangler.toml's deployed default is `closed`).
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const wrangler = join(root, "node_modules", "wrangler", "bin", "wrangler.js");

const port = Number(process.env.PORT ?? 8787);
if (!Number.isInteger(port) || port <= 0 || port > 65535) fail(`PORT must be a port number (got ${process.env.PORT})`);
const dataDir = resolve(root, process.env.PARLEY_DATA_DIR ?? ".data");
mkdirSync(dataDir, { recursive: true });

// Values for the Worker's vars: the dev profile's defaults, then the caller's environment.
const vars = {
  SERVER_NAME: `localhost:${port}`,
  PUBLIC_BASEURL: `http://127.0.0.1:${port}`,
  REGISTRATION_MODE: "open",
};
const PASSED_THROUGH = [
  "SERVER_NAME",
  "PUBLIC_BASEURL",
  "REGISTRATION_MODE",
  "RATE_LIMITS_ENABLED",
  "MAX_REQUEST_BYTES",
  "RATE_LOGIN_BURST",
  "RATE_LOGIN_PER_SECOND",
  "RATE_REGISTER_BURST",
  "RATE_REGISTER_PER_SECOND",
  "PUSH_ALLOW_INSECURE_GATEWAYS",
  "URL_PREVIEW_IP_RANGE_ALLOWLIST",
];
for (const name of PASSED_THROUGH) {
  if (process.env[name] !== undefined && process.env[name] !== "") vars[name] = process.env[name];
}

// The admin-registration shared secret: the caller's, or one generated once per
// data directory and kept there (readable by `npm run user:create`).
const secretFile = join(dataDir, "registration_shared_secret");
let secret = process.env.REGISTRATION_SHARED_SECRET;
if (!secret) {
  if (!existsSync(secretFile)) {
    writeFileSync(secretFile, randomBytes(32).toString("hex") + "\n", { mode: 0o600 });
  }
  secret = readFileSync(secretFile, "utf8").trim();
}
// Appservice registrations: parsed and checked by the server's own parser (lib/appservice,
// through scripts/appservice-config.ts) before anything starts; a bad one stops here.
let appservices = "";
if (process.env.PARLEY_APPSERVICES) {
  const tsx = join(root, "node_modules", "tsx", "dist", "cli.mjs");
  const check = spawnSync(
    process.execPath,
    [tsx, join(root, "scripts", "appservice-config.ts"), "--server-name", vars.SERVER_NAME, process.env.PARLEY_APPSERVICES],
    { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
  );
  if (check.status !== 0) fail("PARLEY_APPSERVICES: refusing to start with an invalid appservice registration (see above)");
  appservices = check.stdout.trim();
}
// The Worker's secrets (bindings like the vars, but never on a command line).
const secrets = { REGISTRATION_SHARED_SECRET: secret, ...(appservices ? { APPSERVICE_REGISTRATIONS: appservices } : {}) };

let inspectorPort;
if (process.env.PARLEY_INSPECTOR_PORT !== undefined && process.env.PARLEY_INSPECTOR_PORT !== "") {
  inspectorPort = Number(process.env.PARLEY_INSPECTOR_PORT);
  if (!Number.isInteger(inspectorPort) || inspectorPort < 0 || inspectorPort > 65535) {
    fail(`PARLEY_INSPECTOR_PORT must be a port number or 0 (got ${process.env.PARLEY_INSPECTOR_PORT})`);
  }
}

const childEnv = {
  ...process.env,
  WRANGLER_SEND_METRICS: "false",
  // No update check against the registry and no `Request.cf` download: the
  // server must start offline.
  WRANGLER_HIDE_BANNER: "true",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  // Keep wrangler's own logs with the data, not in the home directory.
  WRANGLER_LOG_PATH: join(dataDir, "logs"),
};

// 1. D1 migrations (idempotent: only unapplied ones run). Non-interactive: no prompt.
//    `--persist-to dataDir` is where the server below keeps D1 too (dataDir/v3/d1).
const migrate = spawnSync(
  process.execPath,
  [wrangler, "d1", "migrations", "apply", "DB", "--local", "--persist-to", dataDir],
  { cwd: root, env: { ...childEnv, CI: "true" }, stdio: ["ignore", "inherit", "inherit"] },
);
if (migrate.status !== 0) fail("applying the D1 migrations failed (see above)");

if (process.argv.includes("--dev")) await wranglerDev();
else await direct();

/**
 * `npm start`: the bundled Worker in one workerd process run by Miniflare (the library
 * `wrangler dev` drives too), listening on 127.0.0.1:PORT itself.
 */
async function direct() {
  // 2. The bundle `wrangler deploy` would upload: the Worker as one ES module plus the
  //    modules it imports that are not JavaScript (wrangler.toml's .sql "Text" rule, the
  //    image library's .wasm). Rebuilt on every start, so it always matches the source.
  const buildDir = join(dataDir, "build");
  rmSync(buildDir, { recursive: true, force: true });
  const build = spawnSync(
    process.execPath,
    [wrangler, "deploy", "--dry-run", "--outdir", buildDir],
    { cwd: root, env: childEnv, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
  );
  if (build.status !== 0) {
    process.stderr.write(build.stdout + build.stderr);
    fail("bundling the Worker failed (see above)");
  }

  // 3. Bindings as wrangler.toml declares them (Durable Objects with SQLite, D1, R2, KV),
  //    read by wrangler's own config code; the vars replaced by this profile's.
  const require = createRequire(import.meta.url);
  const { unstable_readConfig, unstable_getMiniflareWorkerOptions } = require("wrangler");
  // Miniflare as wrangler itself resolves it (a dependency of wrangler, same version).
  const { Miniflare, Log, LogLevel } = createRequire(require.resolve("wrangler"))("miniflare");
  const config = unstable_readConfig({ config: join(root, "wrangler.toml") });
  const { workerOptions } = unstable_getMiniflareWorkerOptions(config);
  const logRequests = ["1", "true"].includes(process.env.PARLEY_LOG_REQUESTS ?? "");

  console.log(`Parley: http://127.0.0.1:${port} (server name ${vars.SERVER_NAME}, data in ${dataDir})`);
  let ready = false;
  let stopping = false;
  // The public port is a socket of the Worker itself (as in production, nothing in
  // between). Miniflare's own entry socket (its entry worker: request logging, Cloudflare-
  // like compression, error pages; about a millisecond per request more) gets a random
  // loopback port, unless PARLEY_LOG_REQUESTS asks for its log on the public port.
  const mf = new Miniflare({
    host: "127.0.0.1",
    port: logRequests ? port : 0,
    inspectorPort,
    // The same files as `wrangler dev --persist-to dataDir` (and the D1 migrations above):
    // dataDir/v3/{do,d1,r2,kv,cache}.
    defaultPersistRoot: join(dataDir, "v3"),
    // A fixed placeholder `Request.cf`, never downloaded.
    cf: false,
    log: new Log(logRequests ? LogLevel.INFO : LogLevel.WARN),
    logRequests,
    // workerd's output (the Worker's `console`) line by line to ours, as Miniflare's default
    // does; and a workerd that ends on its own ends this process (nothing would listen).
    handleRuntimeStdio(stdout, stderr) {
      createInterface(stdout).on("line", (line) => console.log(line));
      createInterface(stderr).on("line", (line) => console.error(line));
      stdout.on("end", () => {
        if (ready && !stopping) fail("workerd exited unexpectedly (see above)");
      });
    },
    workers: [
      {
        ...workerOptions,
        // The name is part of each actor's storage key (dataDir/v3/do/parley-Room, …).
        name: config.name,
        modules: bundleModules(buildDir, workerOptions.modulesRules),
        modulesRoot: buildDir,
        bindings: { ...config.vars, ...vars, ...secrets },
        unsafeDirectSockets: logRequests ? [] : [{ host: "127.0.0.1", port }],
      },
    ],
  });
  try {
    await mf.ready;
    ready = true;
  } catch (e) {
    console.error(e);
    await mf.dispose().catch(() => {});
    fail("the Worker failed to start (see above)");
  }

  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(signal, () => {
      if (stopping) process.exit(1);
      stopping = true;
      mf.dispose().then(
        () => process.exit(0),
        (e) => {
          console.error(e);
          process.exit(1);
        },
      );
    });
  }
}

/**
 * The bundle's files as Miniflare modules, the entry point first, each typed by the module
 * rules (wrangler.toml's, then wrangler's defaults; `**\/*.ext` globs). Listed rather than
 * found by Miniflare parsing the bundle's imports, which holds a ~1 MB script's syntax tree.
 */
function bundleModules(buildDir, rules) {
  const typeOf = (file) => {
    if (/\.m?js$/.test(file)) return "ESModule";
    const rule = rules.find((r) => r.include.some((glob) => glob.startsWith("**/*.") && file.endsWith(glob.slice(4))));
    if (rule === undefined) fail(`the bundle has ${file}, which no module rule types`);
    return rule.type;
  };
  const files = readdirSync(buildDir).filter((f) => !f.endsWith(".map") && f !== "README.md");
  if (!files.includes("index.js")) fail(`no index.js in ${buildDir}`);
  return ["index.js", ...files.filter((f) => f !== "index.js").sort()].map((f) => ({ type: typeOf(f), path: join(buildDir, f) }));
}

/** `npm run dev`: `wrangler dev` as before (dev proxy in front, reload on every save). */
async function wranglerDev() {
  // Secrets go to wrangler in a file, not on the command line where `ps` shows them.
  // The registrations single-quoted; quotes and `$` (variable expansion) escaped the JSON way.
  const secretsEnv = join(dataDir, "secrets.env");
  writeFileSync(
    secretsEnv,
    `REGISTRATION_SHARED_SECRET=${secret}\n` +
      (appservices ? `APPSERVICE_REGISTRATIONS='${appservices.replaceAll("'", "\\u0027").replaceAll("$", "\\u0024")}'\n` : ""),
    { mode: 0o600 },
  );
  chmodSync(secretsEnv, 0o600);
  const args = [
    wrangler,
    "dev",
    "--local",
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--persist-to",
    dataDir,
    "--env-file",
    secretsEnv,
    "--show-interactive-dev-session=false",
    ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
  ];
  console.log(`Parley: http://127.0.0.1:${port} (server name ${vars.SERVER_NAME}, data in ${dataDir}; wrangler dev, reloads on save)`);
  const server = spawn(process.execPath, args, { cwd: root, env: childEnv, stdio: ["ignore", "inherit", "inherit"] });

  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(signal, () => server.kill(signal));
  }
  server.on("exit", (code, signal) => process.exit(code ?? (signal ? 0 : 1)));
}

function fail(message) {
  console.error(`npm ${process.argv.includes("--dev") ? "run dev" : "start"}: ${message}`);
  process.exit(1);
}
