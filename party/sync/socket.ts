/**
 * Sliding sync over WebSocket (docs/sliding-sync-websocket.md): the transport half that
 * lives in the User actor. The socket terminates in the actor of the user it claims in
 * its URL; the first frame authenticates with an access token checked against this
 * actor's own token table; then the client sends MSC4186 request bodies and the actor
 * pushes a response whenever the user's sync Signal fires and there is something new.
 *
 * Hibernation: nothing here holds a promise or timer per socket. A socket's state is its
 * attachment (device, token hash, acknowledged pos, pushed-but-unacknowledged pos, dirty
 * flag) plus its request body in the actor's SQLite key-value store; a woken actor
 * rebuilds nothing but the subscription to its Signal (done by the User actor when it
 * makes its UserSync). One alarm per actor re-polls idle sockets so the hub shards keep
 * them armed (hub arms expire and hub memory is not durable).
 *
 * Flow control: at most one pushed response is unacknowledged per socket. Changes that
 * arrive meanwhile set the dirty flag and go into the next response once the client
 * acknowledges, so a slow client gets batches, never a queue, and a resume needs only the
 * pos the client acknowledged or the one pushed after it.
 */
import type { Connection, ConnectionContext, WSMessage } from "partyserver";
import { hashToken } from "../../lib/access-token.ts";
import { MatrixError } from "../../lib/errors.ts";
import { isJsonObject, type JsonObject } from "../../lib/json.ts";
import { JsonParseError, parseJsonStrict, utf8Length } from "../../lib/json-parse.ts";
import { asMatrixError } from "../edge/http.ts";
import type { Env } from "../env.ts";

/** Close codes (docs/sliding-sync-websocket.md "Close codes"). */
export const CLOSE = {
  /** Authentication failed, was never attempted, or the token stopped being valid. */
  unauthorized: 4401,
  /** Too many sockets for this user (SLIDING_SYNC_WS_MAX_SOCKETS). */
  tooMany: 4429,
  /** A newer socket took this unauthenticated socket's slot. */
  replaced: 4408,
  /** A frame larger than SLIDING_SYNC_WS_MAX_FRAME_BYTES (RFC 6455 "message too big"). */
  tooBig: 1009,
} as const;

/** The text clients send as a keep-alive; answered by the runtime without waking the actor. */
export const PING = '{"type":"ping"}';
export const PONG = '{"type":"pong"}';

export interface SocketSettings {
  maxSockets: number;
  maxFrameBytes: number;
  rearmMs: number;
}

export const SOCKET_DEFAULTS: SocketSettings = { maxSockets: 10, maxFrameBytes: 256 * 1024, rearmMs: 30_000 };

/** SLIDING_SYNC_WS_* vars (docs/configuration.md); an unusable value falls back to the default. */
export function socketSettings(env: Env): SocketSettings {
  const num = (v: string | undefined, dflt: number, min: number, max = Number.MAX_SAFE_INTEGER) => {
    const n = Number(v ?? "");
    return v !== undefined && v.trim() !== "" && Number.isInteger(n) && n >= min && n <= max ? n : dflt;
  };
  return {
    maxSockets: num(env.SLIDING_SYNC_WS_MAX_SOCKETS, SOCKET_DEFAULTS.maxSockets, 1),
    maxFrameBytes: num(env.SLIDING_SYNC_WS_MAX_FRAME_BYTES, SOCKET_DEFAULTS.maxFrameBytes, 1024),
    // Below the hub arm's 60 s (party/sync/sliding/sliding-sync.ts), or idle sockets' arms would lapse.
    rearmMs: num(env.SLIDING_SYNC_WS_REARM_MS, SOCKET_DEFAULTS.rearmMs, 1000, 55_000),
  };
}

/** What the transport needs from the User actor it lives in. */
export interface SocketHost {
  /** The device of a valid access token (by SHA-256), or a MatrixError (M_UNKNOWN_TOKEN, soft_logout…). */
  authenticate(tokenHash: string): Promise<{ deviceId: string }>;
  /** MSC4186 for one device; `timeoutMs` 0 answers at once. */
  slidingSync(deviceId: string, requestJson: string, pos: string | null, timeoutMs: number): Promise<{ body: string; pos: string; empty: boolean }>;
  /** The actor's open sockets. */
  connections(): Iterable<Connection>;
  /** The actor's storage (request bodies, the re-arm alarm). */
  storage: DurableObjectStorage;
  /** The user this actor is. */
  userId: string;
}

/**
 * A socket's attachment (kept small: the runtime caps attachments at a few KB, and the
 * request body can be larger, so it lives in storage under `ws-req:<connection id>`).
 */
