/**
 * Workload 6: simplified sliding sync (MSC4186) first response for a user in 1,000 rooms
 * with a 20-room window (goal ≤ 100 ms and ≤ 50 KB), only where the server has the
 * endpoint; otherwise a "not available" row. The WebSocket fan-out rows of workload 4 are
 * bench/ws-fanout.ts.
 */
import { pool } from "../lib/client.ts";
import { latency } from "../lib/stats.ts";
import { measured, skipped, type Row, type Target } from "../lib/target.ts";

export const SLIDING_SYNC = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync";

async function hasSlidingSync(t: Target): Promise<boolean> {
  const u = await t.register("ssprobe");
  return t.client.routes("POST", SLIDING_SYNC, u.token);
}

export async function firstResponse(t: Target): Promise<Row[]> {
  const name = "sliding sync first response, 1,000 rooms, 20-room window";
  const goal = "≤ 100 ms and ≤ 50 KB";
  if (!(await hasSlidingSync(t))) {
    return [skipped(6, name, t, `not available: POST ${SLIDING_SYNC} is not routed (simplified sliding sync, MSC4186, is not built)`, goal)];
  }
  const rooms = t.quick ? 100 : 1000;
  const user = await t.register("ss");
  await pool(8, Array.from({ length: rooms }, (_, i) => async () => {
    await t.client.createRoom(user, { preset: "private_chat", name: `bench room ${i}` });
  }));
  const body = {
    lists: { all: { ranges: [[0, 19]], timeline_limit: 1, required_state: [["m.room.name", ""], ["m.room.create", ""]] } },
  };
  const samples: number[] = [];
  const sizes: number[] = [];
  let windowRooms = 0;
  const runs = t.quick ? 3 : 10;
  const { usage } = await measured(t, async () => {
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      // A fresh connection each time: no pos, so this is a first response.
      const r = await t.client.call("POST", `${SLIDING_SYNC}?timeout=0`, { body: { ...body, conn_id: `bench-${i}-${Date.now()}` }, token: user.token });
      samples.push(performance.now() - t0);
      sizes.push(Buffer.byteLength(JSON.stringify(r)));
      windowRooms = Object.keys((r.rooms as object | undefined) ?? {}).length;
    }
  });
  const lat = latency(samples);
  const kb = Math.max(...sizes) / 1024;
  return [{
    workload: 6, name: rooms === 1000 ? name : `${name.replace("1,000", String(rooms))} (quick)`, server: t.label, goal,
    met: lat !== undefined && lat.p50 <= 100 && kb <= 50 && windowRooms === 20,
    latency: lat, value: `${kb.toFixed(1)} KB`, usage,
    notes: [`${runs} first responses; ${windowRooms} rooms in the window; size is the JSON body re-serialised`],
  }];
}
