/**
 * Application services against the real server (`npm start` with PARLEY_APPSERVICES):
 * a tiny appservice on 127.0.0.1 in this process, a bridge of 100 ghost users posting
 * into one room, transactions received once and in order, a backlog after the appservice
 * was down (and after a server restart), ping, and a malformed registration refused at start.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "./setup.ts";

type Json = Record<string, unknown>;

class TinyAppservice {
  server!: Server;
  port = 0;
  /** "ok", or "500" while pretending to be broken. */
  mode: "ok" | "500" = "ok";
  readonly seenTxns = new Set<string>();
  /** Events of distinct txnIds, in arrival order. */
  readonly events: Json[] = [];
  txnRequests = 0;
  pings: Json[] = [];
  badAuth = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.#handle(req, res));
    await new Promise<void>((ok) => this.server.listen(0, "127.0.0.1", ok));
    this.port = (this.server.address() as { port: number }).port;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString("utf8")) as Json) : {};
    const reply = (status: number, json: Json) => {
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(JSON.stringify(json));
    };
    if (req.headers.authorization !== `Bearer ${HS_TOKEN}`) {
      this.badAuth++;
      return reply(403, { errcode: "M_FORBIDDEN" });
    }
    if (this.mode === "500") return reply(500, { errcode: "M_UNKNOWN", error: "down for maintenance" });
    const url = new URL(req.url!, "http://x");
    const txn = /^\/_matrix\/app\/v1\/transactions\/(.+)$/.exec(url.pathname);
    if (txn && req.method === "PUT") {
      this.txnRequests++;
      if (!this.seenTxns.has(txn[1]!)) {
        this.seenTxns.add(txn[1]!);
        this.events.push(...(body.events as Json[]));
      }
      return reply(200, {});
    }
    if (url.pathname === "/_matrix/app/v1/ping" && req.method === "POST") {
      this.pings.push(body);
      return reply(200, {});
    }
    return reply(404, { errcode: "M_NOT_FOUND" });
  }

  stop(): Promise<void> {
    return new Promise((ok) => this.server.close(() => ok()));
  }
}

const AS_TOKEN = "e2e-as-token-0123456789";
const HS_TOKEN = "e2e-hs-token-9876543210";
const GHOSTS = 100;
const PER_GHOST = 10;

function registrationYaml(port: number): string {
  return [
    "id: e2e-bridge",
    `url: "http://127.0.0.1:${port}"`,
    `as_token: "${AS_TOKEN}"`,
    `hs_token: "${HS_TOKEN}"`,
    "sender_localpart: _e2e_bot",
    "rate_limited: false",
    "namespaces:",
    "  users:",
    '    - regex: "@_e2e_.*"',
    "      exclusive: true",
    "  aliases: []",
    "  rooms: []",
    "",
  ].join("\n");
}

let as: TinyAppservice;
let server: RunningServer;
let dir: string;
let base: string;

