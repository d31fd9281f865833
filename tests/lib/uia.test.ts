import { describe, expect, it } from "vitest";
import {
  advance,
  challengeBody,
  checkAttempt,
  checkSession,
  isComplete,
  newSession,
  parseAuthDict,
  passwordStageUser,
  runUia,
  UIA_SESSION_LIFETIME_MS,
  type StageResult,
  type UiaConfig,
  type UiaSession,
  type UiaStore,
} from "../../lib/uia.ts";
import { MatrixError } from "../../lib/errors.ts";

const dummy: UiaConfig = { flows: [{ stages: ["m.login.dummy"] }] };
const tokenThenDummy: UiaConfig = {
  flows: [{ stages: ["m.login.registration_token", "m.login.dummy"] }, { stages: ["m.login.password"] }],
};

function errOf(f: () => unknown): MatrixError {
  try {
    f();
  } catch (e) {
    if (e instanceof MatrixError) return e;
    throw e;
  }
  throw new Error("did not throw");
}

describe("user-interactive authentication", () => {
  it("[uia] first request gets 401 body with flows, params and session", () => {
    const s = newSession("S1", "register", 0);
    const out = advance(dummy, s, undefined, null);
    expect(out.kind).toBe("challenge");
    expect(out.kind === "challenge" && out.body).toEqual({
      flows: [{ stages: ["m.login.dummy"] }],
      params: {},
      session: "S1",
    });
  });

  it("[uia] completing the only stage of a flow completes auth", () => {
    const s = newSession("S1", "register", 0);
    const out = advance(dummy, s, "m.login.dummy", { ok: true });
    expect(out.kind).toBe("complete");
    expect(out.session.completed).toEqual(["m.login.dummy"]);
  });

  it("[uia] a multi-stage flow reports completed stages until the last one", () => {
    let s = newSession("S", "register", 0);
    const first = advance(tokenThenDummy, s, "m.login.registration_token", { ok: true, data: { token: "T" } });
    expect(first.kind).toBe("challenge");
    expect(first.kind === "challenge" && first.body.completed).toEqual(["m.login.registration_token"]);
    s = first.session;
    expect(s.data).toEqual({ token: "T" });
    const second = advance(tokenThenDummy, s, "m.login.dummy", { ok: true });
    expect(second.kind).toBe("complete");
    expect(second.session.data.token).toBe("T");
  });

  it("[uia] a failed stage returns 401 with errcode and error, completing nothing", () => {
    const s = newSession("S", "password", 0);
    const cfg: UiaConfig = { flows: [{ stages: ["m.login.password"] }] };
    const out = advance(cfg, s, "m.login.password", { ok: false, errcode: "M_FORBIDDEN", error: "Invalid password" });
    expect(out.kind).toBe("challenge");
    expect(out.kind === "challenge" && out.body).toMatchObject({ errcode: "M_FORBIDDEN", error: "Invalid password", session: "S" });
    expect(out.session.completed).toEqual([]);
  });

  it("[uia] advance does not mutate the stored session", () => {
    const s = newSession("S", "register", 0);
    advance(dummy, s, "m.login.dummy", { ok: true, data: { x: "y" } });
    expect(s.completed).toEqual([]);
    expect(s.data).toEqual({});
  });

  it("[uia] stage types that no flow offers are 400 M_UNRECOGNIZED", () => {
    const e = errOf(() => checkAttempt(dummy, newSession("S", "register", 0), "m.login.password"));
    expect([e.status, e.errcode]).toEqual([400, "M_UNRECOGNIZED"]);
  });

  it("[uia] stages must follow their flow's order", () => {
    const s = newSession("S", "register", 0);
    const e = errOf(() => checkAttempt(tokenThenDummy, s, "m.login.dummy"));
    expect(e.errcode).toBe("M_FORBIDDEN");
    expect(() => checkAttempt(tokenThenDummy, s, "m.login.registration_token")).not.toThrow();
    expect(() => checkAttempt(tokenThenDummy, s, "m.login.password")).not.toThrow();
  });

  it("[uia] isComplete requires a whole flow in order", () => {
    expect(isComplete(tokenThenDummy, [])).toBe(false);
    expect(isComplete(tokenThenDummy, ["m.login.registration_token"])).toBe(false);
    expect(isComplete(tokenThenDummy, ["m.login.registration_token", "m.login.dummy"])).toBe(true);
    expect(isComplete(tokenThenDummy, ["m.login.password"])).toBe(true);
    expect(isComplete(tokenThenDummy, ["m.login.dummy", "m.login.registration_token"])).toBe(false);
  });

  it("[uia] a session is bound to the operation that opened it", () => {
    const s = newSession("S", "password", 1000);
    expect(() => checkSession(s, "password", 2000)).not.toThrow();
    const e = errOf(() => checkSession(s, "deactivate", 2000));
    expect([e.status, e.errcode]).toEqual([403, "M_FORBIDDEN"]);
  });

  it("[uia] sessions expire", () => {
    const s = newSession("S", "password", 0);
    expect(() => checkSession(s, "password", UIA_SESSION_LIFETIME_MS + 1)).toThrow(MatrixError);
  });

  it("[uia] auth dict must be an object with string type and session", () => {
    expect(parseAuthDict(undefined)).toBeNull();
    expect(parseAuthDict(null)).toBeNull();
    expect(parseAuthDict({ type: "m.login.dummy", session: "x" })).toMatchObject({ type: "m.login.dummy", session: "x" });
    expect(parseAuthDict({ session: "x" })).toMatchObject({ type: undefined, session: "x" });
    for (const bad of ["str", 1, [], { type: 1 }, { session: {} }]) {
      expect(errOf(() => parseAuthDict(bad)).errcode).toBe("M_BAD_JSON");
    }
  });

  it("[uia] completed is omitted until a stage is done and params always present", () => {
    const body = challengeBody(
      { flows: [{ stages: ["m.login.registration_token"] }], params: { "m.login.registration_token": {} } },
      newSession("S", "register", 0),
    );
    expect(body).not.toHaveProperty("completed");
    expect(body.params).toEqual({ "m.login.registration_token": {} });
  });
});