export interface SocketState {
  /** Opened at (epoch ms): the oldest unauthenticated socket gives way first. */
  at: number;
  /** Set once authenticated. */
  device?: string;
  tokenHash?: string;
  /** Bumped by every `sync` frame: an answer computed for an older request is dropped. */
  gen: number;
  /** A request is stored and pushes are on. */
  live: boolean;
  /** The pos the client has (named in `sync`, or acknowledged); null before the first response. */
  pos: string | null;
  /** Pushed and not yet acknowledged. */
  sent: string | null;
  /** Something changed while `sent` was outstanding (or while an answer was being computed). */
  dirty: boolean;
  /** Last time a response was computed for it (re-arm bookkeeping). */
  polled: number;
}

type Frame = JsonObject & { type: string };

const requestKey = (id: string) => `ws-req:${id}`;

/**
 * How long a socket's token check holds before a push checks it again. A logout or device
 * deletion closes the device's sockets at once (`devicesGone`); what this delays, by at
 * most this long, is only an expiry, a refresh replacing the token, or a lock.
 */
const AUTH_RECHECK_MS = 1000;

export class SyncSockets {
  readonly #settings: SocketSettings;
  /** Sockets with a computation in flight (memory only: in-flight work keeps the actor awake). */
  readonly #running = new Set<string>();
  /** Per socket: the token hash last checked and until when that check holds (memory only). */
  readonly #authedUntil = new Map<string, { tokenHash: string; until: number }>();

  constructor(
    env: Env,
    private readonly host: SocketHost,
  ) {
    this.#settings = socketSettings(env);
  }

  get settings(): SocketSettings {
    return this.#settings;
  }

  // ---- partyserver hooks ---------------------------------------------------------------

  onConnect(conn: Connection, _ctx: ConnectionContext): void {
    const open = [...this.host.connections()].filter((c) => c.id !== conn.id);
    if (open.length >= this.#settings.maxSockets) {
      // An unauthenticated socket gives way (oldest first); authenticated ones never do.
      const pending = open.filter((c) => state(c)?.device === undefined).sort((a, b) => (state(a)?.at ?? 0) - (state(b)?.at ?? 0));
      const victim = pending[0];
      if (!victim) {
        sendError(conn, new MatrixError("M_LIMIT_EXCEEDED", 429, `At most ${this.#settings.maxSockets} sync sockets per user`));
        conn.close(CLOSE.tooMany, "too many sockets");
        return;
      }
      sendError(victim, new MatrixError("M_LIMIT_EXCEEDED", 429, "Replaced by a newer socket before authenticating"));
      this.#forget(victim);
      victim.close(CLOSE.replaced, "replaced");
    }
    conn.setState({ at: Date.now(), gen: 0, live: false, pos: null, sent: null, dirty: false, polled: 0 } satisfies SocketState);
  }

  async onMessage(conn: Connection, message: WSMessage): Promise<void> {
    const s = state(conn);
    if (!s) return; // refused in onConnect
    let frame: Frame;
    try {
      frame = this.#parse(message);
    } catch (e) {
      const err = asMatrixError(e);
      if (!err) throw e;
      sendError(conn, err);
      if (err.errcode === "M_TOO_LARGE") conn.close(CLOSE.tooBig, "frame too large");
      else if (s.device === undefined) conn.close(CLOSE.unauthorized, "expected an auth frame");
      return;
    }
    if (frame.type === "ping") {
      conn.send(PONG);
      return;
    }
    if (frame.type === "auth") return this.#auth(conn, s, frame);
    if (s.device === undefined) {
      sendError(conn, new MatrixError("M_MISSING_TOKEN", 401, "The first frame must be an auth frame"), frame.type);
      conn.close(CLOSE.unauthorized, "not authenticated");
      return;
    }
    switch (frame.type) {
      case "sync":
        return this.#sync(conn, s, frame);
      case "ack":
        return this.#ack(conn, s, frame);
      default:
        sendError(conn, new MatrixError("M_UNRECOGNIZED", 400, `Unknown frame type ${JSON.stringify(frame.type).slice(0, 64)}`), frame.type);
    }
  }

  onClose(conn: Connection): void {
    this.#forget(conn);
  }

  // ---- change notification ---------------------------------------------------------------

  /** The user's sync Signal fired: every live socket looks again (or marks itself dirty while a push is unacknowledged). */
  changed(): void {
    for (const conn of this.host.connections()) {
      const s = state(conn);
      if (!s?.live) continue;
      if (s.sent !== null || this.#running.has(conn.id)) {
        if (!s.dirty) conn.setState({ ...s, dirty: true });
        continue;
      }
      void this.#push(conn);
    }
  }

