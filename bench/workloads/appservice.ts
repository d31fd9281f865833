/**
 * Workload 3: a bridge. An appservice (node:http on 127.0.0.1 in this process) posts as 100
 * ghost users into one room, masquerading with `user_id`, 16 sends in flight (as workload 2,
 * whose goal it shares: ≥ 2,500 msg/s, p99 ≤ 25 ms), and must get back every event exactly
 * once, each ghost's in order (zero loss). Same shape as bench/appservice.ts, measured
 * through the shared table; the registration is made here because the server must load it
 * at start (PARLEY_APPSERVICES) — for other servers, --appservice-registration.
 */
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { HttpError, pool, V3, type Json } from "../lib/client.ts";
import { latency, ms, sleep } from "../lib/stats.ts";
import { measured, skipped, type AppserviceSetup, type Row, type Target } from "../lib/target.ts";

export interface AppserviceListener extends AppserviceSetup {
  close(): void;
}

/** Listens on `port` (0: any) and checks hs_token; records every event of every new transaction. */
export async function listen(hsToken: string, asToken: string, ghostPrefix: string, port = 0): Promise<AppserviceListener & { port: number }> {
  const seenTxns = new Set<string>();
  const received: AppserviceSetup["received"] = new Map();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const m = /^\/_matrix\/app\/v1\/transactions\/([^?]+)/.exec(req.url ?? "");
      const authorized = req.headers.authorization === `Bearer ${hsToken}`;
      if (authorized && m && !seenTxns.has(m[1]!)) {
        seenTxns.add(m[1]!);
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { events?: Json[] };
        for (const e of body.events ?? []) {
          const id = e.event_id as string;
          const prev = received.get(id);
          if (prev) prev.count++;
          else received.set(id, { count: 1, sender: String(e.sender), body: String((e.content as Json | undefined)?.body ?? "") });
        }
      }
      res.writeHead(authorized ? 200 : 403, { "Content-Type": "application/json" });
      res.end(authorized ? "{}" : '{"errcode":"M_FORBIDDEN"}');
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(port, "127.0.0.1", ok);
  });
  return {
    asToken, ghostPrefix, received,
    port: (server.address() as { port: number }).port,
    transactions: () => seenTxns.size,
    close: () => server.close(),
  };
}

/** A registration file for the Parley the benchmark starts (its directory goes to PARLEY_APPSERVICES). */
export async function forStartedParley(dir: string): Promise<AppserviceListener> {
  const asToken = `bench-as-${randomBytes(12).toString("hex")}`;
  const hsToken = `bench-hs-${randomBytes(12).toString("hex")}`;
  const l = await listen(hsToken, asToken, "_bench_");
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "bench.yaml"),
    `id: bench\nurl: "http://127.0.0.1:${l.port}"\nas_token: "${asToken}"\nhs_token: "${hsToken}"\n` +
      `sender_localpart: _bench_bot\nrate_limited: false\nnamespaces:\n  users: [{regex: "@_bench_.*", exclusive: true}]\n`,
  );
  return l;
}

/** The registration an external server loaded: listen where it sends transactions. */
export async function fromRegistration(file: string): Promise<AppserviceListener> {
  const reg = parse(readFileSync(file, "utf8")) as { url?: string; as_token?: string; hs_token?: string; namespaces?: { users?: Array<{ regex?: string }> } };
  const url = new URL(reg.url ?? "");
  if (url.hostname !== "127.0.0.1" && url.hostname !== "localhost") throw new Error(`${file}: url must be on 127.0.0.1 (the benchmark listens there)`);
  const prefix = /^@([A-Za-z0-9_=\-./]+)\.\*/.exec(reg.namespaces?.users?.[0]?.regex ?? "")?.[1];
  if (!reg.as_token || !reg.hs_token || !prefix) throw new Error(`${file}: needs as_token, hs_token and a users namespace like "@_bench_.*"`);
  return listen(reg.hs_token, reg.as_token, prefix, Number(url.port));
}

