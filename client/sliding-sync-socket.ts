/**
 * A small client for Parley's sliding sync over WebSocket (docs/sliding-sync-websocket.md).
 * No runtime dependencies: give it any WebSocket-like object — the browser's or Node's
 * global `WebSocket`, the `ws` package, or partysocket's reconnecting `WebSocket`.
 *
 *   const sync = new SlidingSyncSocket({
 *     baseUrl: "https://matrix.example.org", userId, accessToken,
 *     request: { conn_id: "main", lists: { all: { ranges: [[0, 19]], timeline_limit: 10 } } },
 *     createSocket: (url) => new WebSocket(url),
 *     onResponse: (body, pos) => { ... },
 *   });
 *
 * It authenticates with the first frame, sends the request with the last pos it has,
 * hands every pushed response to `onResponse` and acknowledges it once that returned (so
 * a response is acknowledged only after the application has it). After a disconnect it
 * reconnects — itself, or by following a self-reconnecting socket's `open` events
 * (`socketReconnects: true`, partysocket) — and resumes from the last acknowledged pos:
 * nothing missed, nothing twice.
 *
 * It gives up on close 4401 (the token is no longer valid) and 1009: `onError` gets the
 * error. A client with refresh tokens refreshes (on `soft_logout`) and starts a new
 * SlidingSyncSocket with `pos: old.pos`, which resumes exactly as a reconnect does.
 */

/** The socket API this client uses: a subset that the standard WebSocket, `ws` and partysocket share. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /** Self-reconnecting sockets (partysocket): drop this connection and make the next one. */
  reconnect?(code?: number, reason?: string): void;
  addEventListener(type: "open" | "message" | "close" | "error", listener: (event: SocketEvent) => void): void;
  removeEventListener(type: "open" | "message" | "close" | "error", listener: (event: SocketEvent) => void): void;
}

/** The fields of open/message/close/error events this client reads. */
export interface SocketEvent {
  data?: unknown;
  code?: number;
  reason?: string;
}

/** A JSON object (a request or response body). */
export type Json = { [key: string]: JsonValue };
export type JsonValue = null | boolean | number | string | JsonValue[] | Json;

/** An error frame from the server (errcode M_*), or a close the client gives up on. */
export interface SocketError {
  errcode: string;
  error: string;
  /** The frame type it answers (`auth`, `sync`, `ack`), when it answers one. */
  in_reply_to?: string;
  soft_logout?: boolean;
  /** Set when the server closed the socket and this client will not reconnect. */
  closeCode?: number;
}

export const SOCKET_PATH = "/_matrix/client/unstable/org.parley.sliding_sync.ws";
/** Close codes the server uses (docs/sliding-sync-websocket.md). */
export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_TOO_MANY = 4429;
export const CLOSE_REPLACED = 4408;
export const CLOSE_TOO_BIG = 1009;

export interface SlidingSyncSocketOptions {
  /** The homeserver's client-server base URL (`https://…`); `ws(s)://` is derived from it. */
  baseUrl: string;
  userId: string;
  /** The access token, or a function giving the current one (after a refresh). */
  accessToken: string | (() => string | Promise<string>);
  /** The MSC4186 request body (lists, room_subscriptions, extensions, conn_id). */
  request: Json;
  /** Resume from this pos (one this client's `onResponse` was given earlier), or start afresh. */
  pos?: string | null;
  /** Makes a socket for a URL. */
  createSocket: (url: string) => WebSocketLike;
  /** The socket reconnects by itself and fires `open` again (partysocket): do not make new ones. */
  socketReconnects?: boolean;
  /** Called with every pushed response in order; the response is acknowledged once this returns (or its promise resolves). */
  onResponse: (body: Json, pos: string) => void | Promise<void>;
  /** Error frames, and closes the client gives up on. */
  onError?: (error: SocketError) => void;
  /** The server no longer knows the pos (M_UNKNOWN_POS): the client starts afresh; discard what you built from earlier responses. */
  onReset?: () => void;
  /** First and longest delay before a reconnect (ms); doubled after each failed attempt. */
  reconnectDelayMs?: { min: number; max: number };
}

type Phase = "connecting" | "authenticating" | "live" | "closed";

export class SlidingSyncSocket {
  readonly #o: SlidingSyncSocketOptions;
  #socket: WebSocketLike | undefined;
  #phase: Phase = "connecting";
  #pos: string | null;
  #request: Json;
  #delay: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Responses are handled one at a time, in order; frames that must follow them (ack, sync) wait here too. */
  #queue: Promise<void> = Promise.resolve();
  /** Connections made so far: an acknowledgement goes only on the connection its response came by. */
  #epoch = 0;
  /** Sync frames sent on this connection: responses to an older request (smaller `gen`) are ignored. */
  #gen = 0;
  readonly #listeners: Array<[Parameters<WebSocketLike["addEventListener"]>[0], (e: SocketEvent) => void]>;

