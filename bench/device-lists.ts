/**
 * Setup of a big room, as the 1,000-listener sync benchmark needs it, with device-list
 * tracking in the loop (docs/design/e2ee.md, "Device lists"): N users register, join one
 * room, each makes an initial /sync and an incremental one (the syncs that hand the
 * rooms' member lists to the users' DeviceKeys actors), then one member uploads device
 * keys and every member syncs until it sees that member in `device_lists.changed`.
 * Prints the time of each phase; asserts nothing about time.
 *
 *   npx tsx bench/device-lists.ts [--users 1000] [--concurrency 16] [--base http://127.0.0.1:8787]
 *
 * Without --base a fresh server is started (as the e2e tests do) and stopped afterwards.
 */
import { startServer } from "../tests/e2e/setup.ts";
import { FakeDevice } from "../tests/lib/e2ee/client.ts";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "");
const USERS = Number(args.get("users") ?? 1000);
const CONCURRENCY = Number(args.get("concurrency") ?? 16);
const PASSWORD = "bench password 123";

let base = args.get("base") ?? "";
const server = base ? undefined : await startServer();
if (server) base = server.baseUrl;
for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => void server?.stop().finally(() => process.exit(1)));

interface User {
  userId: string;
  deviceId: string;
  token: string;
  since?: string;
}

let retried = 0;
async function api(method: string, path: string, body?: unknown, token?: string): Promise<any> {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(base + path, {
      method,
      headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    // wrangler dev's proxy answers 503 when the worker restarted mid-request: retried.
    if (res.status === 503 && attempt < 5) {
      retried++;
      continue;
    }
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 200)}`);
    return JSON.parse(text);
  }
}

let n = 0;
async function register(): Promise<User> {
  const username = `dl${Date.now().toString(36)}${++n}`;
  let session: string | undefined;
  // The first step answers 401 with a UIA session; a worker restart (wrangler dev reloads on file changes) is retried.
  for (let attempt = 0; session === undefined; attempt++) {
    const first = await fetch(`${base}/_matrix/client/v3/register`, { method: "POST", body: JSON.stringify({ username, password: PASSWORD }) });
    if (first.status === 401) session = ((await first.json()) as { session: string }).session;
    else if (attempt >= 5) throw new Error(`register: ${first.status} ${(await first.text()).slice(0, 200)}`);
    else retried++;
  }
  const r = await api("POST", "/_matrix/client/v3/register", { username, password: PASSWORD, auth: { type: "m.login.dummy", session } });
  return { userId: r.user_id, deviceId: r.device_id, token: r.access_token };
}

async function pool<T>(items: T[], fn: (t: T) => Promise<void>): Promise<number[]> {
  const times: number[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      const t = performance.now();
      await fn(item);
      times.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
  return times;
}

function summary(label: string, started: number, times: number[]): void {
  const s = [...times].sort((a, b) => a - b);
  const p = (q: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]!.toFixed(0) : "-");
  console.log(`${label.padEnd(34)} ${((performance.now() - started) / 1000).toFixed(1).padStart(7)} s   per request p50 ${p(0.5)} ms, p99 ${p(0.99)} ms (n=${s.length})`);
}

const FILTER = encodeURIComponent(JSON.stringify({ room: { timeline: { limit: 1 }, state: { lazy_load_members: true } } }));
async function sync(u: User, timeout = 0): Promise<{ changed: string[] }> {
  const q = `filter=${FILTER}&timeout=${timeout}${u.since ? `&since=${encodeURIComponent(u.since)}` : ""}`;
  const s = await api("GET", `/_matrix/client/v3/sync?${q}`, undefined, u.token);
  u.since = s.next_batch;
  return { changed: s.device_lists?.changed ?? [] };
}

try {
  console.log(`device-list setup benchmark: ${USERS} users, one room, ${CONCURRENCY} requests at a time, ${base}`);
  let t = performance.now();
  const users: User[] = [];
  summary("register", t, await pool([...Array(USERS).keys()], async () => void users.push(await register())));
  const owner = users[0]!;
  const roomId = (await api("POST", "/_matrix/client/v3/createRoom", { preset: "public_chat" }, owner.token)).room_id as string;
  const setup = performance.now();
  t = performance.now();
  summary("join one room", t, await pool(users.slice(1), (u) => api("POST", `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {}, u.token)));
  t = performance.now();
  summary("initial /sync of every member", t, await pool(users, (u) => sync(u).then(() => undefined)));
  t = performance.now();
  summary("incremental /sync of every member", t, await pool(users, (u) => sync(u).then(() => undefined)));
  console.log(`${"setup (joins + both syncs)".padEnd(34)} ${((performance.now() - setup) / 1000).toFixed(1).padStart(7)} s`);

  // One key change reaches every member through the room.
  const dev = await FakeDevice.create(owner.userId, owner.deviceId);
  await api("POST", "/_matrix/client/v3/keys/upload", { device_keys: await dev.deviceKeys() }, owner.token);
  t = performance.now();
  let missing = 0;
  summary("every member sees the key change", t, await pool(users.slice(1), async (u) => {
    for (let i = 0; i < 20; i++) if ((await sync(u, 2000)).changed.includes(owner.userId)) return;
    missing++;
  }));
  console.log(`members that never saw it: ${missing}; 503 retries: ${retried}`);
} finally {
  await server?.stop();
}
