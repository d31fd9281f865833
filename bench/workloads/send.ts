/**
 * Workloads 1 and 2: sends into one room.
 * 1. one user, sequential sends (goal p50 ≤ 1.5 ms), beside two baselines on the same
 *    connection that split the latency: GET /versions (HTTP + edge routing, no auth) and
 *    GET /account/whoami (+ the token check, an edge → User actor RPC); and, when the Parley
 *    started here has wrangler's dev proxy in front (`--wrangler-dev`: `npm run dev`), whoami
 *    and the sends again straight to the Worker's socket behind it, to show what the proxy
 *    hop (dev only) costs (`npm start` has no proxy: the rows above are already direct);
 * 2. 16 users sending concurrently, each in sequence (goal ≥ 2,500 msg/s, p99 ≤ 25 ms).
 */
import { Client, pool, V3 } from "../lib/client.ts";
import { latency, ms } from "../lib/stats.ts";
import { capped, measured, type Row, type Target } from "../lib/target.ts";

const SECONDS = 60;

export async function sequential(t: Target): Promise<Row[]> {
  const n = t.quick ? 200 : 2000;
  const warm = t.quick ? 20 : 100;
  const user = await t.register("seq");
  const roomId = await t.client.createRoom(user);
  const rows: Row[] = [];

  const baseline = async (name: string, path: string, token?: string, client = t.client): Promise<Row> => {
    for (let i = 0; i < warm; i++) await client.call("GET", path, { token });
    const samples: number[] = [];
    const started = performance.now();
    const { usage } = await measured(t, () =>
      capped(n, SECONDS, async () => {
        const t0 = performance.now();
        await client.call("GET", path, { token });
        samples.push(performance.now() - t0);
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    return {
      workload: 1, name, server: t.label, latency: latency(samples), usage,
      throughput: samples.length / seconds, unit: "req/s",
      notes: usage ? [`server CPU ${(usage.cpuMs / samples.length).toFixed(2)} ms per request`] : [],
    };
  };
  rows.push(await baseline("baseline: GET /versions (no auth)", "/_matrix/client/versions"));
  rows.push(await baseline("baseline: GET /whoami (token check)", `${V3}/account/whoami`, user.token));

  const sends = async (client: Client, name: string, judged: boolean, prefix: string): Promise<Row> => {
    for (let i = 0; i < warm; i++) await client.send(user, roomId, `${prefix}w${i}`, { msgtype: "m.text", body: "warm-up" });
    const samples: number[] = [];
    const started = performance.now();
    const { usage } = await measured(t, () =>
      capped(n, SECONDS, async (i) => {
        const t0 = performance.now();
        await client.send(user, roomId, `${prefix}s${i}`, { msgtype: "m.text", body: `message ${i}` });
        samples.push(performance.now() - t0);
      }),
    );
    const lat = latency(samples);
    const seconds = (performance.now() - started) / 1000;
    return {
      workload: 1, name, server: t.label,
      ...(judged ? { goal: "p50 ≤ 1.5 ms", met: lat !== undefined && lat.p50 <= 1.5 } : {}),
      latency: lat, usage, throughput: samples.length / seconds, unit: "msg/s",
      notes: [
        `${samples.length} sends after ${warm} warm-up`,
        ...(usage ? [`server CPU ${(usage.cpuMs / samples.length).toFixed(2)} ms per send`] : []),
      ],
    };
  };
  rows.push(await sends(t.client, "sequential sends, 1 user, 1 room", true, ""));
  if (t.directUrl) {
    // Only behind a dev proxy: the same, straight to the Worker's socket, what the proxy hop costs.
    const direct = new Client(t.directUrl);
    try {
      rows.push(await baseline("diagnostic: GET /whoami, no dev proxy", `${V3}/account/whoami`, user.token, direct));
      rows.push(await sends(direct, "diagnostic: sequential sends, no dev proxy", false, "d"));
    } finally {
      direct.close();
    }
  }
  return rows;
}

export async function concurrent(t: Target): Promise<Row[]> {
  const senders = 16;
  const each = t.quick ? 25 : 250;
  const owner = await t.register("conc");
  const roomId = await t.client.createRoom(owner);
  const users = await Promise.all(Array.from({ length: senders }, () => t.register("conc")));
  await pool(8, users.map((u) => () => t.client.join(u, roomId)));
  // Warm-up: every sender's token and the room are hot before the clock starts.
  await Promise.all(users.map((u, k) => t.client.send(u, roomId, `w${k}`, { msgtype: "m.text", body: "warm-up" })));

  const samples: number[] = [];
  let failures = 0;
  let firstError: string | undefined;
  const deadline = performance.now() + SECONDS * 1000;
  const started = performance.now();
  const { usage } = await measured(t, () =>
    Promise.all(
      users.map(async (u, k) => {
        for (let i = 0; i < each && performance.now() < deadline; i++) {
          const t0 = performance.now();
          try {
            await t.client.send(u, roomId, `c${k}-${i}`, { msgtype: "m.text", body: `${k}:${i}` });
            samples.push(performance.now() - t0);
          } catch (e) {
            failures++;
            firstError ??= String(e);
          }
        }
      }),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  const lat = latency(samples);
  const rate = samples.length / seconds;
  return [{
    workload: 2, name: `${senders} concurrent senders, 1 room`, server: t.label,
    goal: "≥ 2,500 msg/s, p99 ≤ 25 ms", met: failures === 0 && rate >= 2500 && lat !== undefined && lat.p99 <= 25,
    latency: lat, throughput: rate, unit: "msg/s", usage,
    notes: [
      `${samples.length} sends (${senders} × ≤ ${each}) in ${seconds.toFixed(1)} s, ${failures} failed${firstError ? ` (first: ${firstError})` : ""}`,
      ...(usage ? [`server CPU ${(usage.cpuMs / Math.max(1, samples.length)).toFixed(2)} ms per send, ${usage.cores.toFixed(2)} cores busy`] : []),
      ...(lat ? [`p90 ${ms(lat.p90)} ms, max ${ms(lat.max)} ms`] : []),
    ],
  }];
}
