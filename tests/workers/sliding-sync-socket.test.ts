// Sliding sync over WebSocket (docs/sliding-sync-websocket.md) through the edge Worker into
// the User actor: the upgrade route, authentication by the first frame, error frames and
// close codes, pushes on change, acknowledgement and resume from a pos.
import { env, runDurableObjectAlarm, runInDurableObject, SELF } from "cloudflare:test";
import { userActor } from "../../party/stubs.ts";
import { describe, expect, it } from "vitest";
import { BASE, call, createRoom, enc, newUser, sendMessage, V3, type TestUser } from "./room-helpers.ts";

const PATH = "/_matrix/client/unstable/org.parley.sliding_sync.ws";

type Frame = Record<string, any>;

/** A socket through the Worker, with its frames queued for `next()`. */
interface TestSocket {
  ws: WebSocket;
  next(timeoutMs?: number): Promise<Frame>;
  /** No frame arrives within the time. */
  quiet(ms: number): Promise<void>;
  closed: Promise<{ code: number; reason: string }>;
  send(frame: unknown): void;
}

async function open(userId: string): Promise<TestSocket> {
  const res = await SELF.fetch(`${BASE}${PATH}?user_id=${enc(userId)}`, { headers: { Upgrade: "websocket" } });
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  ws.accept();
  const frames: Frame[] = [];
  const waiters: Array<(f: Frame) => void> = [];
  ws.addEventListener("message", (e) => {
    const f = JSON.parse(e.data as string) as Frame;
    const w = waiters.shift();
    if (w) w(f);
    else frames.push(f);
  });
  const closed = new Promise<{ code: number; reason: string }>((ok) => ws.addEventListener("close", (e) => ok({ code: e.code, reason: e.reason })));
  return {
    ws,
    closed,
    send: (frame) => ws.send(typeof frame === "string" ? frame : JSON.stringify(frame)),
    next(timeoutMs = 5000) {
      const f = frames.shift();
      if (f) return Promise.resolve(f);
      return new Promise((ok, fail) => {
        const t = setTimeout(() => fail(new Error("no frame within the time")), timeoutMs);
        waiters.push((frame) => {
          clearTimeout(t);
          ok(frame);
        });
      });
    },
    async quiet(ms) {
      await new Promise((r) => setTimeout(r, ms));
      expect(frames).toEqual([]);
    },
  };
}

async function authed(u: TestUser): Promise<TestSocket> {
  const s = await open(u.userId);
  s.send({ type: "auth", access_token: u.token });
  expect(await s.next()).toEqual({ type: "authenticated", user_id: u.userId, device_id: u.deviceId });
  return s;
}

const REQUEST = {
  conn_id: "ws",
  lists: { all: { ranges: [[0, 9]], timeline_limit: 50, required_state: [["m.room.name", ""]] } },
};

/** The m.room.message bodies of a response, per room. */
function messages(body: any, roomId: string): string[] {
  const events: any[] = body?.rooms?.[roomId]?.timeline ?? [];
  return events.filter((e) => e.type === "m.room.message").map((e) => e.content.body);
}

describe("sliding sync over WebSocket: the upgrade", () => {
  it("[ws: upgrade] a GET without Upgrade is 426; user_id missing or foreign is 400; a token with the upgrade is refused", async () => {
    const u = await newUser("ws");
    const plain = await SELF.fetch(`${BASE}${PATH}?user_id=${enc(u.userId)}`);
    expect(plain.status).toBe(426);
    expect(((await plain.json()) as Frame).errcode).toBe("M_UNRECOGNIZED");
    const up = { Upgrade: "websocket" };
    const missing = await SELF.fetch(`${BASE}${PATH}`, { headers: up });
    expect([missing.status, ((await missing.json()) as Frame).errcode]).toEqual([400, "M_MISSING_PARAM"]);
    const foreign = await SELF.fetch(`${BASE}${PATH}?user_id=${enc("@a:elsewhere.example")}`, { headers: up });
    expect([foreign.status, ((await foreign.json()) as Frame).errcode]).toEqual([400, "M_INVALID_PARAM"]);
    const inUrl = await SELF.fetch(`${BASE}${PATH}?user_id=${enc(u.userId)}&access_token=${u.token}`, { headers: up });
    expect([inUrl.status, ((await inUrl.json()) as Frame).errcode]).toEqual([400, "M_INVALID_PARAM"]);
    const inHeader = await SELF.fetch(`${BASE}${PATH}?user_id=${enc(u.userId)}`, { headers: { ...up, Authorization: `Bearer ${u.token}` } });
    expect(inHeader.status).toBe(400);
  });
});

