/**
 * CPU profile of Parley's Worker through workerd's inspector (Chrome DevTools Protocol),
 * for "where does the time go". Run as a child process because Node 20 has WebSocket
 * only behind a flag:
 *
 *   node --experimental-websocket --import tsx bench/lib/cdp-profile.ts ws://127.0.0.1:PORT/core:user:parley OUT.cpuprofile
 *
 * Prints "started" once the profiler runs; on a line on stdin (or its end) it stops, writes the
 * profile (open it in Chrome DevTools) and prints a JSON summary: self and inclusive time
 * by function.
 */
import { writeFileSync } from "node:fs";
import { createInterface } from "node:readline";

interface CallFrame { functionName: string; url: string; lineNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

const [url, out] = process.argv.slice(2);
if (!url || !out) throw new Error("usage: cdp-profile.ts WS_URL OUT_FILE");

const ws = new WebSocket(url);
let nextId = 1;
const pending = new Map<number, (result: Record<string, unknown>) => void>();
ws.addEventListener("message", (m) => {
  const msg = JSON.parse(String(m.data)) as { id?: number; result?: Record<string, unknown>; error?: unknown };
  if (msg.id !== undefined && pending.has(msg.id)) {
    if (msg.error) throw new Error(`inspector: ${JSON.stringify(msg.error)}`);
    pending.get(msg.id)!(msg.result ?? {});
    pending.delete(msg.id);
  }
});
const send = (method: string, params: Record<string, unknown> = {}) =>
  new Promise<Record<string, unknown>>((ok) => {
    const id = nextId++;
    pending.set(id, ok);
    ws.send(JSON.stringify({ id, method, params }));
  });

await new Promise((ok, fail) => {
  ws.addEventListener("open", ok);
  ws.addEventListener("error", fail);
});
await send("Profiler.enable");
await send("Profiler.setSamplingInterval", { interval: 200 }); // µs
await send("Profiler.start");
console.log("started");

// Stop on a line or at the end of stdin (the parent going away).
const lines = createInterface({ input: process.stdin });
await new Promise<void>((ok) => {
  lines.once("line", () => ok());
  lines.once("close", () => ok());
});
const { profile } = (await send("Profiler.stop")) as { profile: Profile };
writeFileSync(out, JSON.stringify(profile));
ws.close();
lines.close();

// Self time per function (each sample's time delta goes to the sampled node) and
// inclusive time (to every distinct function on the sampled stack).
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const label = (f: CallFrame) => {
  const where = f.url ? `${f.url.split("/").pop()}:${f.lineNumber + 1}` : "";
  return `${f.functionName || "(anonymous)"}${where ? ` ${where}` : ""}`;
};
const self = new Map<string, number>();
const inclusive = new Map<string, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  total += dt;
  const key = label(byId.get(id)!.callFrame);
  self.set(key, (self.get(key) ?? 0) + dt);
  const onStack = new Set<string>();
  for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
    const f = byId.get(n)!.callFrame;
    if (f.functionName === "(root)") continue;
    onStack.add(label(f));
  }
  for (const k of onStack) inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
});
const top = (m: Map<string, number>) =>
  [...m].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([name, us]) => ({ name, ms: us / 1000, pct: (100 * us) / total }));
console.log(JSON.stringify({ totalMs: total / 1000, top: top(self), inclusive: top(inclusive) }));
