#!/usr/bin/env node
// `npm run user:create -- alice [--admin] [--password P] [--displayname N] [--url U] [--secret S]`
//
// Creates a user on a running Parley through the shared-secret admin registration API
// (`/_synapse/admin/v1/register`, the same protocol as Synapse's, so Synapse's own
// `register_new_matrix_user` works against Parley too).
//
// The shared secret comes from --secret, else $REGISTRATION_SHARED_SECRET, else the file
// `npm start` keeps in the data directory ($PARLEY_DATA_DIR or .data)/registration_shared_secret.
// Without --password a random one is generated and printed. The server URL defaults to
// http://127.0.0.1:$PORT (8787).
import { createHmac, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const USAGE =
  "usage: npm run user:create -- <username> [--admin] [--password P] [--displayname NAME] [--url URL] [--secret S]";

function fail(message) {
  console.error(`user:create: ${message}`);
  process.exit(1);
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      admin: { type: "boolean", default: false },
      password: { type: "string" },
      displayname: { type: "string" },
      url: { type: "string" },
      secret: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
} catch (e) {
  fail(`${e.message}\n${USAGE}`);
}
const { values, positionals } = parsed;
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
if (positionals.length !== 1) fail(`expected exactly one username\n${USAGE}`);
const username = positionals[0];

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const url = (values.url ?? `http://127.0.0.1:${process.env.PORT ?? 8787}`).replace(/\/+$/, "");

function sharedSecret() {
  if (values.secret) return values.secret;
  if (process.env.REGISTRATION_SHARED_SECRET) return process.env.REGISTRATION_SHARED_SECRET;
  const file = join(resolve(root, process.env.PARLEY_DATA_DIR ?? ".data"), "registration_shared_secret");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  fail(`no shared secret: pass --secret, set REGISTRATION_SHARED_SECRET, or run \`npm start\` first (it creates ${file})`);
}
const secret = sharedSecret();
const generated = values.password === undefined;
const password = values.password ?? randomBytes(18).toString("base64url");

async function request(method, path, body) {
  let res;
  try {
    res = await fetch(url + path, {
      method,
      headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch (e) {
    fail(`cannot reach ${url}: ${e.cause?.message ?? e.message} (is the server running? \`npm start\`)`);
  }
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    fail(`${method} ${path}: HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`);
  }
  if (!res.ok) fail(`${json.errcode ?? res.status}: ${json.error ?? text}`);
  return json;
}

const { nonce } = await request("GET", "/_synapse/admin/v1/register");
// HMAC-SHA1 over nonce NUL username NUL password NUL admin|notadmin, as Synapse defines it.
const mac = createHmac("sha1", secret)
  .update([nonce, username, password, values.admin ? "admin" : "notadmin"].join("\x00"))
  .digest("hex");
const body = { nonce, username, password, admin: values.admin, mac };
if (values.displayname !== undefined) body.displayname = values.displayname;
const result = await request("POST", "/_synapse/admin/v1/register", body);

console.log(`created ${result.user_id}${values.admin ? " (admin)" : ""}`);
if (generated) console.log(`password: ${password}`);
