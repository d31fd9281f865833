#!/usr/bin/env node
// `npm start`: a working Parley at http://127.0.0.1:8787 on this machine.
//
// 1. applies the D1 migrations to the local database (schema/d1),
// 2. runs `wrangler dev` on 127.0.0.1 only, with every Durable Object's SQLite,
//    D1, R2 and KV persisted under the data directory. No Cloudflare account,
//    no login, no prompts.
//
// Environment (all optional; see docs/configuration.md):
//   PORT              port to listen on (8787)
//   PARLEY_DATA_DIR   where local state lives (.data)
//   SERVER_NAME, PUBLIC_BASEURL, REGISTRATION_MODE, REGISTRATION_SHARED_SECRET,
//   RATE_LIMITS_ENABLED, MAX_REQUEST_BYTES, RATE_* — passed to the Worker as vars.
//   PARLEY_APPSERVICES appservice registration files or directories, comma-separated
//                     (docs/appservices.md); checked before start, handed over as the
//                     APPSERVICE_REGISTRATIONS secret.
//
// This is the local development profile: registration is `open` unless
// REGISTRATION_MODE says otherwise (wrangler.toml's deployed default is `closed`).
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
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
  // Single-quoted in the env file; quotes and `$` (variable expansion) escaped the JSON way.
  appservices = check.stdout.trim().replaceAll("'", "\\u0027").replaceAll("$", "\\u0024");
}
// Secrets go to wrangler in a file, not on the command line where `ps` shows them.
const secretsEnv = join(dataDir, "secrets.env");
writeFileSync(
  secretsEnv,
  `REGISTRATION_SHARED_SECRET=${secret}\n` + (appservices ? `APPSERVICE_REGISTRATIONS='${appservices}'\n` : ""),
  { mode: 0o600 },
);
chmodSync(secretsEnv, 0o600);

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
const migrate = spawnSync(
  process.execPath,
  [wrangler, "d1", "migrations", "apply", "DB", "--local", "--persist-to", dataDir],
  { cwd: root, env: { ...childEnv, CI: "true" }, stdio: ["ignore", "inherit", "inherit"] },
);
if (migrate.status !== 0) fail("applying the D1 migrations failed (see above)");

// 2. The server.
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
console.log(`Parley: http://127.0.0.1:${port} (server name ${vars.SERVER_NAME}, data in ${dataDir})`);
const server = spawn(process.execPath, args, { cwd: root, env: childEnv, stdio: ["ignore", "inherit", "inherit"] });

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => server.kill(signal));
}
server.on("exit", (code, signal) => process.exit(code ?? (signal ? 0 : 1)));

function fail(message) {
  console.error(`npm start: ${message}`);
  process.exit(1);
}
