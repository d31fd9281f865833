/**
 * Bridge benchmark: an appservice (node:http on 127.0.0.1, in this process) registered
 * through PARLEY_APPSERVICES on a fresh `npm start` server; 100 ghost users post 10,000
 * messages into one room at full speed (masquerading with user_id). Prints messages/s,
 * the p50/p99 latency of the sends, how long until the appservice had every event, and
 * checks zero loss: every event arrives at the appservice exactly once (by txnId), each
 * ghost's messages in order.
 *
 *   npm run -s bench:appservice [-- --ghosts 100 --messages 10000 --concurrency 100]
 */
import { createServer } from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer } from "../tests/e2e/setup.ts";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} needs a positive integer`);
  return v;
}
const GHOSTS = arg("ghosts", 100);
const MESSAGES = arg("messages", 10_000);
const CONCURRENCY = arg("concurrency", 100);
const AS_TOKEN = "bench-as-token-0123456789";
const HS_TOKEN = "bench-hs-token-9876543210";

type Json = Record<string, unknown>;

// ---- the appservice -------------------------------------------------------------------
const seenTxns = new Set<string>();
const received = new Map<string, Json>();
let duplicates = 0;
const as = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const m = /^\/_matrix\/app\/v1\/transactions\/(.+)$/.exec(req.url ?? "");
    if (req.headers.authorization === `Bearer ${HS_TOKEN}` && m && !seenTxns.has(m[1]!)) {
      seenTxns.add(m[1]!);
      for (const e of (JSON.parse(Buffer.concat(chunks).toString("utf8")) as { events: Json[] }).events) {
        if (received.has(e.event_id as string)) duplicates++;
        received.set(e.event_id as string, e);
      }
    }
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end("{}");
  });
});
await new Promise<void>((ok) => as.listen(0, "127.0.0.1", ok));
const asPort = (as.address() as { port: number }).port;
const dir = mkdtempSync(join(tmpdir(), "parley-bench-as-"));
writeFileSync(
  join(dir, "bench.yaml"),
  `id: bench\nurl: "http://127.0.0.1:${asPort}"\nas_token: "${AS_TOKEN}"\nhs_token: "${HS_TOKEN}"\nsender_localpart: _bench_bot\nrate_limited: false\nnamespaces:\n  users: [{regex: "@_bench_.*", exclusive: true}]\n`,
);

const server = await startServer({ env: { PARLEY_APPSERVICES: dir } });
const base = server.baseUrl;

async function api(method: string, path: string, body: unknown, token: string, query = ""): Promise<Json> {
  const res = await fetch(`${base}${path}${query}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as Json;
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function pool(n: number, tasks: Array<() => Promise<void>>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < tasks.length) await tasks[next++]!();
  }));
}

try {
  const V3 = "/_matrix/client/v3";
  const alice = await api("POST", `${V3}/register`, { username: "benchalice", password: "correct horse battery", auth: { type: "m.login.dummy" } }, "");
  const roomId = (await api("POST", `${V3}/createRoom`, { preset: "public_chat" }, alice.access_token as string)).room_id as string;
  const ghosts: string[] = [];
  await pool(10, Array.from({ length: GHOSTS }, (_, i) => async () => {
    const g = (await api("POST", `${V3}/register`, { type: "m.login.application_service", username: `_bench_g${i}`, inhibit_login: true }, AS_TOKEN)).user_id as string;
    await api("POST", `${V3}/join/${encodeURIComponent(roomId)}`, {}, AS_TOKEN, `?user_id=${encodeURIComponent(g)}`);
    ghosts[i] = g;
  }));

  // Each ghost sends its share in sequence; ghosts run concurrently (at most CONCURRENCY in flight).
  const perGhost = Math.ceil(MESSAGES / GHOSTS);
  const latencies: number[] = [];
  const sent: string[] = [];
  const started = performance.now();
  await pool(CONCURRENCY, ghosts.map((g, gi) => async () => {
    for (let k = 0; k < perGhost && gi * perGhost + k < MESSAGES; k++) {
      const t = performance.now();
      const r = await api("PUT", `${V3}/rooms/${encodeURIComponent(roomId)}/send/m.room.message/b${gi}-${k}`, { msgtype: "m.text", body: `${gi}:${k}` }, AS_TOKEN, `?user_id=${encodeURIComponent(g)}`);
      latencies.push(performance.now() - t);
      sent.push(r.event_id as string);
    }
  }));
  const sendMs = performance.now() - started;
  const deadline = Date.now() + 120_000;
  while (sent.some((id) => !received.has(id)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const deliveredMs = performance.now() - started;

  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!.toFixed(1);
  const missing = sent.filter((id) => !received.has(id)).length;
  let outOfOrder = 0;
  const lastBySender = new Map<string, number>();
  for (const e of received.values()) {
    if (e.type !== "m.room.message") continue;
    const k = Number(String((e.content as Json).body).split(":")[1]);
    if ((lastBySender.get(e.sender as string) ?? -1) >= k) outOfOrder++;
    lastBySender.set(e.sender as string, k);
  }
  console.log(`appservice bench: ${sent.length} messages from ${GHOSTS} ghosts, concurrency ${CONCURRENCY}`);
  console.log(`  sends: ${(sent.length / (sendMs / 1000)).toFixed(0)} messages/s, latency p50 ${pct(50)} ms, p99 ${pct(99)} ms`);
  console.log(`  all at the appservice after ${(deliveredMs / 1000).toFixed(1)} s, in ${seenTxns.size} transactions`);
  console.log(`  lost: ${missing}, duplicates: ${duplicates}, out of order (per ghost): ${outOfOrder}`);
  if (missing > 0 || duplicates > 0 || outOfOrder > 0) process.exitCode = 1;
} finally {
  await server.stop();
  as.close();
  rmSync(dir, { recursive: true, force: true });
}
