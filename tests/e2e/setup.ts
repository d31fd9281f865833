/**
 * Global setup of the e2e project: starts the real server exactly as the README
 * does (`node scripts/start.mjs`, i.e. `npm start`) on a free port with a fresh
 * data directory, waits until it answers, and stops it afterwards.
 *
 * Tests read `inject("baseUrl")`, `inject("serverName")` and
 * `inject("sharedSecret")` (the admin-registration secret).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    baseUrl: string;
    serverName: string;
    sharedSecret: string;
  }
}

const ROOT = resolve(import.meta.dirname, "../..");
const STARTUP_TIMEOUT_MS = 90_000;

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const address = s.address();
      s.close(() => (typeof address === "object" && address ? ok(address.port) : fail(new Error("no port"))));
    });
  });
}

async function waitUntilUp(url: string, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`server exited with ${child.exitCode} during start-up:\n${tail(logFile)}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`server did not answer ${url} within ${STARTUP_TIMEOUT_MS} ms:\n${tail(logFile)}`);
}

function tail(file: string): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-40).join("\n");
  } catch {
    return "(no log)";
  }
}

export interface RunningServer {
  baseUrl: string;
  serverName: string;
  dataDir: string;
  /** Process ID of `node scripts/start.mjs` (the leader of the server's process group). */
  pid: number;
  /** Stops the server (its whole process group); removes the data directory unless told to keep it. */
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

/**
 * Runs `node scripts/start.mjs` (what `npm start` runs) on a free port and waits
 * until `/_matrix/client/versions` answers. `dataDir` reuses existing state; `args` go to
 * start.mjs (`--dev`: what `npm run dev` runs, wrangler dev).
 */
export async function startServer(
  opts: { dataDir?: string; env?: Record<string, string>; args?: string[] } = {},
): Promise<RunningServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "parley-e2e-"));
  // A port found free can be taken before workerd binds it (another server's random
  // socket, a client's ephemeral port): then start again on another one.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(await freePort(), dataDir, opts);
    } catch (e) {
      if (attempt >= 3 || !String(e).includes("Address already in use")) throw e;
    }
  }
}

async function startOnce(
  port: number,
  dataDir: string,
  opts: { env?: Record<string, string>; args?: string[] },
): Promise<RunningServer> {
  const logFile = join(dataDir, "server.log");
  const out = openSync(logFile, "a");
  const child = spawn(process.execPath, ["scripts/start.mjs", ...(opts.args ?? [])], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: String(port),
      PARLEY_DATA_DIR: dataDir,
      REGISTRATION_MODE: "open",
      RATE_LIMITS_ENABLED: "false",
      ...opts.env,
    },
    // Its own process group, so stopping it stops workerd (and wrangler, for --dev) too.
    detached: true,
    stdio: ["ignore", out, out],
  });
  closeSync(out);

  const stop = async ({ keepData = false } = {}) => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      const exited = new Promise((r) => child.once("exit", r));
      signalGroup(child.pid, "SIGTERM");
      const timer = setTimeout(() => signalGroup(child.pid!, "SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    // Children (workerd; wrangler's for --dev) may outlive it briefly; make sure the group is gone.
    if (child.pid !== undefined) signalGroup(child.pid, "SIGKILL");
    if (keepData || process.env.PARLEY_E2E_KEEP_DATA) console.log(`e2e: data and log kept in ${dataDir}`);
    else rmSync(dataDir, { recursive: true, force: true });
  };

  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await waitUntilUp(`${baseUrl}/_matrix/client/versions`, child, logFile);
  } catch (e) {
    await stop({ keepData: true });
    throw e;
  }
  return { baseUrl, serverName: `localhost:${port}`, dataDir, pid: child.pid!, stop };
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

export default async function setup(project: TestProject) {
  const sharedSecret = randomBytes(16).toString("hex");
  const server = await startServer({ env: { REGISTRATION_SHARED_SECRET: sharedSecret } });
  project.provide("baseUrl", server.baseUrl);
  project.provide("serverName", server.serverName);
  project.provide("sharedSecret", sharedSecret);
  return () => server.stop();
}
