/**
 * A minimal client-server API client for load generation: node:http with keep-alive
 * (cheaper per request than fetch, so the client steals less of the 2 cores from the
 * server), JSON in and out, nothing Parley-specific — the same calls go to any homeserver.
 */
import { createHmac } from "node:crypto";
import { Agent, request } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

export type Json = Record<string, unknown>;

export class HttpError extends Error {
  constructor(readonly status: number, readonly body: Json, what: string) {
    super(`${what}: ${status} ${JSON.stringify(body).slice(0, 300)}`);
  }
}

export interface Session {
  userId: string;
  token: string;
  deviceId?: string;
}

export const V3 = "/_matrix/client/v3";

/** A pooled connection the server had closed: the request never reached it. */
class StaleSocketError extends Error {}

export class Client {
  private readonly agent: Agent;
  private readonly url: URL;

  constructor(readonly baseUrl: string) {
    this.url = new URL(baseUrl);
    const tls = this.url.protocol === "https:";
    this.agent = tls ? new HttpsAgent({ keepAlive: true, maxSockets: Infinity }) : new Agent({ keepAlive: true, maxSockets: Infinity });
  }

  /**
   * One request; resolves with the parsed body, rejects with HttpError on a non-2xx answer.
   * A request that went out on a pooled keep-alive connection which the server had closed
   * meanwhile (reset before any answer) is sent once more on a fresh one — the race Node's
   * documentation describes for keep-alive agents; the server never saw the first copy.
   */
  async call(method: string, path: string, opts: { body?: unknown; token?: string; signal?: AbortSignal } = {}): Promise<Json> {
    // Several pooled connections may have been closed at once: each retry may meet another.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#once(method, path, opts);
      } catch (e) {
        if (!(e instanceof StaleSocketError) || attempt >= 4) throw e;
        this.retries++;
      }
    }
  }

  #once(method: string, path: string, opts: { body?: unknown; token?: string; signal?: AbortSignal }): Promise<Json> {
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    const headers: Record<string, string | number> = {};
    if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
    if (payload) {
      headers["Content-Type"] = "application/json";
      headers["Content-Length"] = payload.length;
    }
    const send = this.url.protocol === "https:" ? httpsRequest : request;
    return new Promise((resolve, reject) => {
      const req = send(
        { host: this.url.hostname, port: this.url.port, path, method, headers, agent: this.agent, signal: opts.signal },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", reject);
          res.on("end", () => {
            let body: Json = {};
            const text = Buffer.concat(chunks).toString("utf8");
            try {
              if (text) body = JSON.parse(text) as Json;
            } catch {
              body = { raw: text.slice(0, 200) };
            }
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve(body);
            else reject(new HttpError(status, body, `${method} ${path.split("?")[0]}`));
          });
        },
      );
      req.on("error", (e: NodeJS.ErrnoException) => {
        const reset = e.code === "ECONNRESET" || e.message === "socket hang up";
        reject(reset && req.reusedSocket ? new StaleSocketError(e.message) : e);
      });
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }

  // ---- accounts ----------------------------------------------------------------------

  /**
   * A new account: open registration through User-Interactive Auth (m.login.dummy, the
   * session from the first 401 as the spec has it), or the shared-secret admin API.
   */
  async register(localpart: string, sharedSecret?: string): Promise<Session> {
    const password = `bench-${localpart}-password`;
    if (sharedSecret) return this.registerWithSecret(localpart, password, sharedSecret);
    let session: string | undefined;
    try {
      await this.call("POST", `${V3}/register`, { body: { username: localpart, password } });
    } catch (e) {
      if (!(e instanceof HttpError) || e.status !== 401) throw e;
      session = typeof e.body.session === "string" ? e.body.session : undefined;
    }
    const r = await this.call("POST", `${V3}/register`, {
      body: { username: localpart, password, auth: { type: "m.login.dummy", ...(session ? { session } : {}) } },
    });
    return { userId: r.user_id as string, token: r.access_token as string, deviceId: r.device_id as string };
  }

  private async registerWithSecret(localpart: string, password: string, secret: string): Promise<Session> {
    const path = "/_synapse/admin/v1/register";
    const { nonce } = (await this.call("GET", path)) as { nonce: string };
    const mac = createHmac("sha1", secret).update(`${nonce}\0${localpart}\0${password}\0notadmin`).digest("hex");
    const r = await this.call("POST", path, { body: { nonce, username: localpart, password, admin: false, mac } });
    return { userId: r.user_id as string, token: r.access_token as string, deviceId: r.device_id as string };
  }

  // ---- rooms -------------------------------------------------------------------------

  async createRoom(s: Session, body: Json = { preset: "public_chat" }): Promise<string> {
    return (await this.call("POST", `${V3}/createRoom`, { body, token: s.token })).room_id as string;
  }

  async join(s: Session, roomId: string, query = ""): Promise<void> {
    await this.call("POST", `${V3}/join/${encodeURIComponent(roomId)}${query}`, { body: {}, token: s.token });
  }

  /**
   * PUT a message. A connection the server closed while idle in the keep-alive pool
   * ("socket hang up", ECONNRESET before any answer) is retried with the same transaction
   * ID, as Matrix clients do: the send is idempotent, so this can neither lose nor double it.
   */
  async send(s: Session, roomId: string, txnId: string, content: Json, query = ""): Promise<string> {
    const path = `${V3}/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${encodeURIComponent(txnId)}${query}`;
    for (let attempt = 1; ; attempt++) {
      try {
        return (await this.call("PUT", path, { body: content, token: s.token })).event_id as string;
      } catch (e) {
        const reset = e instanceof StaleSocketError || (e instanceof Error && (e.message === "socket hang up" || (e as NodeJS.ErrnoException).code === "ECONNRESET"));
        if (!reset || attempt >= 3) throw e;
        this.retries++;
      }
    }
  }

  /** Requests sent again after a connection reset (reported by the workloads). */
  retries = 0;

  /** Does the server route this path at all? (404/405 with M_UNRECOGNIZED: no.) */
  async routes(method: string, path: string, token?: string): Promise<boolean> {
    try {
      await this.call(method, path, { token, body: method === "GET" ? undefined : {} });
      return true;
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      return !((e.status === 404 || e.status === 405) && e.body.errcode === "M_UNRECOGNIZED");
    }
  }
}

/** Run `tasks` with at most `n` in flight. */
export async function pool(n: number, tasks: Array<() => Promise<void>>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, tasks.length) }, async () => {
      while (next < tasks.length) await tasks[next++]!();
    }),
  );
}

/** Unique localparts per run, so a reused server (--base-url) never collides. */
const RUN = Date.now().toString(36);
let serial = 0;
export function localpart(tag: string): string {
  return `bench_${tag}_${RUN}_${++serial}`;
}
