/**
 * A V8 CPU profile of a running Parley's Worker for a while, summarised: for profiling a
 * workload run by hand (e.g. `bench/ws-fanout.ts --base-url …`) against a server started
 * with PARLEY_INSPECTOR_PORT (or any workerd whose inspector is on a loopback port).
 *
 *   npx tsx bench/profile-worker.ts <workerd pid> [seconds=10] [out.cpuprofile]
 *
 * Prints self and inclusive time per function; the file opens in Chrome DevTools.
 */
import { inspectorUrl, startProfile } from "./lib/profiler.ts";

const pid = Number(process.argv[2]);
const seconds = Number(process.argv[3] ?? 10);
const out = process.argv[4] ?? "worker.cpuprofile";
if (!Number.isInteger(pid) || pid <= 0 || !(seconds > 0)) {
  console.error("usage: npx tsx bench/profile-worker.ts <workerd pid> [seconds] [out.cpuprofile]");
  process.exit(2);
}
const stop = await startProfile(await inspectorUrl(pid), out);
await new Promise((r) => setTimeout(r, seconds * 1000));
const s = await stop();
console.log(`${s.totalMs.toFixed(0)} ms sampled (${out})`);
console.log("self:");
for (const t of s.top.slice(0, 30)) console.log(`${t.pct.toFixed(1).padStart(5)}% ${t.ms.toFixed(0).padStart(6)} ms  ${t.name}`);
console.log("inclusive:");
for (const t of s.inclusive.slice(0, 40)) console.log(`${t.pct.toFixed(1).padStart(5)}% ${t.ms.toFixed(0).padStart(6)} ms  ${t.name}`);
