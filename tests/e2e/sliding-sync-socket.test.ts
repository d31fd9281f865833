// Sliding sync over WebSocket against the real server (npm start), driven by the project's
// own client (client/sliding-sync-socket.ts) over the `ws` package and partysocket:
// fan-out to 200 listeners with every message exactly once and in order, and a resume
// after a disconnect mid-stream that delivers exactly what was missed.
import { inject, describe, expect, it } from "vitest";
import WebSocket from "ws";
import ReconnectingWebSocket from "partysocket/ws";
import { SlidingSyncSocket, SOCKET_PATH, type Json, type WebSocketLike } from "../../client/sliding-sync-socket.ts";

const V3 = "/_matrix/client/v3";
const PASSWORD = "a sufficiently long password";

interface Account {
  userId: string;
  token: string;
}

async function call(method: string, path: string, body?: unknown, token?: string): Promise<Json & Record<string, any>> {
  const res = await fetch(inject("baseUrl") + path, {
    method,
    headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as Json & Record<string, any>;
  if (!res.ok && !(res.status === 401 && json.session)) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

let n = 0;
async function register(tag: string): Promise<Account> {
  const username = `${tag}${Date.now().toString(36)}x${++n}`;
  const first = await call("POST", `${V3}/register`, { username, password: PASSWORD });
  const done = await call("POST", `${V3}/register`, { username, password: PASSWORD, auth: { type: "m.login.dummy", session: first.session } });
  return { userId: done.user_id as string, token: done.access_token as string };
}

/** Runs `fn` over `items`, `limit` at a time. */
async function pool<T, R>(limit: number, items: readonly T[], fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

let txn = 0;
const send = (a: Account, roomId: string, seq: number) =>
  call("PUT", `${V3}/rooms/${encodeURIComponent(roomId)}/send/m.room.message/ws${++txn}x${Date.now()}`, { msgtype: "m.text", body: `m${seq}`, seq }, a.token);

const REQUEST: Json = { conn_id: "e2e", lists: { all: { ranges: [[0, 0]], timeline_limit: 100, required_state: [] } } };

/** A listener: every `seq` of the room's messages in the order received, plus gaps seen. */
interface Listener {
  sync: SlidingSyncSocket;
  seqs: number[];
  limited: number;
  responses: number;
  /** Resolves once the first response arrived. */
  ready: Promise<void>;
}

function listen(a: Account, roomId: string, createSocket: (url: string) => WebSocketLike, opts: { socketReconnects?: boolean; reconnectDelayMs?: { min: number; max: number } } = {}): Listener {
  let readyFn!: () => void;
  const l: Listener = { seqs: [], limited: 0, responses: 0, ready: new Promise((r) => (readyFn = r)), sync: undefined! };
  const errors: unknown[] = [];
  l.sync = new SlidingSyncSocket({
    baseUrl: inject("baseUrl"),
    userId: a.userId,
    accessToken: a.token,
    request: REQUEST,
    createSocket,
    ...opts,
    onResponse: (body) => {
      l.responses++;
      const room = (body.rooms as Record<string, any> | undefined)?.[roomId];
      if (room?.limited === true && l.responses > 1) l.limited++;
      for (const e of (room?.timeline ?? []) as Array<Record<string, any>>) {
        if (e.type === "m.room.message" && typeof e.content?.seq === "number") l.seqs.push(e.content.seq);
      }
      readyFn();
    },
    onError: (e) => errors.push(e),
    onReset: () => errors.push("reset"),
  });
  return l;
}

const plainWs = (url: string) => new WebSocket(url) as unknown as WebSocketLike;

async function until(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const range = (k: number) => Array.from({ length: k }, (_, i) => i);

describe("sliding sync over WebSocket, end to end", () => {
  it("[ws: fan-out] 200 listeners in one room each receive every message exactly once and in order", async () => {
    const LISTENERS = 200;
    const MESSAGES = 30;
    const sender = await register("wsfan");
    const roomId = (await call("POST", `${V3}/createRoom`, { preset: "public_chat" }, sender.token)).room_id as string;
    const users = await pool(8, range(LISTENERS), () => register("wsl"));
    await pool(8, users, (u) => call("POST", `${V3}/join/${encodeURIComponent(roomId)}`, {}, u.token));
    const listeners = users.map((u) => listen(u, roomId, plainWs));
    try {
      await Promise.all(listeners.map((l) => l.ready));
      // 100 msg/s for the burst, sent in order (each PUT answered before the next).
      for (const seq of range(MESSAGES)) {
        const t0 = Date.now();
        await send(sender, roomId, seq);
        await new Promise((r) => setTimeout(r, Math.max(0, 10 - (Date.now() - t0))));
      }
      await until("every listener to get every message", () => listeners.every((l) => l.seqs.length >= MESSAGES), 60_000);
      for (const l of listeners) {
        expect(l.seqs).toEqual(range(MESSAGES));
        expect(l.limited).toBe(0);
      }
    } finally {
      for (const l of listeners) l.sync.close();
    }
  }, 240_000);

  for (const variant of ["ws (client reconnects)", "partysocket (socket reconnects)"] as const) {
    it(`[ws: resume] ${variant}: a client that disconnects mid-stream resumes with exactly what it missed`, async () => {
      const sender = await register("wsres");
      const reader = await register("wsres");
      const roomId = (await call("POST", `${V3}/createRoom`, { preset: "public_chat" }, sender.token)).room_id as string;
      await call("POST", `${V3}/join/${encodeURIComponent(roomId)}`, {}, reader.token);
      const l =
        variant === "ws (client reconnects)"
          ? listen(reader, roomId, plainWs, { reconnectDelayMs: { min: 400, max: 400 } })
          : listen(reader, roomId, (url) => new ReconnectingWebSocket(url, [], { WebSocket, minReconnectionDelay: 400, maxReconnectionDelay: 400, reconnectionDelayGrowFactor: 1 }) as unknown as WebSocketLike, { socketReconnects: true });
      try {
        await l.ready;
        for (const seq of range(5)) await send(sender, roomId, seq);
        await until("the first five", () => l.seqs.length >= 5, 10_000);
        const before = l.responses;
        l.sync.drop();
        // Sent while the client is away (it reconnects after 400 ms).
        for (const seq of range(10).slice(5)) await send(sender, roomId, seq);
        await until("the missed five", () => l.seqs.length >= 10, 15_000);
        for (const seq of range(15).slice(10)) await send(sender, roomId, seq);
        await until("the last five", () => l.seqs.length >= 15, 10_000);
        await new Promise((r) => setTimeout(r, 300)); // a duplicate would arrive by now
        expect(l.seqs).toEqual(range(15));
        expect(l.limited).toBe(0);
        expect(l.responses).toBeGreaterThan(before);
      } finally {
        l.sync.close();
      }
    }, 60_000);
  }

  it("[ws: frames] permessage-deflate offered by the client is declined (the push is not compressed once per listener)", async () => {
    const user = await register("deflate");
    const url = `${inject("baseUrl").replace(/^http/, "ws")}${SOCKET_PATH}?user_id=${encodeURIComponent(user.userId)}`;
    const extensions = await new Promise<string | undefined>((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: true });
      ws.once("upgrade", (res) => resolve(res.headers["sec-websocket-extensions"]));
      ws.once("open", () => ws.close());
      ws.once("error", reject);
    });
    expect(extensions).toBeUndefined();
  });
});