  /** Devices logged out or deleted (null: all): their sockets close now rather than at their next push. */
  devicesGone(deviceIds: readonly string[] | null): void {
    for (const conn of this.host.connections()) {
      const device = state(conn)?.device;
      if (device === undefined || (deviceIds !== null && !deviceIds.includes(device))) continue;
      sendError(conn, new MatrixError("M_UNKNOWN_TOKEN", 401, "The device was logged out", { soft_logout: false }));
      this.#forget(conn);
      conn.close(CLOSE.unauthorized, "logged out");
    }
  }

  /**
   * The re-arm alarm: sockets idle for longer than `rearmMs` are computed again (an
   * answer at timeout 0, which re-arms the user on the hub shards; sent only if not
   * empty). Keeps running while any socket is live.
   */
  async alarm(): Promise<void> {
    const now = Date.now();
    const due: Array<Promise<void>> = [];
    for (const conn of this.host.connections()) {
      const s = state(conn);
      if (!s?.live || s.sent !== null || now - s.polled < this.#settings.rearmMs - 1000) continue;
      due.push(this.#push(conn));
    }
    await Promise.all(due);
    await this.#scheduleRearm();
  }

  // ---- frames ------------------------------------------------------------------------------

  #parse(message: WSMessage): Frame {
    if (typeof message !== "string") throw new MatrixError("M_NOT_JSON", 400, "Frames must be text (JSON)");
    if (utf8Length(message) > this.#settings.maxFrameBytes) {
      throw new MatrixError("M_TOO_LARGE", 413, `Frames are limited to ${this.#settings.maxFrameBytes} bytes`);
    }
    let value;
    try {
      value = parseJsonStrict(message, { maxBytes: this.#settings.maxFrameBytes });
    } catch (e) {
      if (e instanceof JsonParseError) throw new MatrixError("M_NOT_JSON", 400, `Frame is not JSON: ${e.message}`);
      throw e;
    }
    if (!isJsonObject(value) || typeof value.type !== "string") {
      throw new MatrixError("M_BAD_JSON", 400, "A frame is a JSON object with a string 'type'");
    }
    return value as Frame;
  }

  async #auth(conn: Connection, s: SocketState, frame: Frame): Promise<void> {
    const token = frame.access_token;
    if (typeof token !== "string" || token === "") {
      sendError(conn, new MatrixError("M_MISSING_TOKEN", 401, "auth needs 'access_token'"), "auth");
      conn.close(CLOSE.unauthorized, "missing token");
      return;
    }
    const tokenHash = await hashToken(token);
    let deviceId: string;
    try {
      deviceId = (await this.host.authenticate(tokenHash)).deviceId;
    } catch (e) {
      const err = asMatrixError(e);
      if (!err) throw e;
      sendError(conn, err, "auth");
      conn.close(CLOSE.unauthorized, "unknown token");
      return;
    }
    const now = state(conn) ?? s;
    // A refreshed token may replace the current one; another device's may not (its pos would not be its own).
    if (now.device !== undefined && now.device !== deviceId) {
      sendError(conn, new MatrixError("M_FORBIDDEN", 403, "A socket stays with the device it authenticated as"), "auth");
      conn.close(CLOSE.unauthorized, "device changed");
      return;
    }
    conn.setState({ ...now, device: deviceId, tokenHash });
    conn.send(JSON.stringify({ type: "authenticated", user_id: this.host.userId, device_id: deviceId }));
  }

  async #sync(conn: Connection, s: SocketState, frame: Frame): Promise<void> {
    const request = frame.request;
    const pos = frame.pos ?? null;
    if (!isJsonObject(request)) {
      sendError(conn, new MatrixError("M_BAD_JSON", 400, "sync needs 'request': the MSC4186 request body"), "sync");
      return;
    }
    if (pos !== null && (typeof pos !== "string" || pos === "")) {
      sendError(conn, new MatrixError("M_INVALID_PARAM", 400, "'pos' must be a non-empty string or null"), "sync");
      return;
    }
    this.host.storage.kv.put(requestKey(conn.id), JSON.stringify(request));
    conn.setState({ ...s, gen: s.gen + 1, live: true, pos, sent: null, dirty: false });
    await this.#push(conn, true);
    await this.#scheduleRearm();
  }

  #ack(conn: Connection, s: SocketState, frame: Frame): Promise<void> | void {
    if (typeof frame.pos !== "string" || frame.pos !== s.sent) {
      sendError(conn, new MatrixError("M_INVALID_PARAM", 400, "ack must name the pos of the last response pushed"), "ack");
      return;
    }
    conn.setState({ ...s, pos: s.sent, sent: null });
    if (s.dirty) return this.#push(conn);
  }

