/**
 * Command line of `npm run bench`: which servers, which workloads, how big.
 * Every target must be on the loopback interface: the benchmark is a load generator and
 * may only ever point at this machine.
 */

export interface BenchOptions {
  /** A running Parley (or any homeserver); absent: start one the README way. */
  baseUrl?: string;
  /** A second homeserver run through the same workloads. */
  compareUrl?: string;
  /** Process of the compare server, for its CPU and memory columns. */
  comparePid?: number;
  /** Data directory of an already running Parley (--base-url), for the storage workload. */
  dataDir?: string;
  /** Shared secret for /_synapse/admin/v1/register when registration is not open. */
  sharedSecret?: string;
  /** Appservice registration file the servers behind --base-url/--compare-url loaded. */
  appserviceRegistration?: string;
  quick: boolean;
  /** Workload numbers to run (1–8); all when absent. */
  only?: Set<number>;
  /** Write the raw results as JSON here. */
  json?: string;
  /** Directory for V8 CPU profiles of the started Parley's Worker, one per measured part. */
  profile?: string;
  /** Start Parley the `npm run dev` way (wrangler dev: a dev proxy in front of the Worker). */
  wranglerDev: boolean;
}

const USAGE = `npm run bench -- [options]
  --base-url URL        benchmark a running server instead of starting Parley
  --compare-url URL     also run every workload against this homeserver; print the ratio
  --compare-pid PID     process (tree) of the compare server, for CPU and memory
  --data-dir DIR        data directory of the Parley behind --base-url (storage workload)
  --shared-secret S     register users with the shared-secret admin API instead of open registration
  --appservice-registration FILE
                        appservice registration the external servers loaded (workload 3)
  --only 1,2,5          run only these workloads
  --quick               small counts: a smoke run in about a minute
  --json FILE           also write the results as JSON
  --profile DIR         CPU-profile the started Parley's Worker during each measured part
                        (workerd inspector); slows the server, so not for the figures
  --wrangler-dev        start Parley the \`npm run dev\` way (wrangler dev, a dev proxy in front
                        of the Worker) instead of \`npm start\`; adds rows straight to the Worker
                        that show what the proxy hop costs`;

export function parseArgs(argv: string[]): BenchOptions {
  const opts: BenchOptions = { quick: false, wranglerDev: false };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith("--")) throw new UsageError(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case "--base-url": opts.baseUrl = loopbackUrl(value()); break;
      case "--compare-url": opts.compareUrl = loopbackUrl(value()); break;
      case "--compare-pid": opts.comparePid = positiveInt(name, value()); break;
      case "--data-dir": opts.dataDir = value(); break;
      case "--shared-secret": opts.sharedSecret = value(); break;
      case "--appservice-registration": opts.appserviceRegistration = value(); break;
      case "--only":
        opts.only = new Set(value().split(",").map((s) => positiveInt(name, s)));
        for (const n of opts.only) if (n > 8) throw new UsageError(`--only: there are workloads 1 to 8, not ${n}`);
        break;
      case "--quick": opts.quick = true; break;
      case "--json": opts.json = value(); break;
      case "--profile": opts.profile = value(); break;
      case "--wrangler-dev": opts.wranglerDev = true; break;
      case "--help": case "-h": throw new UsageError("");
      default: throw new UsageError(`unknown option ${name}`);
    }
  }
  if (opts.profile && opts.baseUrl) throw new UsageError("--profile needs the Parley the benchmark starts (its workerd's inspector)");
  if (opts.wranglerDev && opts.baseUrl) throw new UsageError("--wrangler-dev starts Parley; it does not go with --base-url");
  if (opts.dataDir && !opts.baseUrl) throw new UsageError("--data-dir goes with --base-url (a started Parley's data directory is known)");
  return opts;
}

export class UsageError extends Error {
  readonly usage = USAGE;
}

function positiveInt(name: string, s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${name}: ${s} is not a positive integer`);
  return n;
}

/** Loopback only: 127.0.0.0/8, ::1 or localhost; plain http(s) base URL without a path. */
export function loopbackUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`${raw} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new UsageError(`${raw}: http or https only`);
  if (!isLoopbackHost(url.hostname)) {
    throw new UsageError(`${raw}: refusing a non-loopback address (the benchmark only ever targets this machine)`);
  }
  return url.origin;
}

export function isLoopbackHost(host: string): boolean {
  if (host === "localhost" || host === "[::1]" || host === "::1") return true;
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  return m !== null && m.slice(1).every((p) => Number(p) <= 255);
}
