/**
 * The platform floor under workload 4: what WebSocket fan-out latency a push server with
 * NO work of its own shows on this machine, measured exactly as bench/ws-fanout.ts
 * measures Parley (N `ws` listeners in this process, one sender at 100 msg/s, latency from
 * the send's start to the listener's handler, one unacknowledged frame per socket, the
 * frame parsed and acknowledged by the handler). The server is bench/lib/floor-worker.js
 * run by the same workerd (Miniflare, as `npm start`): one Durable Object holding every
 * socket and sending prebuilt frames — no storage, no signing, no auth, no sync state.
 *
 * Parley cannot beat these figures on the same machine; the gap between them and
 * workload 4's rows is what Parley's own push path costs (docs/benchmarks.md).
 *
 *   npx tsx bench/ws-floor.ts [--listeners 100,1000] [--seconds 10] [--compression off,on]
 *
 * `--compression on` lets workerd accept the permessage-deflate the `ws` client (like
 * every browser) offers; `off` is the `no_web_socket_compression` flag Parley's
 * wrangler.toml sets.
 */
import { createServer } from "node:net";
import { Agent, request } from "node:http";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { latency, ms, sleep, type Latency } from "./lib/stats.ts";
import type { Row } from "./lib/target.ts";

const RATE = 100;
const ROOM = "!floor:localhost";
const HERE = dirname(fileURLToPath(import.meta.url));

interface FloorResult {
  listeners: number;
  compression: boolean;
  latency: Latency | undefined;
  delivered: number;
  expected: number;
  frames: number;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** The floor Worker in one workerd process, on a loopback port of its own (no entry proxy). */
export async function startFloor(compression: boolean): Promise<{ baseUrl: string; stop(): Promise<void> }> {
  const require = createRequire(import.meta.url);
  // Miniflare as wrangler resolves it, the version `npm start` runs.
  const { Miniflare, Log, LogLevel } = createRequire(require.resolve("wrangler"))("miniflare");
  const port = await freePort();
  const mf = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    log: new Log(LogLevel.WARN),
    modules: true,
    scriptPath: join(HERE, "lib", "floor-worker.js"),
    compatibilityDate: "2026-04-01",
    // A fixed placeholder `Request.cf`, never downloaded.
    cf: false,
    compatibilityFlags: compression ? [] : ["no_web_socket_compression"],
    durableObjects: { FLOOR: "Floor" },
    unsafeDirectSockets: [{ host: "127.0.0.1", port }],
  });
  await mf.ready;
  return { baseUrl: `http://127.0.0.1:${port}`, stop: () => mf.dispose() };
}

export async function floorOnce(baseUrl: string, listeners: number, seconds: number, compression: boolean): Promise<FloorResult> {
  const sentAt = new Map<number, number>();
  const seen = Array.from({ length: listeners }, () => new Set<number>());
  const samples: number[] = [];
  let frames = 0;
  const wsUrl = `${baseUrl.replace(/^http/, "ws")}/socket`;
  const sockets = await Promise.all(Array.from({ length: listeners }, (_, i) => new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(wsUrl);
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
    ws.on("message", (data) => {
      const at = performance.now();
      const frame = JSON.parse(data.toString()) as { pos: string; body: { rooms: Record<string, { timeline: Array<{ content: { seq: number } }> }> } };
      frames++;
      for (const e of frame.body.rooms[ROOM]?.timeline ?? []) {
        seen[i]!.add(e.content.seq);
        const sent = sentAt.get(e.content.seq);
        if (sent !== undefined) samples.push(at - sent);
      }
      ws.send(JSON.stringify({ type: "ack", pos: frame.pos }));
    });
  })));
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const send = (seq: number) => new Promise<void>((resolve, reject) => {
    const req = request(`${baseUrl}/send`, { method: "POST", agent, headers: { "content-type": "application/json" } }, (res) => {
      res.resume();
      res.on("end", () => resolve());
    });
    req.on("error", reject);
    req.end(JSON.stringify({ seq }));
  });
  await sleep(500);
  const total = RATE * seconds;
  const started = performance.now();
  const sends: Array<Promise<void>> = [];
  for (let seq = 0; seq < total; seq++) {
    const wait = started + (seq * 1000) / RATE - performance.now();
    if (wait > 0) await sleep(wait);
    sentAt.set(seq, performance.now());
    sends.push(send(seq));
  }
  await Promise.all(sends);
  const deadline = performance.now() + 60_000;
  while (performance.now() < deadline && seen.some((s) => s.size < total)) await sleep(20);
  for (const ws of sockets) ws.terminate();
  agent.destroy();
  await fetch(`${baseUrl}/reset`).catch(() => undefined);
  return { listeners, compression, latency: latency(samples), delivered: seen.reduce((a, s) => a + s.size, 0), expected: total * listeners, frames };
}

/** Workload 4's floor rows (`npm run bench`): the same listener counts, compression off as Parley serves. */
export async function floorRows(sizes: number[], seconds: number): Promise<Row[]> {
  const floor = await startFloor(false);
  const rows: Row[] = [];
  try {
    for (const n of sizes) {
      const r = await floorOnce(floor.baseUrl, n, seconds, false);
      rows.push({
        workload: 4,
        name: `fan-out floor: ${n} listeners, ${RATE} msg/s, a Durable Object that only sends prebuilt frames`,
        server: "floor",
        latency: r.latency,
        throughput: r.delivered / seconds,
        unit: "deliveries/s",
        notes: [`no storage, signing or sync state (bench/ws-floor.ts): the least latency a push server on this workerd and machine shows; delivered ${r.delivered}/${r.expected}, ${r.frames} frames`],
      });
    }
  } finally {
    await floor.stop();
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: {
    listeners: { type: "string", default: "100,1000" },
    seconds: { type: "string", default: "10" },
    compression: { type: "string", default: "off,on" },
  } });
  for (const mode of values.compression.split(",")) {
    const compression = mode === "on";
    const floor = await startFloor(compression);
    try {
      for (const n of values.listeners.split(",").map(Number)) {
        const r = await floorOnce(floor.baseUrl, n, Number(values.seconds), compression);
        const l = r.latency;
        console.log(`floor: ${n} listeners, ${RATE} msg/s, compression ${mode}: p50 ${ms(l?.p50)} ms, p90 ${ms(l?.p90)} ms, p99 ${ms(l?.p99)} ms, max ${ms(l?.max)} ms; delivered ${r.delivered}/${r.expected}, ${r.frames} frames (${(r.delivered / Math.max(1, r.frames)).toFixed(1)} messages each)`);
      }
    } finally {
      await floor.stop();
    }
  }
  process.exit(0);
}
