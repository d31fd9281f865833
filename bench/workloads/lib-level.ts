/**
 * Workload 7: state resolution over 10,000 conflicted state events, at lib level (no
 * server): bench/state-res.ts run as a child process, its figures parsed (goal ≤ 1 s).
 * CPU is the child's, sampled like a server's; memory is its own peak RSS report.
 */
import { spawn } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Sampler } from "../lib/proc.ts";
import { skipped, type Row, type Target } from "../lib/target.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const LINE = /^room v(\d+) \(state res ([^)]+)\): (\d+) events, (\d+) members, (\d+) conflicted state events; resolve median (\d+) ms \(min (\d+), max (\d+), (\d+) runs\).*peak rss ([\d.]+) MiB/;

export async function stateResolution(t: Target): Promise<Row[]> {
  const goal = "≤ 1 s";
  if (!t.isParley) return [skipped(7, "state resolution, 10,000 conflicted events", t, "n/a: lib level, Parley's own code", goal)];
  const size = t.quick ? ["--members", "2000", "--conflicted", "2000", "--runs", "1"] : ["--runs", "5"];
  const variants = t.quick ? [[]] : [[], ["--bans"]];
  const rows: Row[] = [];
  for (const extra of variants) {
    const args = [...size, ...extra];
    const sampler = new Sampler(() => (child.pid ? [child.pid] : []));
    const child = spawn(process.execPath, [join(ROOT, "node_modules/tsx/dist/cli.mjs"), join(ROOT, "bench/state-res.ts"), ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
    const stop = sampler.start();
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString("utf8")));
    const timer = setTimeout(() => child.kill("SIGKILL"), 300_000); // bounded: 5 minutes at most
    const code = await new Promise<number | null>((ok) => child.on("exit", ok));
    clearTimeout(timer);
    const usage = stop();
    if (code !== 0) throw new Error(`bench/state-res.ts ${args.join(" ")} exited with ${code}:\n${out}`);
    for (const line of out.split("\n")) {
      const m = LINE.exec(line);
      if (!m) continue;
      const [, version, algo, events, , conflicted, median, min, max, runs, peak] = m;
      rows.push({
        workload: 7, server: t.label, goal,
        name: `state res ${algo} (room v${version}), ${conflicted} conflicted${extra.includes("--bans") ? ", --bans" : ""}`,
        met: Number(median) <= 1000,
        latency: { n: Number(runs), p50: Number(median), p90: Number(max), p99: Number(max), max: Number(max) },
        usage: { ...usage, peakRssMiB: Number(peak) },
        notes: [`${events} events; median of ${runs} runs (p99 column: slowest run, min ${min} ms); CPU and memory are the child process's (build + all runs)`],
      });
    }
  }
  if (rows.length === 0) throw new Error("bench/state-res.ts printed no result line");
  return rows;
}
