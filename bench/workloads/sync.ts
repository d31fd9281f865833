/**
 * Workloads 4 and 5 over HTTP long-poll /sync (v2):
 * 4. fan-out: N listeners long-polling one room while one user sends at 100 msg/s; the
 *    latency of every (listener, message) delivery from the PUT's start;
 * 5. wake: one listener long-polling an idle room, a message every 100 ms; from the PUT
 *    being answered (the event is committed) to the listener's /sync answer (goal p50 ≤ 5 ms).
 * WebSocket sliding-sync fan-out is a separate check (bench/ws-fanout.ts).
 */
import { setMaxListeners } from "node:events";
import { V3, type Json, type Session } from "../lib/client.ts";
import { latency, ms, sleep } from "../lib/stats.ts";
import { measured, type Row, type Target } from "../lib/target.ts";

// A timeline limit above what can pile up between two polls: a `limited` response drops
// the older events of the gap (a client would backfill them), which would read as loss.
const FILTER = encodeURIComponent(JSON.stringify({
  room: { timeline: { limit: 1000 }, state: { lazy_load_members: true } },
  presence: { not_types: ["*"] },
}));

interface Listener {
  done: Promise<void>;
  responses: () => number;
  /** Responses whose timeline for the room was `limited` (a gap). */
  limited: () => number;
}

/** A /sync loop; `onMessage(seq, at)` for every m.room.message carrying a numeric `seq`. */
async function startListener(t: Target, u: Session, roomId: string, signal: AbortSignal, onMessage: (seq: number, at: number) => void): Promise<Listener> {
  const first = await t.client.call("GET", `${V3}/sync?filter=${FILTER}`, { token: u.token });
  let since = first.next_batch as string;
  let responses = 0;
  let limited = 0;
  const done = (async () => {
    while (!signal.aborted) {
      let s: Json;
      try {
        s = await t.client.call("GET", `${V3}/sync?filter=${FILTER}&timeout=30000&since=${encodeURIComponent(since)}`, { token: u.token, signal });
      } catch (e) {
        if (signal.aborted) return;
        throw e;
      }
      const at = performance.now();
      responses++;
      since = s.next_batch as string;
      const room = ((s.rooms as Json | undefined)?.join as Json | undefined)?.[roomId] as Json | undefined;
      if ((room?.timeline as Json | undefined)?.limited === true) limited++;
      for (const ev of ((room?.timeline as Json | undefined)?.events as Json[] | undefined) ?? []) {
        const seq = (ev.content as Json | undefined)?.seq;
        if (ev.type === "m.room.message" && typeof seq === "number") onMessage(seq, at);
      }
    }
  })();
  return { done, responses: () => responses, limited: () => limited };
}

