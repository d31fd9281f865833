/**
 * Workload 8: SQLite rows written per message (goal ≤ 3), measured from outside: every
 * persisted SQLite file (all actors, D1) is snapshotted at a quiet moment before and after
 * N sends, and the difference counted as Cloudflare counts rows written (lib/sqlite-rows.ts).
 * Needs the server's data directory: known for the Parley the benchmark started, or
 * --data-dir with --base-url.
 */
import { diff, snapshot } from "../lib/sqlite-rows.ts";
import { sleep } from "../lib/stats.ts";
import { skipped, type Row, type Target } from "../lib/target.ts";

const SETTLE_MS = 1500; // after-commit effects (sync publish, outbox) have run

export async function rowsPerMessage(t: Target): Promise<Row[]> {
  const name = "SQLite rows written per message";
  const goal = "≤ 3";
  if (!t.isParley) return [skipped(8, name, t, "n/a: reads Parley's persisted SQLite files", goal)];
  if (!t.dataDir) return [skipped(8, name, t, "not available: the server's data directory is unknown (--data-dir)", goal)];
  const n = t.quick ? 50 : 500;
  const user = await t.register("rows");
  const roomId = await t.client.createRoom(user);
  for (let i = 0; i < 5; i++) await t.client.send(user, roomId, `warm${i}`, { msgtype: "m.text", body: "warm-up" });
  await sleep(SETTLE_MS);
  const before = await snapshot(t.dataDir);
  for (let i = 0; i < n; i++) await t.client.send(user, roomId, `r${i}`, { msgtype: "m.text", body: `message ${i}` });
  await sleep(SETTLE_MS);
  const after = await snapshot(t.dataDir);
  const rows = diff(before, after);
  const perMessage = rows.total / n;
  const breakdown = [...rows.byTable].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${(v / n).toFixed(2)}`);
  return [{
    workload: 8, name, server: t.label, goal, met: perMessage <= 3,
    value: `${perMessage.toFixed(2)} rows/msg`,
    notes: [
      `${n} sequential sends, ${rows.total} rows written in all actors' SQLite (net diff: a lower bound, exact for inserts)`,
      `per message: ${breakdown.join(", ") || "nothing"}`,
    ],
  }];
}
