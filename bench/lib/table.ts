/** The one table `npm run bench` prints (Markdown, so it pastes into docs/benchmarks.md). */
import { ms } from "./stats.ts";
import type { Row } from "./target.ts";

function rate(r: Row): string {
  if (r.throughput === undefined) return r.value ?? "—";
  const v = r.throughput >= 100 ? r.throughput.toFixed(0) : r.throughput.toFixed(1);
  return `${v} ${r.unit ?? "/s"}`;
}

/** Parley against the compare server, >1 = Parley better: throughput ratio, else p50 ratio. */
export function ratio(parley: Row | undefined, other: Row): string {
  if (!parley || parley.skipped || other.skipped) return "—";
  if (parley.throughput && other.throughput) return `×${(parley.throughput / other.throughput).toFixed(1)} thr`;
  if (parley.latency && other.latency && parley.latency.p50 > 0) return `×${(other.latency.p50 / parley.latency.p50).toFixed(1)} p50`;
  return "—";
}

export function render(rows: Row[], withRatio: boolean): string {
  const head = ["#", "workload", "server", "p50 ms", "p99 ms", "throughput / size", "server CPU", "peak mem", "goal", "met"];
  if (withRatio) head.push("ratio (Parley ÷ other)");
  const lines = [head, head.map(() => "---")];
  for (const r of rows) {
    if (r.skipped) {
      const line = [String(r.workload), r.name, r.server, r.skipped, "", "", "", "", r.goal ?? "", "skipped"];
      if (withRatio) line.push("—");
      lines.push(line);
      continue;
    }
    const line = [
      String(r.workload),
      r.name,
      r.server,
      ms(r.latency?.p50),
      ms(r.latency?.p99),
      rate(r),
      r.usage ? `${r.usage.cores.toFixed(2)} cores` : "n/a",
      r.usage ? `${r.usage.peakRssMiB.toFixed(0)} MiB` : "n/a",
      r.goal ?? "",
      r.met === undefined ? "" : r.met ? "yes" : "**no**",
    ];
    if (withRatio) {
      const parley = rows.find((p) => p.server === "parley" && p.workload === r.workload && p.name === r.name);
      line.push(r.server === "parley" ? "" : ratio(parley, r));
    }
    lines.push(line);
  }
  return lines.map((l) => `| ${l.join(" | ")} |`).join("\n");
}

export function renderNotes(rows: Row[]): string {
  return rows
    .map((r) => {
      const split = r.usage?.cpuMsByRole;
      const u = r.usage;
      const cpu = split && u && u.cpuMs > 0
        ? [`server CPU split: ${Object.entries(split).map(([k, v]) => `${k} ${Math.round((100 * v) / u.cpuMs)}%`).join(", ")}`]
        : [];
      if (u?.clientCpuMs !== undefined) cpu.push(`load generator ${(u.clientCpuMs / u.wallMs).toFixed(2)} cores`);
      return { r, notes: [...r.notes, ...cpu] };
    })
    .filter(({ notes }) => notes.length > 0)
    .map(({ r, notes }) => `- ${r.workload} ${r.name} (${r.server}): ${notes.join("; ")}`)
    .join("\n");
}
