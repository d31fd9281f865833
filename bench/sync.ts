/**
 * /sync benchmark against the real server (`npm start`, i.e. wrangler dev on this machine):
 *
 *   1. wake latency: one listener long-polling an idle room; a message every 100 ms;
 *      time from the sender's PUT returning (the event is committed) to the listener's
 *      /sync response carrying it, and from the PUT starting;
 *   2. fan-out: N listeners (default 100 and 1000) long-polling one room while a sender
 *      sends at R messages/s (default 100) for S seconds; latency of every delivery,
 *      deliveries missing or duplicated.
 *
 *   npx tsx bench/sync.ts [--listeners 100,1000] [--rate 100] [--seconds 5] [--base http://127.0.0.1:8787]
 *
 * Without --base a fresh server is started (as the e2e tests do) and stopped afterwards.
 * WebSocket fan-out is not measured: sliding sync over WebSocket is not built yet.
 */
import { startServer } from "../tests/e2e/setup.ts";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "");
const LISTENERS = (args.get("listeners") ?? "100,1000").split(",").map(Number);
const RATE = Number(args.get("rate") ?? 100);
const SECONDS = Number(args.get("seconds") ?? 5);
const PASSWORD = "bench password 123";

let base = args.get("base") ?? "";
const server = base ? undefined : await startServer();
if (server) base = server.baseUrl;
// Whatever happens, the server started here is stopped.
for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => void server?.stop().finally(() => process.exit(1)));
process.on("unhandledRejection", (e) => {
  console.error("bench failed:", e);
  void server?.stop().finally(() => process.exit(1));
});

interface User {
  userId: string;
  token: string;
}

/** 503s from wrangler dev's proxy ("worker restarted mid-request"), retried (sends carry a txnId: idempotent). */
let retried503 = 0;

async function api(method: string, path: string, body?: unknown, token?: string, signal?: AbortSignal): Promise<any> {
  for (let attempt = 0; ; attempt++) {
    const res = await once(method, path, body, token, signal);
    if (res.status === 503 && attempt < 5) {
      retried503++;
      continue;
    }
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 200)}`);
    return JSON.parse(text);
  }
}

function once(method: string, path: string, body?: unknown, token?: string, signal?: AbortSignal): Promise<Response> {
  return fetch(base + path, {
    method,
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
}

let n = 0;
async function register(tag: string): Promise<User> {
  const username = `${tag}${Date.now().toString(36)}${++n}`;
  const first = await fetch(`${base}/_matrix/client/v3/register`, { method: "POST", body: JSON.stringify({ username, password: PASSWORD }) });
  const { session } = (await first.json()) as { session: string };
  const r = await api("POST", "/_matrix/client/v3/register", { username, password: PASSWORD, auth: { type: "m.login.dummy", session } });
  return { userId: r.user_id, token: r.access_token };
}

async function inBatches<T, R>(items: T[], size: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}

function percentiles(xs: number[]): string {
  if (xs.length === 0) return "no samples";
  const s = [...xs].sort((a, b) => a - b);
  const p = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!.toFixed(1);
  return `p50 ${p(0.5)} ms  p90 ${p(0.9)} ms  p99 ${p(0.99)} ms  max ${s.at(-1)!.toFixed(1)} ms  (n=${s.length})`;
}

const FILTER = encodeURIComponent(JSON.stringify({ room: { timeline: { limit: 64 }, state: { lazy_load_members: true } }, presence: { not_types: ["*"] } }));

let syncRequests = 0;

/**
 * A listener's sync loop: calls `onMessage(seq, at)` for every message with a `seq` it
 * receives, and `onGap()` for a limited timeline (the listener fell behind by more than
 * its timeline limit: the events before are skipped, as /sync prescribes).
 */
async function listen(u: User, roomId: string, signal: AbortSignal, onMessage: (seq: number, at: number) => void, onGap: () => void = () => {}): Promise<void> {
  let since = (await api("GET", `/_matrix/client/v3/sync?filter=${FILTER}`, undefined, u.token)).next_batch as string;
  while (!signal.aborted) {
    let s: any;
    try {
      s = await api("GET", `/_matrix/client/v3/sync?filter=${FILTER}&timeout=30000&since=${encodeURIComponent(since)}`, undefined, u.token, signal);
    } catch (e) {
      if (signal.aborted) return;
      throw e;
    }
    const at = performance.now();
    syncRequests++;
    since = s.next_batch;
    if (s.rooms?.join?.[roomId]?.timeline?.limited) onGap();
    for (const ev of s.rooms?.join?.[roomId]?.timeline?.events ?? []) {
      if (ev.type === "m.room.message" && typeof ev.content.seq === "number") onMessage(ev.content.seq, at);
    }
  }
}

/** Each sent message's position in the room's own order (from /messages), by seq. */
async function roomOrder(u: User, roomId: string, eventIds: string[]): Promise<number[]> {
  const pos = new Map<string, number>();
  let from: string | undefined;
  let i = 0;
  for (;;) {
    const page = await api("GET", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=f&limit=1000${from ? `&from=${from}` : ""}`, undefined, u.token);
    for (const ev of page.chunk) pos.set(ev.event_id, i++);
    if (!page.end) break;
    from = page.end;
  }
  return eventIds.map((id) => pos.get(id) ?? -1);
}

