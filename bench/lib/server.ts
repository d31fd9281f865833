/**
 * Parley started the README way (`node scripts/start.mjs`: open registration, rate limits
 * off, a fresh temp data directory, a free port) through the e2e suite's `startServer`,
 * plus the processes to measure. `wrangler dev` runs two workerd processes: a proxy that
 * owns the port and forwards every request, and the one running Parley's Worker and actors;
 * both serve each request, so both are "the server" (and split apart in the notes: the
 * proxy hop exists only in dev). Wrangler's own node processes supervise the dev server
 * and are not part of a deployed Worker; they are measured apart.
 */
import { readdirSync } from "node:fs";
import { startServer, type RunningServer } from "../../tests/e2e/setup.ts";
import { cmdline, comm, listeningPorts, tree } from "./proc.ts";

export interface StartedParley extends RunningServer {
  /** The workerd processes serving it, looked up again each time (a reload replaces them). */
  workerd(): number[];
  /** Wrangler's node processes. */
  supervisors(): number[];
  /** "dev proxy" for the workerd owning the public port, "worker" for the other. */
  role(pid: number): string;
  /**
   * The Worker's own HTTP socket behind wrangler's dev proxy (found by asking each of the
   * worker process's listening ports for /versions), to measure what the proxy hop costs.
   */
  directUrl(): Promise<string | undefined>;
}

export async function startParley(env: Record<string, string>): Promise<StartedParley> {
  const server = await startServer({ env });
  const roots = wranglerRoots(server.dataDir);
  if (roots.length === 0) throw new Error(`no wrangler process found for ${server.dataDir}`);
  const all = () => roots.flatMap(tree);
  const port = new URL(server.baseUrl).port;
  return {
    ...server,
    workerd: () => all().filter((p) => comm(p) === "workerd"),
    supervisors: () => all().filter((p) => comm(p) !== "workerd"),
    role: (pid) => (cmdline(pid).includes(`entry=127.0.0.1:${port} `) ? "dev proxy" : "worker"),
    directUrl: async () => {
      const worker = all().find((p) => comm(p) === "workerd" && !cmdline(p).includes(`entry=127.0.0.1:${port} `));
      for (const candidate of worker === undefined ? [] : listeningPorts(worker)) {
        try {
          const res = await fetch(`http://127.0.0.1:${candidate}/_matrix/client/versions`, { signal: AbortSignal.timeout(1000) });
          const body = (await res.json()) as { versions?: unknown };
          if (res.ok && Array.isArray(body.versions)) return `http://127.0.0.1:${candidate}`;
        } catch {
          // another of workerd's sockets
        }
      }
      return undefined;
    },
  };
}

/** The topmost processes whose command line names this data directory (wrangler.js dev). */
function wranglerRoots(dataDir: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (/^\d+$/.test(name) && cmdline(Number(name)).includes(`--persist-to ${dataDir} `)) pids.push(Number(name));
  }
  // Keep only those that are not a descendant of another match.
  return pids.filter((p) => !pids.some((q) => q !== p && tree(q).includes(p)));
}