function memoryStore(): UiaStore & { sessions: Map<string, UiaSession> } {
  const sessions = new Map<string, UiaSession>();
  return {
    sessions,
    load: (id) => structuredClone(sessions.get(id) ?? null),
    save: (s) => void sessions.set(s.id, structuredClone(s)),
    prune: (before) => {
      for (const [id, s] of sessions) if (s.createdAt < before) sessions.delete(id);
    },
  };
}

describe("runUia: one request's round against a session store", () => {
  let ids = 0;
  const base = (store: UiaStore, config: UiaConfig, auth: unknown, check?: (t: string) => Promise<StageResult>) => ({
    store,
    config,
    operation: "op",
    auth,
    now: 1000,
    newSessionId: () => `S${++ids}`,
    checkStage: check ?? (async () => ({ ok: true }) as StageResult),
  });

  it("[uia] a first request opens and stores a session and challenges", async () => {
    const store = memoryStore();
    const r = await runUia(base(store, dummy, undefined));
    expect(r.done).toBe(false);
    const id = !r.done ? (r.body.session as string) : "";
    expect(store.sessions.get(id)?.operation).toBe("op");
  });

  it("[uia] completing returns the session and leaves its deletion to the caller's transaction", async () => {
    const store = memoryStore();
    const first = await runUia(base(store, dummy, undefined));
    const session = !first.done ? first.body.session : undefined;
    const done = await runUia(base(store, dummy, { type: "m.login.dummy", session }));
    expect(done.done).toBe(true);
    expect(store.sessions.has(session as string)).toBe(true);
  });

  it("[uia] single-shot auth without a session completes in one request", async () => {
    const r = await runUia(base(memoryStore(), dummy, { type: "m.login.dummy" }));
    expect(r.done).toBe(true);
  });

  it("[uia] an unknown session is 400", async () => {
    await expect(runUia(base(memoryStore(), dummy, { type: "m.login.dummy", session: "nope" }))).rejects.toMatchObject({
      errcode: "M_UNKNOWN",
      status: 400,
    });
  });

  it("[uia] the stage check sees the auth dict; a failure is recorded as a 401 with errcode", async () => {
    const store = memoryStore();
    const cfg: UiaConfig = { flows: [{ stages: ["m.login.password"] }] };
    let seen: unknown;
    const r = await runUia(
      base(store, cfg, { type: "m.login.password", password: "x" }, async (t) => {
        seen = t;
        return { ok: false, errcode: "M_FORBIDDEN", error: "Invalid password" };
      }),
    );
    expect(seen).toBe("m.login.password");
    expect(!r.done && r.body.errcode).toBe("M_FORBIDDEN");
  });

  it("[uia] a session completed and deleted during a slow stage check is not resurrected", async () => {
    const store = memoryStore();
    const cfg: UiaConfig = { flows: [{ stages: ["m.login.password"] }] };
    const first = await runUia(base(store, cfg, undefined));
    const session = !first.done ? (first.body.session as string) : "";
    let release!: () => void;
    const gate = new Promise<void>((ok) => (release = ok));
    const slow = runUia(
      base(store, cfg, { type: "m.login.password", session }, async () => {
        await gate;
        return { ok: true };
      }),
    );
    // Meanwhile another round on the same session completes, and its operation deletes it.
    const fast = await runUia(base(store, cfg, { type: "m.login.password", session }));
    expect(fast.done).toBe(true);
    store.sessions.delete(session);
    release();
    await expect(slow).rejects.toMatchObject({ errcode: "M_UNKNOWN" });
    expect(store.sessions.has(session)).toBe(false);
  });

  it("[uia] an imported session is adopted when the request names it", async () => {
    const store = memoryStore();
    const imported = { ...newSession("IMP", "op", 900), completed: ["m.login.registration_token"] };
    const r = await runUia({ ...base(store, tokenThenDummy, { type: "m.login.dummy", session: "IMP" }), imported });
    expect(r.done).toBe(true);
  });

  it("[uia] expired sessions are pruned when a new one opens", async () => {
    const store = memoryStore();
    store.save(newSession("OLD", "op", 0));
    await runUia({ ...base(store, dummy, undefined), now: UIA_SESSION_LIFETIME_MS + 10 });
    expect(store.sessions.has("OLD")).toBe(false);
  });

  it("[uia: m.login.password] the stage names its user by m.id.user identifier or legacy user", () => {
    expect(passwordStageUser({ identifier: { type: "m.id.user", user: "@a:b" } })).toBe("@a:b");
    expect(passwordStageUser({ user: "a" })).toBe("a");
    expect(passwordStageUser({})).toBeNull();
    expect(() => passwordStageUser({ identifier: { type: "m.id.thirdparty", medium: "email" } })).toThrow(MatrixError);
  });
});