async function wakeLatency(): Promise<void> {
  const [sender, listener] = await Promise.all([register("wsend"), register("wlisten")]);
  const { room_id: roomId } = await api("POST", "/_matrix/client/v3/createRoom", { preset: "public_chat" }, sender.token);
  await api("POST", `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {}, listener.token);
  const started = new Map<number, number>();
  const acked = new Map<number, number>();
  const fromStart: number[] = [];
  const fromAck: number[] = [];
  const stop = new AbortController();
  const received = new Map<number, number>();
  const loop = listen(listener, roomId, stop.signal, (seq, at) => received.set(seq, at));
  await new Promise((r) => setTimeout(r, 500));
  for (let seq = 0; seq < 100; seq++) {
    started.set(seq, performance.now());
    await api("PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/w${seq}`, { msgtype: "m.text", body: "ping", seq }, sender.token);
    acked.set(seq, performance.now());
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 500));
  stop.abort();
  await loop.catch(() => {});
  for (const [seq, at] of received) {
    fromStart.push(at - started.get(seq)!);
    fromAck.push(Math.max(0, at - acked.get(seq)!));
  }
  console.log(`\nlong-poll wake, 1 listener, idle room, 100 messages 100 ms apart`);
  console.log(`  PUT returned → /sync response:  ${percentiles(fromAck)}`);
  console.log(`  PUT started  → /sync response:  ${percentiles(fromStart)}`);
  console.log(`  received ${received.size}/100`);
}

async function fanOut(listeners: number): Promise<void> {
  const t0 = performance.now();
  const sender = await register("fsend");
  const users = await inBatches(Array.from({ length: listeners }, (_, i) => i), 25, () => register("flisten"));
  const { room_id: roomId } = await api("POST", "/_matrix/client/v3/createRoom", { preset: "public_chat" }, sender.token);
  await inBatches(users, 50, (u) => api("POST", `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {}, u.token));
  console.log(`\nfan-out: ${listeners} listeners (setup ${((performance.now() - t0) / 1000).toFixed(1)} s), ${RATE} msg/s for ${SECONDS} s`);
  const sent = new Map<number, number>();
  const seen = users.map(() => new Set<number>());
  const order = users.map(() => [] as number[]);
  let duplicates = 0;
  let gaps = 0;
  const latencies: number[] = [];
  const stop = new AbortController();
  const loops = users.map((u, i) =>
    listen(u, roomId, stop.signal, (seq, at) => {
      if (seen[i]!.has(seq)) duplicates++;
      seen[i]!.add(seq);
      order[i]!.push(seq);
      latencies.push(at - sent.get(seq)!);
    }, () => gaps++).catch((e) => console.error("listener failed", e)),
  );
  await new Promise((r) => setTimeout(r, 5000)); // every listener is long-polling; joins and device-list tracking settled
  syncRequests = 0;
  const total = RATE * SECONDS;
  const sends: Promise<unknown>[] = [];
  const start = performance.now();
  for (let seq = 0; seq < total; seq++) {
    const due = start + (seq * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    sent.set(seq, performance.now());
    sends.push(api("PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/f${seq}`, { msgtype: "m.text", body: "x", seq }, sender.token));
  }
  // Concurrent PUTs may commit in another order than sent: the room's order is the truth.
  const ids = await Promise.all(sends);
  const sendSeconds = (performance.now() - start) / 1000;
  const deadline = performance.now() + 30_000;
  // Done when every listener has the last message (earlier ones may lie in a gap).
  while (performance.now() < deadline && seen.some((s) => !s.has(total - 1))) await new Promise((r) => setTimeout(r, 100));
  stop.abort();
  await Promise.all(loops);
  const requests = syncRequests;
  const elapsed = (performance.now() - start) / 1000;
  const streamOf = await roomOrder(sender, roomId, ids.map((r) => (r as { event_id: string }).event_id));
  const outOfOrder = order.filter((o) => o.some((seq, k) => k > 0 && streamOf[seq]! < streamOf[o[k - 1]!]!)).length;
  const delivered = seen.reduce((a, s) => a + s.size, 0);
  console.log(`  sent ${total} in ${sendSeconds.toFixed(1)} s (${(total / sendSeconds).toFixed(0)} msg/s achieved)`);
  console.log(`  PUT started → listener has it:  ${percentiles(latencies)}`);
  const complete = seen.filter((s) => s.has(total - 1)).length;
  console.log(`  delivered ${delivered}/${total * listeners} (the rest skipped in ${gaps} limited timelines), duplicates ${duplicates}, listeners that saw events out of room order: ${outOfOrder}, listeners that got the last message: ${complete}/${listeners}`);
  if (retried503 > 0) console.log(`  requests retried after a 503 from wrangler dev's proxy: ${retried503}`);
  retried503 = 0;
  console.log(`  /sync responses: ${requests} in ${elapsed.toFixed(1)} s (${(requests / elapsed).toFixed(0)}/s, ${(delivered / Math.max(1, requests)).toFixed(1)} messages per response)`);
}

try {
  await wakeLatency();
  for (const l of LISTENERS) await fanOut(l);
  console.log("\nWebSocket fan-out: not measured (sliding sync over WebSocket is not built yet).");
} finally {
  await server?.stop();
}
