/** What a workload gets (a server to talk to) and gives back (rows of the table). */
import type { Client, Session } from "./client.ts";
import { selfCpu, type Sampler, type Usage } from "./proc.ts";
import type { ProfileSummary } from "./profiler.ts";
import type { Latency } from "./stats.ts";

export interface AppserviceSetup {
  asToken: string;
  /** Ghost localparts must match this prefix (the registration's exclusive namespace). */
  ghostPrefix: string;
  /** Every event the appservice received, by event ID, and how often. */
  received: Map<string, { count: number; sender: string; body: string }>;
  transactions: () => number;
}

export interface Target {
  /** "parley" or "compare". */
  label: string;
  baseUrl: string;
  client: Client;
  /** CPU/memory of the server's process tree; absent: the columns say n/a. */
  sampler?: Sampler;
  /** Parley's persisted state (PARLEY_DATA_DIR; Parley only): the storage workload reads it. */
  dataDir?: string;
  sharedSecret?: string;
  appservice?: AppserviceSetup;
  /** The started Parley's Worker socket behind wrangler's dev proxy (`--wrangler-dev` only; diagnostic rows). */
  directUrl?: string;
  /** Whether this target is Parley (lib-level workloads run only there). */
  isParley: boolean;
  quick: boolean;
  /** Register a fresh user. */
  register(tag: string): Promise<Session>;
  /** --profile: starts a CPU profile of the server; measured() collects it into `profiles`. */
  profiler?: () => Promise<() => Promise<ProfileSummary>>;
  profiles: ProfileSummary[];
}

export interface Row {
  workload: number;
  name: string;
  server: string;
  /** The goal for this row, as text; judged in `met`. */
  goal?: string;
  met?: boolean;
  latency?: Latency;
  /** Per second, in `unit`. */
  throughput?: number;
  unit?: string;
  /** A result that is neither a latency nor a rate (bytes, rows). */
  value?: string;
  usage?: Usage;
  skipped?: string;
  notes: string[];
}

export type Workload = (t: Target) => Promise<Row[]>;

export function skipped(workload: number, name: string, t: Target, reason: string, goal?: string): Row {
  return { workload, name, server: t.label, goal, skipped: reason, notes: [] };
}

/** Runs `fn` inside a CPU/memory window of the target's sampler. */
export async function measured<T>(t: Target, fn: () => Promise<T>): Promise<{ result: T; usage?: Usage }> {
  const stopProfile = await t.profiler?.();
  const stop = t.sampler?.start();
  const client = selfCpu();
  const result = await fn();
  const usage = stop ? { ...stop(), clientCpuMs: client() } : undefined;
  if (stopProfile) t.profiles.push(await stopProfile());
  return { result, usage };
}

/** Count- and time-capped loop: stops after `count` iterations or `seconds`, whichever first. */
export async function capped(count: number, seconds: number, body: (i: number) => Promise<void>): Promise<number> {
  const deadline = performance.now() + seconds * 1000;
  let i = 0;
  for (; i < count && performance.now() < deadline; i++) await body(i);
  return i;
}
