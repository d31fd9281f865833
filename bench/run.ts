/**
 * `npm run bench`: Parley's benchmark suite (issue "Benchmark suite").
 *
 * Starts Parley the way the README does (or takes --base-url), optionally a second
 * homeserver (--compare-url, any server speaking the client-server API), runs the same
 * eight workloads against each through the standard API only, and prints one table:
 * p50/p99 latency, throughput, server CPU and peak memory, the goal, and the ratio.
 * Loopback only; every loop is bounded in count and time. Results: docs/benchmarks.md.
 *
 *   npm run bench [-- --quick] [-- --only 1,2] [-- --base-url URL] [-- --compare-url URL --compare-pid PID]
 *   [-- --profile DIR] [-- --wrangler-dev]
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, UsageError, type BenchOptions } from "./lib/args.ts";
import { Client, localpart } from "./lib/client.ts";
import { lifetimePeakMiB, Sampler, selfCpu } from "./lib/proc.ts";
import { inspectorUrl, startProfile, type ProfileSummary } from "./lib/profiler.ts";
import { startParley, type StartedParley } from "./lib/server.ts";
import { render, renderNotes } from "./lib/table.ts";
import type { Row, Target, Workload } from "./lib/target.ts";
import { bridge, forStartedParley, fromRegistration, type AppserviceListener } from "./workloads/appservice.ts";
import { stateResolution } from "./workloads/lib-level.ts";
import { concurrent, sequential } from "./workloads/send.ts";
import { firstResponse } from "./workloads/sliding.ts";
import { rowsPerMessage } from "./workloads/storage.ts";
import { fanOut, wake } from "./workloads/sync.ts";
import { webSocketFanOut } from "./ws-fanout.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

const WORKLOADS: Array<[number, Workload]> = [
  [1, sequential],
  [2, concurrent],
  [3, bridge],
  [4, fanOut],
  [4, webSocketFanOut],
  [5, wake],
  [6, firstResponse],
  [7, stateResolution],
  [8, rowsPerMessage],
];

let opts: BenchOptions;
try {
  opts = parseArgs(process.argv.slice(2));
} catch (e) {
  if (!(e instanceof UsageError)) throw e;
  if (e.message) console.error(`bench: ${e.message}`);
  console.error(e.usage);
  process.exit(e.message ? 2 : 0);
}

const started = new Date();
const load0 = loadavg();
const cleanups: Array<() => Promise<void> | void> = [];
const rows: Row[] = [];
let parley: StartedParley | undefined;
const clientCpu = selfCpu();
const profiles: Array<{ label: string; summary: ProfileSummary }> = [];

async function runTarget(t: Target): Promise<void> {
  for (const [n, workload] of WORKLOADS) {
    if (opts.only && !opts.only.has(n)) continue;
    const t0 = performance.now();
    process.stderr.write(`bench: ${t.label}: workload ${n} (${workload.name}) … `);
    try {
      let out: Row[];
      if (n === 3 && t.label === "parley" && !opts.baseUrl) {
        // The appservice must be in the server's start-up configuration; a second Parley
        // carries it, so the other workloads measure the plain README server (an appservice
        // registry adds a token hash to every authenticated request).
        const sub = await startedParleyTarget(true);
        try {
          out = await workload(sub.target);
          t.profiles.push(...sub.target.profiles);
        } finally {
          await sub.stop();
        }
      } else {
        out = await workload(t);
      }
      rows.push(...out);
      for (const [i, summary] of t.profiles.splice(0).entries()) profiles.push({ label: `${n} ${workload.name} #${i + 1}`, summary });
      process.stderr.write(`${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    } catch (e) {
      // A workload that breaks is a finding, shown as such; the others still run.
      const msg = e instanceof Error ? e.message : String(e);
      rows.push({ workload: n, name: workload.name, server: t.label, skipped: `failed: ${msg.split("\n")[0]!.slice(0, 200)}`, notes: [] });
      process.stderr.write(`failed: ${msg}\n`);
    }
  }
}

function target(label: string, baseUrl: string, extra: Partial<Target>): Target {
  const client = new Client(baseUrl);
  cleanups.push(() => client.close());
  const t: Target = {
    label, baseUrl, client, isParley: label === "parley", quick: opts.quick, profiles: [],
    register: (tag) => client.register(localpart(tag), t.sharedSecret),
    ...extra,
  };
  return t;
}

/** Parley started the README way; with an appservice (workload 3) when asked. */
async function startedParleyTarget(withAppservice: boolean): Promise<{ server: StartedParley; target: Target; stop(): Promise<void> }> {
  const local: Array<() => Promise<void> | void> = [];
  const env: Record<string, string> = {};
  let as: AppserviceListener | undefined;
  if (withAppservice) {
    const asDir = mkdtempSync(join(tmpdir(), "parley-bench-as-"));
    local.push(() => rmSync(asDir, { recursive: true, force: true }));
    as = await forStartedParley(asDir);
    local.push(() => as!.close());
    env.PARLEY_APPSERVICES = asDir;
  }
  // --profile: the Worker's inspector (`npm start` opens none unless asked; wrangler dev always does).
  if (opts.profile && !opts.wranglerDev) env.PARLEY_INSPECTOR_PORT = "0";
  process.stderr.write(
    `bench: starting Parley${withAppservice ? " with an appservice" : ""} (node scripts/start.mjs${opts.wranglerDev ? " --dev" : ""}) … `,
  );
  const p = await startParley(env, { wrangler: opts.wranglerDev });
  local.push(() => p.stop());
  process.stderr.write(`${p.baseUrl}, workerd pid ${p.workerd().join(",")}\n`);
  const t = target("parley", p.baseUrl, {
    dataDir: p.dataDir, appservice: as, directUrl: await p.directUrl(),
    sampler: new Sampler(() => p.workerd(), (pid) => p.role(pid)),
  });
  if (opts.profile) {
    const dir = opts.profile;
    mkdirSync(dir, { recursive: true });
    const worker = p.workerd().find((pid) => p.role(pid) === "worker");
    if (worker === undefined) throw new Error("--profile: no Worker workerd process found");
    const ws = await inspectorUrl(worker);
    t.profiler = () => startProfile(ws, join(dir, `parley-${++profileFiles}.cpuprofile`));
  }
  const stop = async () => {
    for (const c of local.reverse()) await c();
  };
  return { server: p, target: t, stop };
}
let profileFiles = 0;