describe("sliding sync over WebSocket: authentication", () => {
  it("[ws: auth] a valid token in the first frame authenticates the socket as its device", async () => {
    const u = await newUser("ws");
    const s = await authed(u);
    s.ws.close(1000);
  });

  it("[ws: auth] a first frame that is not auth gets M_MISSING_TOKEN and close 4401", async () => {
    const u = await newUser("ws");
    const s = await open(u.userId);
    s.send({ type: "sync", request: REQUEST });
    const f = await s.next();
    expect([f.type, f.errcode, f.in_reply_to]).toEqual(["error", "M_MISSING_TOKEN", "sync"]);
    expect((await s.closed).code).toBe(4401);
  });

  it("[ws: auth] an unknown token, or another user's, gets M_UNKNOWN_TOKEN and close 4401", async () => {
    const u = await newUser("ws");
    const other = await newUser("ws");
    for (const token of ["syt_bogus_token", other.token]) {
      const s = await open(u.userId);
      s.send({ type: "auth", access_token: token });
      const f = await s.next();
      expect([f.type, f.errcode, f.in_reply_to]).toEqual(["error", "M_UNKNOWN_TOKEN", "auth"]);
      expect((await s.closed).code).toBe(4401);
    }
  });

  it("[ws: auth] auth again with a refreshed token of the same device keeps the socket; another device's token closes it (M_FORBIDDEN, 4401)", async () => {
    const username = `wsr${Date.now().toString(36)}${Math.floor(Math.random() * 1e6)}`;
    const first = await call("POST", `${V3}/register`, { username, password: "correct horse battery" });
    const reg = await call("POST", `${V3}/register`, {
      username,
      password: "correct horse battery",
      refresh_token: true,
      auth: { type: "m.login.dummy", session: first.body.session },
    });
    expect(reg.status).toBe(200);
    const userId = reg.body.user_id as string;
    const s = await open(userId);
    s.send({ type: "auth", access_token: reg.body.access_token });
    expect((await s.next()).type).toBe("authenticated");
    const refreshed = await call("POST", `${V3}/refresh`, { refresh_token: reg.body.refresh_token });
    expect(refreshed.status).toBe(200);
    s.send({ type: "auth", access_token: refreshed.body.access_token });
    expect(await s.next()).toEqual({ type: "authenticated", user_id: userId, device_id: reg.body.device_id });
    const other = await call("POST", `${V3}/login`, { type: "m.login.password", identifier: { type: "m.id.user", user: userId }, password: "correct horse battery" });
    s.send({ type: "auth", access_token: other.body.access_token });
    const f = await s.next();
    expect([f.type, f.errcode, f.in_reply_to]).toEqual(["error", "M_FORBIDDEN", "auth"]);
    expect((await s.closed).code).toBe(4401);
  });

  it("[ws: auth] logging a device out closes its sockets at once (M_UNKNOWN_TOKEN, 4401); another device's socket goes on", async () => {
    const u = await newUser("ws");
    const roomId = await createRoom(u);
    const login = await u.call("POST", `${V3}/login`, { type: "m.login.password", identifier: { type: "m.id.user", user: u.userId }, password: "correct horse battery" });
    expect(login.status).toBe(200);
    const otherToken = login.body.access_token as string;
    const a = await authed(u);
    const b = await open(u.userId);
    b.send({ type: "auth", access_token: otherToken });
    expect((await b.next()).type).toBe("authenticated");
    for (const s of [a, b]) {
      s.send({ type: "sync", request: REQUEST, pos: null });
      const first = await s.next();
      expect(first.type).toBe("response");
      s.send({ type: "ack", pos: first.pos });
    }
    await u.ok("POST", `${V3}/logout`, {});
    const f = await a.next();
    expect([f.type, f.errcode]).toEqual(["error", "M_UNKNOWN_TOKEN"]);
    expect((await a.closed).code).toBe(4401);
    await sendMessage({ ...u, call: (m, p, body) => callAs(otherToken, m, p, body) }, roomId, "after logout");
    expect(messages((await b.next()).body, roomId)).toEqual(["after logout"]);
    b.ws.close(1000);
  });
});

