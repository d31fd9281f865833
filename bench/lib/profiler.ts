/**
 * `--profile DIR`: a V8 CPU profile of Parley's Worker (the workerd process running the
 * actors) over each workload's measured part, through workerd's inspector. The inspector
 * listens on a random loopback port of that process (`npm start` opens it when
 * PARLEY_INSPECTOR_PORT is set, which bench/run.ts does for --profile; wrangler dev always
 * does); it is found from the process's listening sockets and the one answering /json/list. Profiling slows the server: figures
 * come from runs without it.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { listeningPorts } from "./proc.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export interface ProfileSummary {
  totalMs: number;
  /** By self time. */
  top: Array<{ name: string; ms: number; pct: number }>;
  /** By inclusive time (the function or anything it called). */
  inclusive: Array<{ name: string; ms: number; pct: number }>;
}

export async function inspectorUrl(pid: number): Promise<string> {
  for (const port of listeningPorts(pid)) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/json/list`, { signal: AbortSignal.timeout(1000) });
      const list = (await res.json()) as Array<{ id?: string; webSocketDebuggerUrl?: string }>;
      const target = list.find((t) => t.id?.startsWith("core:user:"));
      if (target?.webSocketDebuggerUrl) return target.webSocketDebuggerUrl;
    } catch {
      // a Worker socket, not the inspector
    }
  }
  throw new Error(`no inspector found on workerd ${pid}`);
}

/**
 * Starts profiling; the returned function stops it, writes `file` and summarises. The
 * inspector sometimes drops a first session (wrangler's own inspector proxy may hold it),
 * so a profiler that exits before starting is retried.
 */
export async function startProfile(wsUrl: string, file: string): Promise<() => Promise<ProfileSummary>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await tryStart(wsUrl, file);
    } catch (e) {
      if (attempt >= 3) throw e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

async function tryStart(wsUrl: string, file: string): Promise<() => Promise<ProfileSummary>> {
  const child: ChildProcessWithoutNullStreams = spawn(
    process.execPath,
    ["--experimental-websocket", "--no-warnings", "--import", "tsx", join(ROOT, "bench/lib/cdp-profile.ts"), wsUrl, file],
    { cwd: ROOT },
  );
  const lines = createInterface({ input: child.stdout });
  const next = () => new Promise<string>((ok, fail) => {
    lines.once("line", ok);
    child.once("exit", (code) => fail(new Error(`profiler exited with ${code}`)));
  });
  const started = await next();
  if (started !== "started") throw new Error(`profiler: ${started}`);
  return async () => {
    const summary = next();
    child.stdin.end("stop\n");
    return JSON.parse(await summary) as ProfileSummary;
  };
}
