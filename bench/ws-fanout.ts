/**
 * Workload 4 (WebSocket rows): fan-out over Parley's sliding sync WebSocket
 * (docs/sliding-sync-websocket.md) — N listeners, each its own user with one socket
 * (client/sliding-sync-socket.ts over the `ws` package), in one room while one user sends
 * at 100 msg/s. Latency of every (listener, message) delivery from the PUT's start to the
 * listener's handler. Goal (issue "Sync"): p99 ≤ 50 ms at 1,000 listeners.
 *
 *   npx tsx bench/ws-fanout.ts [--quick] [--listeners 100,1000] [--base-url URL]
 * or as part of `npm run bench` (workload 4).
 */
import WebSocket from "ws";
import { SlidingSyncSocket, SOCKET_PATH, type Json as SocketJson, type WebSocketLike } from "../client/sliding-sync-socket.ts";
import { parseArgs } from "node:util";
import { Client, localpart, pool, type Session } from "./lib/client.ts";
import { startParley } from "./lib/server.ts";
import { latency, ms, sleep } from "./lib/stats.ts";
import { measured, skipped, type Row, type Target } from "./lib/target.ts";
import { floorRows } from "./ws-floor.ts";

const RATE = 100;
const GOAL = "p99 ≤ 50 ms";

/** Whether the server has the upgrade route (a plain GET there answers 426 when it does). */
async function hasSocket(t: Target): Promise<boolean> {
  const res = await fetch(`${t.baseUrl}${SOCKET_PATH}?user_id=%40probe%3Ax`).catch(() => undefined);
  return res?.status === 426;
}

export async function webSocketFanOut(t: Target): Promise<Row[]> {
  const sizes = t.quick ? [20, 100] : [100, 1000];
  if (!(await hasSocket(t))) {
    return sizes.map((n) => skipped(4, `fan-out: ${n} WebSocket sliding-sync listeners, ${RATE} msg/s`, t, "not available: no sliding sync WebSocket (a Parley transport)", GOAL));
  }
  const rows: Row[] = [await wakeOnce(t, t.quick ? 30 : 100)];
  for (const n of sizes) rows.push(await fanOutOnce(t, n, t.quick ? 3 : 10));
  // What the platform allows at all, measured the same way (Parley runs only; bench/ws-floor.ts).
  if (t.isParley) rows.push(...(await floorRows(sizes, t.quick ? 3 : 10)));
  return rows;
}