export async function bridge(t: Target): Promise<Row[]> {
  const goal = "≥ 2,500 msg/s, p99 ≤ 25 ms, zero loss";
  const name = "appservice: 100 ghosts, 1 room";
  const as = t.appservice;
  if (!as) return [skipped(3, name, t, "not available: no appservice registered with this server (--appservice-registration)", goal)];
  const ghosts = 100;
  const perGhost = t.quick ? 5 : 50;
  const inFlight = 16;
  const owner = await t.register("asroom");
  const roomId = await t.client.createRoom(owner);
  const asUser = { userId: "", token: as.asToken };
  const run = Date.now().toString(36);
  const ghostIds: string[] = [];
  await pool(8, Array.from({ length: ghosts }, (_, i) => async () => {
    const username = `${as.ghostPrefix}${run}_g${i}`;
    try {
      const r = await t.client.call("POST", `${V3}/register`, { body: { type: "m.login.application_service", username, inhibit_login: true }, token: as.asToken });
      ghostIds[i] = r.user_id as string;
    } catch (e) {
      if (!(e instanceof HttpError) || e.body.errcode !== "M_USER_IN_USE") throw e;
      const server = owner.userId.slice(owner.userId.indexOf(":") + 1);
      ghostIds[i] = `@${username}:${server}`;
    }
    await t.client.join(asUser, roomId, `?user_id=${encodeURIComponent(ghostIds[i]!)}`);
  }));

  const samples: number[] = [];
  const sent: Array<{ id: string; ghost: number; k: number }> = [];
  let failures = 0;
  let firstError: string | undefined;
  const deadline = performance.now() + 60_000;
  const started = performance.now();
  const { usage } = await measured(t, () =>
    pool(inFlight, ghostIds.map((g, gi) => async () => {
      for (let k = 0; k < perGhost && performance.now() < deadline; k++) {
        const t0 = performance.now();
        try {
          const id = await t.client.send(asUser, roomId, `as${run}-${gi}-${k}`, { msgtype: "m.text", body: `${gi}:${k}` }, `?user_id=${encodeURIComponent(g)}`);
          samples.push(performance.now() - t0);
          sent.push({ id, ghost: gi, k });
        } catch (e) {
          failures++;
          firstError ??= String(e);
        }
      }
    })),
  );
  const sendSeconds = (performance.now() - started) / 1000;
  // Delivery to the appservice is asynchronous: wait (bounded) until every event arrived.
  const waitUntil = performance.now() + 60_000;
  while (sent.some((s) => !as.received.has(s.id)) && performance.now() < waitUntil) await sleep(50);
  const deliveredSeconds = (performance.now() - started) / 1000;
  const lost = sent.filter((s) => !as.received.has(s.id)).length;
  const duplicates = sent.reduce((n, s) => n + Math.max(0, (as.received.get(s.id)?.count ?? 1) - 1), 0);
  // Per-ghost order as the appservice saw it (Map keeps insertion = arrival order).
  const mine = new Set(sent.map((s) => s.id));
  const last = new Map<string, number>();
  let outOfOrder = 0;
  for (const [id, e] of as.received) {
    if (!mine.has(id)) continue;
    const k = Number(e.body.split(":")[1]);
    if ((last.get(e.sender) ?? -1) >= k) outOfOrder++;
    last.set(e.sender, k);
  }
  const lat = latency(samples);
  const rate = samples.length / sendSeconds;
  const zeroLoss = failures === 0 && lost === 0 && duplicates === 0 && outOfOrder === 0;
  return [{
    workload: 3, name, server: t.label, goal,
    met: zeroLoss && rate >= 2500 && lat !== undefined && lat.p99 <= 25,
    latency: lat, throughput: rate, unit: "msg/s", usage,
    notes: [
      `${sent.length} sends (${ghosts} ghosts × ≤ ${perGhost}, ${inFlight} in flight), ${failures} failed${firstError ? ` (first: ${firstError})` : ""}`,
      `at the appservice after ${deliveredSeconds.toFixed(1)} s: lost ${lost}, duplicates ${duplicates}, out of order ${outOfOrder}`,
      ...(lat ? [`p90 ${ms(lat.p90)} ms`] : []),
    ],
  }];
}
