/**
 * Search and spaces benchmark on a fresh `npm start` server: one user in R rooms of M
 * messages each. Measures the first POST /search (every room indexes its history), then
 * repeated searches (index up to date) by rank and by recency, p50/p99; then a space of C
 * child rooms walked with /hierarchy (whole walk, page limit 50).
 *
 *   npm run -s bench:search [-- --rooms 20 --messages 500 --children 100 --runs 30]
 */
import { startServer } from "../tests/e2e/setup.ts";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} needs a positive integer`);
  return v;
}
const ROOMS = arg("rooms", 20);
const MESSAGES = arg("messages", 500);
const CHILDREN = arg("children", 100);
const RUNS = arg("runs", 30);
const V3 = "/_matrix/client/v3";
const WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima"];

type Json = Record<string, unknown>;
const server = await startServer();
const base = server.baseUrl;

async function api(method: string, path: string, body: unknown, token: string): Promise<Json> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as Json;
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function pool(n: number, tasks: Array<() => Promise<void>>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < tasks.length) await tasks[next++]!();
  }));
}

async function timed(f: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await f();
  return performance.now() - t;
}

function summary(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const pct = (p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!.toFixed(1);
  return `p50 ${pct(50)} ms, p99 ${pct(99)} ms`;
}

try {
  const reg = await api("POST", `${V3}/register`, { username: "benchsearch", password: "correct horse battery", auth: { type: "m.login.dummy" } }, "");
  const token = reg.access_token as string;
  const rooms: string[] = [];
  for (let r = 0; r < ROOMS; r++) rooms.push((await api("POST", `${V3}/createRoom`, {}, token)).room_id as string);
  let txn = 0;
  const sends: Array<() => Promise<void>> = [];
  for (const room of rooms) {
    for (let m = 0; m < MESSAGES; m++) {
      // Three words per message; "alpha" is in 1 of 12 messages, "alpha bravo" in fewer.
      const body = `${WORDS[m % 12]} ${WORDS[(m * 7) % 12]} ${WORDS[(m * 5 + 3) % 12]} message ${m}`;
      sends.push(async () => void (await api("PUT", `${V3}/rooms/${encodeURIComponent(room)}/send/m.room.message/s${++txn}`, { msgtype: "m.text", body }, token)));
    }
  }
  const sendMs = await timed(() => pool(16, sends));
  console.log(`search bench: ${ROOMS} rooms × ${MESSAGES} messages (${(sends.length / (sendMs / 1000)).toFixed(0)} msg/s to fill)`);

  const search = (term: string, order: "rank" | "recent") =>
    api("POST", `${V3}/search`, { search_categories: { room_events: { search_term: term, order_by: order } } }, token);
  let first: Json = {};
  const firstMs = await timed(async () => void (first = await search("alpha", "rank")));
  const count = ((first.search_categories as Json).room_events as Json).count;
  console.log(`  first search (indexes ${ROOMS * MESSAGES} messages): ${firstMs.toFixed(0)} ms, count ${String(count)}`);
  for (const [term, order] of [["alpha", "rank"], ["alpha", "recent"], ["alpha bravo", "rank"], ["message", "recent"]] as const) {
    const ms: number[] = [];
    for (let i = 0; i < RUNS; i++) ms.push(await timed(() => search(term, order)));
    console.log(`  search "${term}" by ${order}: ${summary(ms)} (${RUNS} runs)`);
  }

  const space = (await api("POST", `${V3}/createRoom`, { preset: "public_chat", creation_content: { type: "m.space" } }, token)).room_id as string;
  const serverName = (reg.user_id as string).slice((reg.user_id as string).indexOf(":") + 1);
  await pool(8, Array.from({ length: CHILDREN }, (_, i) => async () => {
    const child = (await api("POST", `${V3}/createRoom`, { preset: "public_chat", name: `child ${i}` }, token)).room_id as string;
    await api("PUT", `${V3}/rooms/${encodeURIComponent(space)}/state/m.space.child/${encodeURIComponent(child)}`, { via: [serverName] }, token);
  }));
  const walks: number[] = [];
  for (let i = 0; i < Math.min(RUNS, 10); i++) {
    walks.push(
      await timed(async () => {
        let from: string | undefined;
        let seen = 0;
        do {
          const q = `limit=50${from ? `&from=${encodeURIComponent(from)}` : ""}`;
          const page = await api("GET", `/_matrix/client/v1/rooms/${encodeURIComponent(space)}/hierarchy?${q}`, undefined, token);
          seen += (page.rooms as unknown[]).length;
          from = page.next_batch as string | undefined;
        } while (from);
        if (seen !== CHILDREN + 1) throw new Error(`hierarchy walked ${seen} rooms, expected ${CHILDREN + 1}`);
      }),
    );
  }
  console.log(`  hierarchy of a space with ${CHILDREN} children, whole walk by pages of 50: ${summary(walks)}`);
} finally {
  await server.stop();
}