try {
  // ---- Parley -------------------------------------------------------------------------
  let external: AppserviceListener | undefined;
  if (opts.appserviceRegistration) {
    external = await fromRegistration(opts.appserviceRegistration);
    cleanups.push(() => external!.close());
  }
  let parleyTarget: Target;
  if (opts.baseUrl) {
    parleyTarget = target("parley", opts.baseUrl, { dataDir: opts.dataDir, sharedSecret: opts.sharedSecret, appservice: external });
  } else {
    const main = await startedParleyTarget(false);
    cleanups.push(() => main.stop());
    parley = main.server;
    parleyTarget = main.target;
  }
  await runTarget(parleyTarget);

  // ---- the other homeserver -----------------------------------------------------------
  if (opts.compareUrl) {
    const pid = opts.comparePid;
    await runTarget(target("compare", opts.compareUrl, {
      sharedSecret: opts.sharedSecret, appservice: external,
      sampler: pid ? new Sampler(() => [pid]) : undefined,
    }));
  }

  // ---- the table ----------------------------------------------------------------------
  rows.sort((a, b) => a.workload - b.workload || Number(a.server !== "parley") - Number(b.server !== "parley"));
  const load1 = loadavg();
  const wrangler = JSON.parse(readFileSync(join(ROOT, "node_modules/wrangler/package.json"), "utf8")) as { version: string };
  const meta = {
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    date: started.toISOString(),
    machine: `${cpus().length} cores (${cpus()[0]?.model.trim() ?? "?"}), Node ${process.versions.node}, ` +
      `workerd via ${opts.wranglerDev ? "wrangler dev" : "Miniflare (npm start)"}, wrangler ${wrangler.version}`,
    load: `load average at start ${load0.map((l) => l.toFixed(2)).join(" ")}, at end ${load1.map((l) => l.toFixed(2)).join(" ")}`,
    clientCpuSeconds: clientCpu() / 1000,
    parleyWorkerdLifetimePeakMiB: parley ? lifetimePeakMiB(parley.workerd()) : undefined,
    supervisorPeakMiB: parley ? lifetimePeakMiB(parley.supervisors()) : undefined,
  };
  console.log(`\n${meta.command}\n${meta.date}; ${meta.machine}\n${meta.load}\n`);
  console.log(render(rows, opts.compareUrl !== undefined));
  console.log(`\nServer CPU and peak memory: ${parley ? "the workerd process serving Parley" : "n/a unless the server was started here"}` +
    `${opts.comparePid ? `; compare: process tree of pid ${opts.comparePid}` : ""}; sampled every 100 ms over each workload's measured part.` +
    `${parley && opts.wranglerDev ? " wrangler dev runs two workerd processes, a proxy owning the port and the one running the Worker and actors; the columns are their sum, the notes split it." : ""}`);
  if (parley) {
    console.log(`workerd peak RSS over the whole run (VmHWM): ${meta.parleyWorkerdLifetimePeakMiB!.toFixed(0)} MiB; ` +
      `${opts.wranglerDev ? "wrangler's node supervisors" : "the node process running Miniflare (scripts/start.mjs)"} ` +
      `(not part of a deployed Worker): ${meta.supervisorPeakMiB!.toFixed(0)} MiB.`);
  }
  console.log(`The load generator (this process) used ${meta.clientCpuSeconds.toFixed(1)} s of CPU on the same machine.\n`);
  console.log(renderNotes(rows));
  for (const { label, summary } of profiles) {
    console.log(`\nProfile of workload ${label} (Worker, ${summary.totalMs.toFixed(0)} ms sampled; self time):`);
    for (const f of summary.top.slice(0, 15)) console.log(`  ${f.pct.toFixed(1).padStart(5)}% ${f.ms.toFixed(0).padStart(6)} ms  ${f.name}`);
    console.log("  inclusive:");
    for (const f of summary.inclusive.slice(0, 20)) console.log(`  ${f.pct.toFixed(1).padStart(5)}% ${f.ms.toFixed(0).padStart(6)} ms  ${f.name}`);
  }
  if (opts.json) writeFileSync(opts.json, JSON.stringify({ meta, rows }, null, 2) + "\n");
} finally {
  for (const c of cleanups.reverse()) {
    try {
      await c();
    } catch {
      // best effort: the server and listeners are going away anyway
    }
  }
}