  constructor(options: SlidingSyncSocketOptions) {
    this.#o = options;
    this.#pos = options.pos ?? null;
    this.#request = options.request;
    this.#delay = options.reconnectDelayMs?.min ?? 250;
    this.#listeners = [
      ["open", () => void this.#onOpen()],
      ["message", (e) => this.#onMessage(e)],
      ["close", (e) => this.#onClose(e)],
      ["error", () => {}], // a close follows
    ];
    this.#connect();
  }

  /** The pos of the last response handled and acknowledged (what a resume starts from). */
  get pos(): string | null {
    return this.#pos;
  }

  /** Authenticated and the request sent. */
  get live(): boolean {
    return this.#phase === "live";
  }

  /** Replaces the request (new ranges, subscriptions…); the server answers from the current pos. */
  setRequest(request: Json): void {
    this.#request = request;
    this.#enqueue(() => {
      if (this.#phase === "live") this.#sendSync();
    });
  }

  /** Closes for good. */
  close(): void {
    this.#phase = "closed";
    clearTimeout(this.#timer);
    const s = this.#socket;
    this.#socket = undefined;
    if (s) {
      for (const [type, fn] of this.#listeners) s.removeEventListener(type, fn);
      s.close(1000, "client closed");
    }
  }

  /** Drops the current connection as a network failure would (tests); the client resumes. */
  drop(): void {
    const s = this.#socket;
    if (s?.reconnect && this.#o.socketReconnects) s.reconnect(4000, "dropped by the client");
    else s?.close(4000, "dropped by the client");
  }

  get url(): string {
    return `${this.#o.baseUrl.replace(/\/+$/, "").replace(/^http/, "ws")}${SOCKET_PATH}?user_id=${encodeURIComponent(this.#o.userId)}`;
  }

  #connect(): void {
    if (this.#phase === "closed") return;
    this.#phase = "connecting";
    const s = this.#o.createSocket(this.url);
    this.#socket = s;
    for (const [type, fn] of this.#listeners) s.addEventListener(type, fn);
  }

  async #onOpen(): Promise<void> {
    if (this.#phase === "closed") return;
    this.#phase = "authenticating";
    this.#epoch++;
    this.#gen = 0;
    const t = this.#o.accessToken;
    const token = typeof t === "string" ? t : await t();
    this.#send({ type: "auth", access_token: token });
  }

  #onMessage(e: SocketEvent): void {
    let frame: Json;
    try {
      const text = typeof e.data === "string" ? e.data : new TextDecoder().decode(e.data as ArrayBuffer);
      frame = JSON.parse(text) as Json;
    } catch {
      return; // not ours
    }
    switch (frame.type) {
      case "authenticated": {
        const epoch = this.#epoch;
        this.#delay = this.#o.reconnectDelayMs?.min ?? 250;
        // Responses still being handled first: the resume names the pos they end at.
        this.#enqueue(() => {
          if (epoch !== this.#epoch || this.#phase === "closed") return;
          this.#phase = "live";
          this.#sendSync();
        });
        return;
      }
      case "response": {
        const pos = frame.pos as string;
        const body = frame.body as Json;
        const epoch = this.#epoch;
        // Computed for a request this client has since replaced: the answer to the new one follows.
        if (frame.gen !== this.#gen) return;
        this.#enqueue(async () => {
          await this.#o.onResponse(body, pos);
          this.#pos = pos;
          // Acknowledged on the connection it came by; after a reconnect the sync frame names the pos instead.
          if (epoch === this.#epoch && this.#phase === "live") this.#send({ type: "ack", pos });
        });
        return;
      }
      case "error": {
        const err = frame as unknown as SocketError;
        if (err.errcode === "M_UNKNOWN_POS") {
          // The server cannot continue from our pos: start afresh, as MSC4186 clients do.
          this.#enqueue(() => {
            this.#pos = null;
            this.#o.onReset?.();
            if (this.#phase === "live") this.#sendSync();
          });
          return;
        }
        this.#o.onError?.(err);
        return;
      }
      default:
        return; // pong, or a frame type from a newer server
    }
  }

  #onClose(e: SocketEvent): void {
    if (this.#phase === "closed") return;
    const code = e.code ?? 1006;
    if (code === CLOSE_UNAUTHORIZED || code === CLOSE_TOO_BIG) {
      // Retrying cannot help: the token (or the request) must change first.
      this.#o.onError?.({ errcode: code === CLOSE_UNAUTHORIZED ? "M_UNKNOWN_TOKEN" : "M_TOO_LARGE", error: e.reason ?? "closed", closeCode: code });
      this.close();
      return;
    }
    this.#phase = "connecting";
    if (this.#o.socketReconnects) return; // it will fire `open` again
    const s = this.#socket;
    if (s) for (const [type, fn] of this.#listeners) s.removeEventListener(type, fn);
    this.#socket = undefined;
    const max = this.#o.reconnectDelayMs?.max ?? 10_000;
    this.#timer = setTimeout(() => this.#connect(), this.#delay);
    this.#delay = Math.min(this.#delay * 2, max);
  }

  #sendSync(): void {
    this.#gen++;
    this.#send({ type: "sync", request: this.#request, pos: this.#pos });
  }

  #enqueue(step: () => void | Promise<void>): void {
    this.#queue = this.#queue.then(step).catch((err: unknown) => {
      this.#o.onError?.({ errcode: "M_UNKNOWN", error: `onResponse threw: ${String(err)}` });
    });
  }

  #send(frame: Json): void {
    if (this.#socket && this.#socket.readyState === 1) this.#socket.send(JSON.stringify(frame));
  }
}