async function fanOutOnce(t: Target, listeners: number, seconds: number): Promise<Row> {
  const name = `fan-out: ${listeners} WebSocket sliding-sync listeners, ${RATE} msg/s`;
  const phases: string[] = [];
  let t0 = performance.now();
  const phase = (what: string) => {
    phases.push(`${what} ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    t0 = performance.now();
  };
  const sender = await t.register("wsfsend");
  const users: Session[] = new Array(listeners);
  await pool(8, Array.from({ length: listeners }, (_, i) => async () => {
    users[i] = await t.register("wsflisten");
  }));
  phase("register");
  const roomId = await t.client.createRoom(sender);
  await pool(8, users.map((u) => () => t.client.join(u, roomId)));
  phase("join");

  const total = RATE * seconds;
  const sentAt = new Map<number, number>();
  const seen = users.map(() => new Set<number>());
  const samples: number[] = [];
  let duplicates = 0;
  /** Latency samples by the message's 5-second slice of the send phase: a start-up transient shows apart from the steady state. */
  const bySlice: number[][] = [];
  let responses = 0;
  /** Pushes whose pos carries its state inline (no row written for them: docs/design/sync.md "No row per push"). */
  let inlinePos = 0;
  let limited = 0;
  const errors: string[] = [];
  // A timeline limit above what piles up between two pushes (a `limited` response drops
  // older events, which would read as loss) — but the first response carries that many
  // of the room's newest events, here the listeners' own joins: 1,000 of them for each of
  // 1,000 listeners would be ~0.5 GB of JSON, so the big run uses 200 and counts gaps.
  const timelineLimit = listeners > 200 ? 200 : 1000;
  const request: SocketJson = { conn_id: "bench", lists: { all: { ranges: [[0, 0]], timeline_limit: timelineLimit, required_state: [] } } };
  const ready: Array<Promise<void>> = [];
  let readyCount = 0;
  const sockets = users.map((u, i) => {
    let first!: () => void;
    ready.push(new Promise((r) => (first = r)));
    let initial = true;
    return new SlidingSyncSocket({
      baseUrl: t.baseUrl,
      userId: u.userId,
      accessToken: u.token,
      request,
      createSocket: (url) => new WebSocket(url) as unknown as WebSocketLike,
      onResponse: (body) => {
        const at = performance.now();
        const room = (body.rooms as Record<string, Record<string, unknown>> | undefined)?.[roomId];
        if (initial) {
          initial = false;
          readyCount++;
          first();
          return;
        }
        responses++;
        if (typeof body.pos === "string" && body.pos.includes("~")) inlinePos++;
        if (room?.limited === true) limited++;
        for (const e of (room?.timeline as Array<Record<string, any>> | undefined) ?? []) {
          const seq = e.content?.seq;
          if (e.type !== "m.room.message" || typeof seq !== "number") continue;
          if (seen[i]!.has(seq)) duplicates++;
          seen[i]!.add(seq);
          const sent = sentAt.get(seq);
          if (sent === undefined) continue;
          samples.push(at - sent);
          (bySlice[Math.floor(seq / (RATE * 5))] ??= []).push(at - sent);
        }
      },
      onError: (e) => errors.push(`${e.errcode}: ${e.error}`),
    });
  });
  try {
    // Listeners that have no first response after the wait are measured as not delivered.
    await Promise.race([Promise.all(ready), sleep(600_000)]);
    phase(`first responses (${readyCount}/${listeners})`);
    await sleep(500);

    let failures = 0;
    let firstError: string | undefined;
    const started = performance.now();
    const { usage } = await measured(t, async () => {
      const sends: Array<Promise<unknown>> = [];
      for (let seq = 0; seq < total; seq++) {
        const due = started + (seq * 1000) / RATE;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        sentAt.set(seq, performance.now());
        sends.push(t.client.send(sender, roomId, `wsf${seq}x${Date.now()}`, { msgtype: "m.text", body: "x", seq }).catch((e: unknown) => {
          failures++;
          firstError ??= String(e);
        }));
      }
      await Promise.all(sends);
      const deadline = performance.now() + 120_000;
      while (performance.now() < deadline && seen.some((s) => s.size < total - failures)) await sleep(20);
    });
    const sendSeconds = (performance.now() - started) / 1000;
    const delivered = seen.reduce((a, s) => a + s.size, 0);
    const lat = latency(samples);
    return {
      workload: 4, name, server: t.label, goal: GOAL,
      met: lat !== undefined && lat.p99 <= 50 && delivered === (total - failures) * listeners && duplicates === 0,
      latency: lat, throughput: delivered / Math.max(0.001, usage ? usage.wallMs / 1000 : sendSeconds), unit: "deliveries/s", usage,
      notes: [
        `${total} messages (${failures} failed sends${firstError ? `, first: ${firstError.slice(0, 400)}` : ""}); delivered ${delivered}/${(total - failures) * listeners}, duplicates ${duplicates} (sends are concurrent, so room order need not be seq order)`,
        `${t.client.retries} sends retried after a connection reset (same txnId)`,
        `${responses} pushed responses (${(delivered / Math.max(1, responses)).toFixed(1)} messages each, ${limited} limited, ${inlinePos} with an inline pos; timeline_limit ${timelineLimit})`,
        ...(lat ? [`p90 ${ms(lat.p90)} ms, max ${ms(lat.max)} ms`] : []),
        `by 5 s of sends: ${bySlice.map((b) => {
          const l = latency(b);
          return `p50 ${ms(l?.p50)} p99 ${ms(l?.p99)} ms`;
        }).join("; ")}`,
        `setup: ${phases.join(", ")}`,
        ...(errors.length ? [`${errors.length} error frames, first: ${errors[0]}`] : []),
      ],
    };
  } finally {
    for (const s of sockets) s.close();
  }
}

/**
 * The transport's own latency: one listener in an idle room, a message every 100 ms; from
 * the PUT's answer (the event is committed) to the pushed frame's handler.
 */
async function wakeOnce(t: Target, count: number): Promise<Row> {
  const [sender, listener] = [await t.register("wswsend"), await t.register("wswlisten")];
  const roomId = await t.client.createRoom(sender);
  await t.client.join(listener, roomId);
  let got: ((at: number) => void) | undefined;
  let first!: () => void;
  const ready = new Promise<void>((r) => (first = r));
  const socket = new SlidingSyncSocket({
    baseUrl: t.baseUrl, userId: listener.userId, accessToken: listener.token,
    request: { conn_id: "wake", lists: { all: { ranges: [[0, 0]], timeline_limit: 10, required_state: [] } } },
    createSocket: (url) => new WebSocket(url) as unknown as WebSocketLike,
    onResponse: () => {
      first();
      got?.(performance.now());
    },
  });
  const afterAnswer: number[] = [];
  const fromStart: number[] = [];
  try {
    await ready;
    await sleep(300);
    for (let i = 0; i < count; i++) {
      const arrived = new Promise<number>((r) => (got = r));
      const t0 = performance.now();
      await t.client.send(sender, roomId, `wsw${i}x${Date.now()}`, { msgtype: "m.text", body: "ping", seq: i });
      const t1 = performance.now();
      const at = await Promise.race([arrived, sleep(10_000).then(() => Number.NaN)]);
      if (!Number.isNaN(at)) {
        afterAnswer.push(Math.max(0, at - t1));
        fromStart.push(at - t0);
      }
      await sleep(100);
    }
  } finally {
    socket.close();
  }
  const lat = latency(afterAnswer);
  const e2e = latency(fromStart);
  return {
    workload: 4, name: "WebSocket push after a send, 1 listener, idle room", server: t.label,
    latency: lat,
    notes: [`received ${afterAnswer.length}/${count}; from the PUT's answer (0 when the frame came first)`, ...(e2e ? [`from the PUT's start: p50 ${ms(e2e.p50)} ms, p99 ${ms(e2e.p99)} ms`] : [])],
  };
}

// Standalone: npx tsx bench/ws-fanout.ts [--listeners 100,1000] [--seconds 10] [--wake 100] [--base-url URL]
// (starts Parley as `npm start` does unless --base-url is given; prints the rows as JSON).
if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { listeners: { type: "string", default: "100,1000" }, seconds: { type: "string", default: "10" }, wake: { type: "string" }, "base-url": { type: "string" } } });
  const server = values["base-url"] ? undefined : await startParley({});
  const baseUrl = values["base-url"] ?? server!.baseUrl;
  const client = new Client(baseUrl);
  const t: Target = {
    label: "parley", baseUrl, client, isParley: true, quick: false, profiles: [],
    register: (tag) => client.register(localpart(tag)),
  };
  try {
    if (values.wake) console.log(JSON.stringify(await wakeOnce(t, Number(values.wake)), null, 2));
    for (const n of values.wake ? [] : values.listeners.split(",").map(Number)) {
      process.stderr.write(`ws-fanout: ${n} listeners … `);
      const row = await fanOutOnce(t, n, Number(values.seconds));
      process.stderr.write("done\n");
      console.log(JSON.stringify(row, null, 2));
    }
  } finally {
    client.close();
    await server?.stop();
  }
  // Closed sockets wait for the server's close frame (up to ws's 30 s): do not linger into the next run.
  process.exit(0);
}
