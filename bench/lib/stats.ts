/** Latency samples and what the table shows of them. */

export interface Latency {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles (ms); undefined for no samples. */
export function latency(samples: number[]): Latency | undefined {
  if (samples.length === 0) return undefined;
  const s = Float64Array.from(samples).sort();
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
  return { n: s.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s[s.length - 1]! };
}

export function ms(v: number | undefined): string {
  if (v === undefined) return "—";
  return v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0);
}

export const sleep = (msec: number) => new Promise<void>((r) => setTimeout(r, msec));
