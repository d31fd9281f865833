/**
 * Parley started the README way (`node scripts/start.mjs`: open registration, rate limits
 * off, a fresh temp data directory, a free port) through the e2e suite's `startServer`,
 * plus the processes to measure.
 *
 * `npm start` runs the Worker and its actors in ONE workerd process that owns the port
 * itself, as a deployed Worker has no proxy in front: that process is "the server".
 * With `wrangler: true` the server is started the `npm run dev` way instead (`wrangler dev`):
 * two workerd processes, a dev proxy that owns the port and forwards every request, and the
 * one running the Worker and actors; both serve each request, so both are "the server" (and
 * split apart in the notes: the proxy hop exists only in dev). Node processes (start.mjs
 * running Miniflare; wrangler's supervisors with `wrangler`) are not part of a deployed
 * Worker and are measured apart.
 */
import { startServer, type RunningServer } from "../../tests/e2e/setup.ts";
import { cmdline, comm, listeningPorts, tree } from "./proc.ts";

export interface StartedParley extends RunningServer {
  /** The workerd processes serving it, looked up again each time (a wrangler dev reload replaces them). */
  workerd(): number[];
  /** The node processes supervising workerd (start.mjs with Miniflare; wrangler's for `npm run dev`). */
  supervisors(): number[];
  /** "dev proxy" for a wrangler dev proxy owning the public port, "worker" for the Worker's process. */
  role(pid: number): string;
  /**
   * The Worker's own HTTP socket behind wrangler's dev proxy (found by asking each of the
   * worker process's listening ports for /versions), to measure what the proxy hop costs.
   * Undefined without a dev proxy (`npm start`: the public port is the Worker's socket).
   */
  directUrl(): Promise<string | undefined>;
}

export async function startParley(env: Record<string, string>, opts: { wrangler?: boolean } = {}): Promise<StartedParley> {
  const server = await startServer({ env, args: opts.wrangler ? ["--dev"] : [] });
  const all = () => tree(server.pid);
  const port = new URL(server.baseUrl).port;
  const workerd = () => all().filter((p) => comm(p) === "workerd");
  // The dev proxy: the workerd owning the public port while another workerd runs the Worker.
  const isProxy = (pid: number) => workerd().length > 1 && cmdline(pid).includes(`entry=127.0.0.1:${port} `);
  return {
    ...server,
    workerd,
    supervisors: () => all().filter((p) => comm(p) !== "workerd"),
    role: (pid) => (isProxy(pid) ? "dev proxy" : "worker"),
    directUrl: async () => {
      const processes = workerd();
      if (processes.length < 2) return undefined;
      const worker = processes.find((p) => !isProxy(p));
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
