/**
 * Server CPU and memory from /proc (Linux): a process tree sampled every 100 ms.
 * CPU is utime+stime summed over the tree (ticks of 10 ms); memory is the largest summed
 * VmRSS seen by a sample inside the window (VmHWM is per process and since its start, so
 * it cannot give a per-workload peak of a sum; it is reported for the whole run).
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

const TICK_MS = 10; // USER_HZ is 100 on Linux
const INTERVAL_MS = 100;

interface Sample {
  /** CPU ticks per process (utime + stime). */
  ticks: Map<number, number>;
  rssKiB: number;
}

export interface Usage {
  /** Wall time of the window. */
  wallMs: number;
  /** CPU time the tree used in the window. */
  cpuMs: number;
  /** Average cores busy (cpuMs / wallMs). */
  cores: number;
  /** Largest summed RSS sampled in the window. */
  peakRssMiB: number;
  /** CPU time per role (see Sampler's `role`), when roles are given. */
  cpuMsByRole?: Record<string, number>;
  /** CPU time of the load generator (this process) in the same window. */
  clientCpuMs?: number;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

function children(pid: number): number[] {
  const list = read(`/proc/${pid}/task/${pid}/children`);
  if (list !== undefined) return list.split(" ").filter(Boolean).map(Number);
  // Kernels without CONFIG_PROC_CHILDREN: scan every process's parent.
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = read(`/proc/${name}/stat`);
    if (stat && Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid) out.push(Number(name));
  }
  return out;
}

export function tree(root: number): number[] {
  const out: number[] = [];
  const todo = [root];
  while (todo.length > 0) {
    const pid = todo.pop()!;
    if (read(`/proc/${pid}/stat`) === undefined) continue;
    out.push(pid);
    todo.push(...children(pid));
  }
  return out;
}

/** Loopback ports `pid` listens on (IPv4), from its socket inodes and /proc/net/tcp. */
export function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // fd closed meanwhile
    }
  }
  const ports: number[] = [];
  for (const line of readFileSync(`/proc/${pid}/net/tcp`, "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[3] === "0A" && inodes.has(f[9]!)) ports.push(parseInt(f[1]!.split(":")[1]!, 16));
  }
  return ports;
}

export function comm(pid: number): string {
  return (read(`/proc/${pid}/comm`) ?? "").trim();
}

export function cmdline(pid: number): string {
  return (read(`/proc/${pid}/cmdline`) ?? "").replaceAll("\0", " ");
}

function sampleTree(roots: number[]): Sample {
  const ticks = new Map<number, number>();
  let rssKiB = 0;
  for (const pid of roots.flatMap(tree)) {
    const stat = read(`/proc/${pid}/stat`);
    if (!stat) continue;
    // Fields after the ")" of comm: state is field 3, utime 14, stime 15 (1-based).
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks.set(pid, Number(f[11]) + Number(f[12]));
    const rss = /VmRSS:\s+(\d+) kB/.exec(read(`/proc/${pid}/status`) ?? "");
    if (rss) rssKiB += Number(rss[1]);
  }
  return { ticks, rssKiB };
}

/** Peak RSS of each process of the trees since it started (VmHWM), summed. */
export function lifetimePeakMiB(roots: number[]): number {
  let kib = 0;
  for (const pid of roots.flatMap(tree)) {
    const m = /VmHWM:\s+(\d+) kB/.exec(read(`/proc/${pid}/status`) ?? "");
    if (m) kib += Number(m[1]);
  }
  return kib / 1024;
}

/**
 * Samples the trees under `roots()` (re-evaluated each time: wrangler may replace workerd)
 * until the window closes. CPU per process is its last sampled ticks minus its ticks when the
 * window opened (0 for a process born inside it), so a process that exits mid-window keeps
 * what it used up to its last sample.
 */
export class Sampler {
  constructor(
    private readonly roots: () => number[],
    private readonly role?: (pid: number) => string,
  ) {}

  /** Opens a measurement window; call the returned function to close it. */
  start(): () => Usage {
    const t0 = performance.now();
    const first = sampleTree(this.roots());
    const latest = new Map(first.ticks);
    let peak = first.rssKiB;
    const roles = new Map<number, string>();
    const take = () => {
      const s = sampleTree(this.roots());
      for (const [pid, ticks] of s.ticks) {
        latest.set(pid, ticks);
        if (this.role && !roles.has(pid)) roles.set(pid, this.role(pid));
      }
      peak = Math.max(peak, s.rssKiB);
    };
    take();
    const timer = setInterval(take, INTERVAL_MS);
    timer.unref();
    return () => {
      clearInterval(timer);
      take();
      const wallMs = performance.now() - t0;
      let cpuMs = 0;
      const byRole: Record<string, number> = {};
      for (const [pid, ticks] of latest) {
        const used = Math.max(0, ticks - (first.ticks.get(pid) ?? 0)) * TICK_MS;
        cpuMs += used;
        const r = roles.get(pid);
        if (r) byRole[r] = (byRole[r] ?? 0) + used;
      }
      return { wallMs, cpuMs, cores: cpuMs / wallMs, peakRssMiB: peak / 1024, ...(this.role ? { cpuMsByRole: byRole } : {}) };
    };
  }
}

/** This process's own CPU in a window (the load generator competes for the same cores). */
export function selfCpu(): () => number {
  const t0 = process.cpuUsage();
  return () => {
    const d = process.cpuUsage(t0);
    return (d.user + d.system) / 1000;
  };
}