async function callAs(token: string, method: string, path: string, body?: unknown) {
  const res = await SELF.fetch(BASE + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

describe("sliding sync over WebSocket: bad frames", () => {
  it("[ws: frames] bad frames get error frames (M_NOT_JSON, M_BAD_JSON, M_UNRECOGNIZED, M_INVALID_PARAM) and the socket stays open", async () => {
    const u = await newUser("ws");
    const s = await authed(u);
    const cases: Array<[unknown, string]> = [
      ["{not json", "M_NOT_JSON"],
      ["[1,2]", "M_BAD_JSON"],
      [{ no: "type" }, "M_BAD_JSON"],
      [{ type: "subscribe" }, "M_UNRECOGNIZED"],
      [{ type: "sync" }, "M_BAD_JSON"],
      [{ type: "sync", request: {}, pos: 5 }, "M_INVALID_PARAM"],
      [{ type: "ack", pos: "never-sent" }, "M_INVALID_PARAM"],
    ];
    for (const [frame, errcode] of cases) {
      s.send(frame);
      const f = await s.next();
      expect([f.type, f.errcode], JSON.stringify(frame)).toEqual(["error", errcode]);
      expect(typeof f.error).toBe("string");
    }
    // Still usable: a ping is answered.
    s.send({ type: "ping" });
    expect(await s.next()).toEqual({ type: "pong" });
    s.ws.close(1000);
  });

  it("[ws: frames] a frame over SLIDING_SYNC_WS_MAX_FRAME_BYTES gets M_TOO_LARGE and close 1009", async () => {
    const u = await newUser("ws");
    const s = await authed(u);
    s.send({ type: "sync", request: { conn_id: "x".repeat(300 * 1024) } });
    const f = await s.next();
    expect([f.type, f.errcode]).toEqual(["error", "M_TOO_LARGE"]);
    expect((await s.closed).code).toBe(1009);
  });

  it("[ws: limits] past SLIDING_SYNC_WS_MAX_SOCKETS the oldest unauthenticated socket gives way (4408); with all authenticated the new one is refused (4429)", async () => {
    const u = await newUser("ws");
    const sockets: TestSocket[] = [];
    const pending = await open(u.userId);
    for (let i = 0; i < 9; i++) sockets.push(await authed(u));
    const extra = await authed(u); // the 11th: the pending one gives way
    const f = await pending.next();
    expect([f.type, f.errcode]).toEqual(["error", "M_LIMIT_EXCEEDED"]);
    expect((await pending.closed).code).toBe(4408);
    const refused = await open(u.userId);
    const r = await refused.next();
    expect([r.type, r.errcode]).toEqual(["error", "M_LIMIT_EXCEEDED"]);
    expect((await refused.closed).code).toBe(4429);
    for (const s of [...sockets, extra]) s.ws.close(1000);
  });
});

describe("sliding sync over WebSocket: pushes, acknowledgement, resume", () => {
  it("[ws: push] the first sync frame is answered; a message is pushed without any client frame; nothing when nothing changed", async () => {
    const u = await newUser("ws");
    const roomId = await createRoom(u, { name: "pushed" });
    const s = await authed(u);
    s.send({ type: "sync", request: REQUEST, pos: null });
    const first = await s.next();
    expect(first.type).toBe("response");
    expect(first.gen).toBe(1);
    expect(typeof first.pos).toBe("string");
    expect(first.body.pos).toBe(first.pos);
    expect(Object.keys(first.body.rooms ?? {})).toContain(roomId);
    s.send({ type: "ack", pos: first.pos });
    await s.quiet(300); // no empty responses
    await sendMessage(u, roomId, "hello socket");
    const pushed = await s.next();
    expect(pushed.type).toBe("response");
    expect(messages(pushed.body, roomId)).toEqual(["hello socket"]);
    s.ws.close(1000);
  });

  it("[ws: ack] changes while a response is unacknowledged wait for the ack and come in one response, in order", async () => {
    const u = await newUser("ws");
    const roomId = await createRoom(u);
    const s = await authed(u);
    s.send({ type: "sync", request: REQUEST, pos: null });
    const first = await s.next();
    s.send({ type: "ack", pos: first.pos });
    await sendMessage(u, roomId, "m1");
    const r1 = await s.next();
    expect(messages(r1.body, roomId)).toEqual(["m1"]);
    // Not acknowledged yet: these must not be pushed until it is.
    for (const b of ["m2", "m3", "m4"]) expect((await sendMessage(u, roomId, b)).status).toBe(200);
    await s.quiet(300);
    s.send({ type: "ack", pos: r1.pos });
    const r2 = await s.next();
    expect(messages(r2.body, roomId)).toEqual(["m2", "m3", "m4"]);
    s.ws.close(1000);
  });

  it("[ws: resume] a new socket naming the last acknowledged pos gets exactly what was missed, once", async () => {
    const u = await newUser("ws");
    const roomId = await createRoom(u);
    const a = await authed(u);
    a.send({ type: "sync", request: REQUEST, pos: null });
    const first = await a.next();
    a.send({ type: "ack", pos: first.pos });
    await sendMessage(u, roomId, "seen");
    const seen = await a.next();
    expect(messages(seen.body, roomId)).toEqual(["seen"]);
    // Received but never acknowledged or handled: the client resumes from the pos before it.
    await sendMessage(u, roomId, "lost-in-flight");
    a.send({ type: "ack", pos: seen.pos });
    const inFlight = await a.next();
    expect(messages(inFlight.body, roomId)).toEqual(["lost-in-flight"]);
    a.ws.close(4000, "network gone");
    await a.closed;
    for (const b of ["missed-1", "missed-2"]) await sendMessage(u, roomId, b);
    const b = await authed(u);
    b.send({ type: "sync", request: REQUEST, pos: seen.pos });
    const resumed = await b.next();
    expect(messages(resumed.body, roomId)).toEqual(["lost-in-flight", "missed-1", "missed-2"]);
    b.send({ type: "ack", pos: resumed.pos });
    await b.quiet(300);
    b.ws.close(1000);
  });

  it("[ws: rearm] a live socket keeps the user's alarm set; the alarm sends nothing when nothing changed and pushes go on", async () => {
    const u = await newUser("ws");
    const roomId = await createRoom(u);
    const s = await authed(u);
    s.send({ type: "sync", request: REQUEST, pos: null });
    const first = await s.next();
    s.send({ type: "ack", pos: first.pos });
    await s.quiet(100);
    const stub = userActor(env, u.userId);
    const alarm = await runInDurableObject(stub, (_user, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await s.quiet(300);
    // Rescheduled while the socket is live.
    expect(await runInDurableObject(stub, (_user, state) => state.storage.getAlarm())).not.toBeNull();
    await sendMessage(u, roomId, "after the alarm");
    expect(messages((await s.next()).body, roomId)).toEqual(["after the alarm"]);
    s.ws.close(1000);
  });

  it("[ws: resume] a pos the server does not know gets M_UNKNOWN_POS in reply to sync", async () => {
    const u = await newUser("ws");
    const s = await authed(u);
    s.send({ type: "sync", request: REQUEST, pos: "999999-not-a-pos" });
    const f = await s.next();
    expect([f.type, f.errcode, f.in_reply_to]).toEqual(["error", "M_UNKNOWN_POS", "sync"]);
    s.ws.close(1000);
  });

  it("[ws: sync] a new sync frame replaces the request: its answer carries the next gen", async () => {
    const u = await newUser("ws");
    await createRoom(u, { name: "one" });
    const s = await authed(u);
    s.send({ type: "sync", request: REQUEST, pos: null });
    const first = await s.next();
    expect(first.gen).toBe(1);
    // A second list: its count is news, so the answer is not empty.
    s.send({ type: "sync", request: { ...REQUEST, lists: { ...REQUEST.lists, dms: { ranges: [[0, 0]], timeline_limit: 1, filters: { is_dm: true } } } }, pos: first.pos });
    const second = await s.next();
    expect([second.type, second.gen]).toEqual(["response", 2]);
    expect(second.body.lists.dms.count).toBe(0);
    s.send({ type: "ack", pos: second.pos });
    // The same request again from the new pos: nothing new, so nothing is sent.
    s.send({ type: "sync", request: { ...REQUEST, lists: { ...REQUEST.lists, dms: { ranges: [[0, 0]], timeline_limit: 1, filters: { is_dm: true } } } }, pos: second.pos });
    await s.quiet(300);
    s.ws.close(1000);
  });
});