export async function fanOut(t: Target): Promise<Row[]> {
  const listeners = t.quick ? 20 : 100;
  const rate = 100;
  const seconds = t.quick ? 3 : 10;
  const name = `fan-out: ${listeners} long-poll /sync listeners, ${rate} msg/s`;
  const sender = await t.register("fsend");
  const users: Session[] = [];
  for (let i = 0; i < listeners; i += 10) users.push(...(await Promise.all(Array.from({ length: Math.min(10, listeners - i) }, () => t.register("flisten")))));
  const roomId = await t.client.createRoom(sender);
  for (let i = 0; i < users.length; i += 10) await Promise.all(users.slice(i, i + 10).map((u) => t.client.join(u, roomId)));

  const sentAt = new Map<number, number>();
  const seen = users.map(() => new Set<number>());
  let duplicates = 0;
  const samples: number[] = [];
  const stop = new AbortController();
  setMaxListeners(0, stop.signal); // one abort listener per parked long-poll
  const loops: Listener[] = [];
  for (let i = 0; i < users.length; i += 10) {
    loops.push(...(await Promise.all(users.slice(i, i + 10).map((u, j) =>
      startListener(t, u, roomId, stop.signal, (seq, at) => {
        const mine = seen[i + j]!;
        if (mine.has(seq)) duplicates++;
        mine.add(seq);
        samples.push(at - sentAt.get(seq)!);
      }),
    ))));
  }
  await sleep(2000); // every listener is parked in a long-poll

  const total = rate * seconds;
  let failures = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const { usage } = await measured(t, async () => {
    const sends: Array<Promise<unknown>> = [];
    for (let seq = 0; seq < total; seq++) {
      const due = started + (seq * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      sentAt.set(seq, performance.now());
      sends.push(t.client.send(sender, roomId, `f${seq}`, { msgtype: "m.text", body: "x", seq }).catch((e: unknown) => {
        failures++;
        firstError ??= String(e);
      }));
    }
    await Promise.all(sends);
    const deadline = performance.now() + 30_000;
    while (performance.now() < deadline && seen.some((s) => s.size < total - failures)) await sleep(20);
  });
  stop.abort();
  await Promise.allSettled(loops.map((l) => l.done));
  const delivered = seen.reduce((a, s) => a + s.size, 0);
  const lat = latency(samples);
  const elapsed = (usage?.wallMs ?? performance.now() - started) / 1000;
  const responses = loops.reduce((a, l) => a + l.responses(), 0);
  const limited = loops.reduce((a, l) => a + l.limited(), 0);
  return [{
    workload: 4, name, server: t.label,
    goal: "p99 ≤ 50 ms (the issue's WebSocket goal)", met: lat !== undefined && lat.p99 <= 50 && delivered === total * listeners,
    latency: lat, throughput: delivered / elapsed, unit: "deliveries/s", usage,
    notes: [
      `${total} messages (${failures} failed sends${firstError ? `, first: ${firstError}` : ""}); delivered ${delivered}/${total * listeners}, duplicates ${duplicates}`,
      `${responses} /sync responses (${(delivered / Math.max(1, responses)).toFixed(1)} messages each, ${limited} limited)`,
      ...(usage ? [`CPU window includes the wait for the last deliveries (${(usage.wallMs / 1000).toFixed(1)} s in all)`] : []),
      ...(lat ? [`p90 ${ms(lat.p90)} ms, max ${ms(lat.max)} ms`] : []),
    ],
  }];
}

export async function wake(t: Target): Promise<Row[]> {
  const count = t.quick ? 30 : 200;
  const [sender, listener] = await Promise.all([t.register("wsend"), t.register("wlisten")]);
  const roomId = await t.client.createRoom(sender);
  await t.client.join(listener, roomId);
  const startedAt = new Map<number, number>();
  const answeredAt = new Map<number, number>();
  const receivedAt = new Map<number, number>();
  const stop = new AbortController();
  const loop = await startListener(t, listener, roomId, stop.signal, (seq, at) => receivedAt.set(seq, at));
  await sleep(500);
  const { usage } = await measured(t, async () => {
    for (let seq = 0; seq < count; seq++) {
      startedAt.set(seq, performance.now());
      await t.client.send(sender, roomId, `w${seq}`, { msgtype: "m.text", body: "ping", seq });
      answeredAt.set(seq, performance.now());
      await sleep(100);
    }
    const deadline = performance.now() + 10_000;
    while (receivedAt.size < count && performance.now() < deadline) await sleep(20);
  });
  stop.abort();
  await loop.done.catch(() => {});
  const afterAnswer: number[] = [];
  const fromStart: number[] = [];
  let beforeAnswer = 0;
  for (const [seq, at] of receivedAt) {
    const d = at - answeredAt.get(seq)!;
    if (d < 0) beforeAnswer++;
    afterAnswer.push(Math.max(0, d));
    fromStart.push(at - startedAt.get(seq)!);
  }
  const lat = latency(afterAnswer);
  const e2e = latency(fromStart);
  // Messages batched into one response (the listener had not re-polled yet) are counted once each.
  return [{
    workload: 5, name: "long-poll /sync wake after a send", server: t.label,
    goal: "p50 ≤ 5 ms", met: lat !== undefined && lat.p50 <= 5 && receivedAt.size === count,
    latency: lat, usage,
    notes: [
      `received ${receivedAt.size}/${count}; measured from the PUT's answer (0 when the /sync answer came first: ${beforeAnswer} times)`,
      ...(e2e ? [`from the PUT's start: p50 ${ms(e2e.p50)} ms, p99 ${ms(e2e.p99)} ms`] : []),
      `${loop.responses()} /sync responses`,
    ],
  }];
}