async function api(method: string, path: string, body?: unknown, token = AS_TOKEN, query: Record<string, string> = {}): Promise<{ status: number; body: Json }> {
  const qs = new URLSearchParams(query).toString();
  const res = await fetch(`${base}${path}${qs ? `?${qs}` : ""}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Json) : {} };
}

async function ok(method: string, path: string, body?: unknown, token = AS_TOKEN, query: Record<string, string> = {}): Promise<Json> {
  const r = await api(method, path, body, token, query);
  expect(r.status, `${method} ${path}: ${JSON.stringify(r.body)}`).toBe(200);
  return r.body;
}

async function until(check: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs tasks with at most `n` in flight. */
async function pool<T>(n: number, tasks: Array<() => Promise<T>>): Promise<T[]> {
  const out: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < tasks.length) {
        const i = next++;
        out[i] = await tasks[i]!();
      }
    }),
  );
  return out;
}

const V3 = "/_matrix/client/v3";
let roomId = "";
let ghosts: string[] = [];
let aliceToken = "";

beforeAll(async () => {
  as = new TinyAppservice();
  await as.start();
  dir = mkdtempSync(join(tmpdir(), "parley-as-"));
  writeFileSync(join(dir, "bridge.yaml"), registrationYaml(as.port));
  server = await startServer({ env: { PARLEY_APPSERVICES: dir } });
  base = server.baseUrl;
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await as?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("[as] appservice end to end", () => {
  it("[as: ping] the appservice pings itself through the homeserver", async () => {
    const r = await ok("POST", "/_matrix/client/v1/appservice/e2e-bridge/ping", { transaction_id: "e2e-ping-1" });
    expect(typeof r.duration_ms).toBe("number");
    expect(as.pings).toContainEqual({ transaction_id: "e2e-ping-1" });
  });

  it("[as: identity assertion] 100 ghosts register, join and post 1,000 messages with masquerading and ts; the appservice receives every one once, each ghost's in order", async () => {
    const alice = await ok("POST", `${V3}/register`, { username: `alice${Date.now()}`, password: "correct horse battery", auth: { type: "m.login.dummy" } }, "");
    aliceToken = alice.access_token as string;
    roomId = (await ok("POST", `${V3}/createRoom`, { preset: "public_chat" }, aliceToken)).room_id as string;
    ghosts = await pool(10, Array.from({ length: GHOSTS }, (_, i) => async () => {
      const r = await ok("POST", `${V3}/register`, { type: "m.login.application_service", username: `_e2e_ghost${i}`, inhibit_login: true });
      await ok("POST", `${V3}/join/${encodeURIComponent(roomId)}`, {}, AS_TOKEN, { user_id: r.user_id as string });
      return r.user_id as string;
    }));
    const started = Date.now();
    // Each ghost posts its messages in sequence; ghosts run concurrently.
    const sent = await pool(50, ghosts.map((g, gi) => async () => {
      const ids: string[] = [];
      for (let k = 0; k < PER_GHOST; k++) {
        const r = await ok("PUT", `${V3}/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${gi}-${k}`, { msgtype: "m.text", body: `${gi}:${k}` }, AS_TOKEN, {
          user_id: g,
          ts: String(1_700_000_000_000 + gi * 1000 + k),
        });
        ids.push(r.event_id as string);
      }
      return ids;
    }));
    const all = sent.flat();
    console.log(`e2e appservice: ${all.length} messages from ${GHOSTS} ghosts in ${Date.now() - started} ms`);
    await until(() => all.every((id) => as.events.some((e) => e.event_id === id)), "all messages at the appservice", 60_000);
    const messages = as.events.filter((e) => e.type === "m.room.message" && e.room_id === roomId);
    expect(messages.length).toBe(GHOSTS * PER_GHOST);
    expect(new Set(messages.map((e) => e.event_id)).size).toBe(GHOSTS * PER_GHOST);
    ghosts.forEach((g, gi) => {
      const mine = messages.filter((e) => e.sender === g);
      expect(mine.map((e) => (e.content as Json).body)).toEqual(Array.from({ length: PER_GHOST }, (_, k) => `${gi}:${k}`));
      expect(mine.map((e) => e.origin_server_ts)).toEqual(Array.from({ length: PER_GHOST }, (_, k) => 1_700_000_000_000 + gi * 1000 + k));
    });
    // Every ghost's join reached it too.
    const joins = as.events.filter((e) => e.type === "m.room.member" && (e.content as Json).membership === "join" && ghosts.includes(e.state_key as string));
    expect(new Set(joins.map((e) => e.state_key)).size).toBe(GHOSTS);
    expect(as.badAuth).toBe(0);
  }, 180_000);

  it("[as: transactions] the appservice answers 500 while 200 messages are posted: once it is back (and pings) it gets the whole backlog once, in order", async () => {
    as.mode = "500";
    const before = as.events.length;
    const failedBefore = as.txnRequests;
    const g = ghosts[0]!;
    const ids: string[] = [];
    for (let k = 0; k < 200; k++) {
      const r = await ok("PUT", `${V3}/rooms/${encodeURIComponent(roomId)}/send/m.room.message/down-${k}`, { msgtype: "m.text", body: `down ${k}` }, AS_TOKEN, { user_id: g });
      ids.push(r.event_id as string);
    }
    await new Promise((r) => setTimeout(r, 1500));
    expect(as.events.length).toBe(before);
    as.mode = "ok";
    // A bridge coming back pings the homeserver; that also retries the backlog at once.
    await ok("POST", "/_matrix/client/v1/appservice/e2e-bridge/ping", {});
    await until(() => ids.every((id) => as.events.some((e) => e.event_id === id)), "the backlog", 60_000);
    const got = as.events.slice(before).filter((e) => e.type === "m.room.message").map((e) => e.event_id);
    expect(got).toEqual(ids);
    expect(as.txnRequests).toBeGreaterThan(failedBefore);
  }, 120_000);

  it("[as: transactions] a backlog survives a restart of the server", async () => {
    as.mode = "500";
    const g = ghosts[1]!;
    const ids: string[] = [];
    for (let k = 0; k < 30; k++) {
      const r = await ok("PUT", `${V3}/rooms/${encodeURIComponent(roomId)}/send/m.room.message/restart-${k}`, { msgtype: "m.text", body: `restart ${k}` }, AS_TOKEN, { user_id: g });
      ids.push(r.event_id as string);
    }
    await server.stop({ keepData: true });
    as.mode = "ok";
    server = await startServer({ dataDir: server.dataDir, env: { PARLEY_APPSERVICES: dir } });
    base = server.baseUrl;
    await ok("POST", "/_matrix/client/v1/appservice/e2e-bridge/ping", {});
    try {
      await until(() => ids.every((id) => as.events.some((e) => e.event_id === id)), "the backlog after restart", 60_000);
    } catch (e) {
      // Both runs' logs are in one file (appended): show its end, so a CI failure says why.
      const log = readFileSync(join(server.dataDir, "server.log"), "utf8").split("\n");
      console.error(`e2e appservice restart: ${as.events.filter((ev) => ids.includes(ev.event_id as string)).length}/${ids.length} arrived; server log tail:\n${log.slice(-120).join("\n")}`);
      throw e;
    }
    const got = as.events.filter((e) => ids.includes(e.event_id as string)).map((e) => e.event_id);
    expect(got).toEqual(ids);
  }, 180_000);

  it("[as: registration] a malformed registration stops npm start with a message naming the file and the field", async () => {
    const bad = mkdtempSync(join(tmpdir(), "parley-as-bad-"));
    writeFileSync(join(bad, "broken.yaml"), registrationYaml(1).replace("exclusive: true", "exclusive: maybe"));
    try {
      await expect(startServer({ env: { PARLEY_APPSERVICES: join(bad, "broken.yaml") } })).rejects.toThrow(
        /broken\.yaml: 'namespaces\.users\[0\]\.exclusive' is required and must be true or false/,
      );
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  }, 60_000);
});