  // ---- pushing -----------------------------------------------------------------------------

  /**
   * Computes the socket's next response from the pos the client has and sends it unless
   * empty. One computation per socket at a time; a change during it sets the dirty flag
   * and runs it again (unless a push is now waiting for its acknowledgement).
   */
  async #push(conn: Connection, fromSyncFrame = false): Promise<void> {
    if (this.#running.has(conn.id)) {
      const s = state(conn);
      if (s && !s.dirty) conn.setState({ ...s, dirty: true });
      return;
    }
    this.#running.add(conn.id);
    try {
      for (let first = true; ; first = false) {
        const s = state(conn);
        if (!s?.live || s.device === undefined || s.tokenHash === undefined || s.sent !== null) return;
        if (!first && !s.dirty) return;
        conn.setState({ ...s, dirty: false, polled: Date.now() });
        const outcome = await this.#answer(conn, s, fromSyncFrame && first);
        if (outcome === "stop") return;
      }
    } finally {
      this.#running.delete(conn.id);
    }
  }

  async #answer(conn: Connection, s: SocketState, reportErrors: boolean): Promise<"stop" | "done"> {
    try {
      // The token is checked again before a response (at most once per AUTH_RECHECK_MS): an expiry or lock ends the stream.
      const held = this.#authedUntil.get(conn.id);
      if (!held || held.tokenHash !== s.tokenHash || held.until <= Date.now()) {
        await this.host.authenticate(s.tokenHash!);
        this.#authedUntil.set(conn.id, { tokenHash: s.tokenHash!, until: Date.now() + AUTH_RECHECK_MS });
      }
    } catch (e) {
      const err = asMatrixError(e);
      if (!err) throw e;
      sendError(conn, err);
      this.#forget(conn);
      conn.close(CLOSE.unauthorized, "token no longer valid");
      return "stop";
    }
    const request = this.host.storage.kv.get<string>(requestKey(conn.id));
    if (request === undefined) return "stop";
    let r: { body: string; pos: string; empty: boolean };
    try {
      r = await this.host.slidingSync(s.device!, request, s.pos, 0);
    } catch (e) {
      const err = asMatrixError(e);
      if (!err) {
        console.error("sliding sync over WebSocket failed", e);
        if (reportErrors) sendError(conn, new MatrixError("M_UNKNOWN", 500, "Internal server error"), "sync");
        return "stop";
      }
      // A request the server refuses (bad body, unknown pos) stops pushes until the next sync frame.
      const now = state(conn);
      if (now && now.gen === s.gen) {
        sendError(conn, err, "sync");
        conn.setState({ ...now, live: false });
        return "stop";
      }
      return "done"; // refused for a request already replaced: try the new one

    }
    const now = state(conn);
    if (!now || conn.readyState !== WebSocket.OPEN) return "stop";
    // A newer sync frame replaced the request meanwhile (it marked the socket dirty): drop
    // this answer and go round again for the new request.
    if (now.gen !== s.gen) return "done";
    // Nothing for the client: no frame. The next answer is computed from the client's pos
    // again (adopting an unsent pos would let the store drop the one the client holds).
    if (r.empty) return "done";
    conn.send(`{"type":"response","gen":${s.gen},"pos":${JSON.stringify(r.pos)},"body":${r.body}}`);
    conn.setState({ ...now, sent: r.pos });
    return "done";
  }

  #forget(conn: Connection): void {
    this.#authedUntil.delete(conn.id);
    this.host.storage.kv.delete(requestKey(conn.id));
    const s = state(conn);
    if (s?.live) conn.setState({ ...s, live: false });
  }

  /** One alarm for all sockets: the next time an idle live socket needs re-arming. */
  async #scheduleRearm(): Promise<void> {
    let live = false;
    for (const conn of this.host.connections()) if (state(conn)?.live) live = true;
    if (!live) return;
    const want = Date.now() + this.#settings.rearmMs;
    const current = await this.host.storage.getAlarm();
    if (current === null || current > want || current < Date.now()) await this.host.storage.setAlarm(want);
  }
}

function state(conn: Connection): SocketState | null {
  return conn.state as SocketState | null;
}

function sendError(conn: Connection, err: MatrixError, inReplyTo?: string): void {
  if (conn.readyState !== WebSocket.OPEN) return;
  conn.send(JSON.stringify({ type: "error", ...(inReplyTo ? { in_reply_to: inReplyTo.slice(0, 64) } : {}), ...err.toJSON() }));
}
