/**
 * User-interactive authentication as a pure state machine.
 * https://spec.matrix.org/v1.19/client-server-api/#user-interactive-authentication-api
 *
 * The caller (an actor) owns the session store and the stage checks that need secrets
 * (password hashes, registration tokens). This module decides: which flows are offered,
 * whether an `auth` dict is well formed, what a stage result does to a session, and what
 * the 401 body looks like. Sessions are bound to one operation so that a session opened
 * to change a password cannot be replayed to delete devices.
 */
import { MatrixError } from "./errors.ts";
import { isJsonObject, type JsonObject } from "./json.ts";

export type StageType =
  | "m.login.dummy"
  | "m.login.password"
  | "m.login.registration_token"
  | (string & {});

export interface UiaFlow {
  stages: StageType[];
}

/** What an endpoint asks for: the flows on offer and per-stage params (sent to the client). */
export interface UiaConfig {
  flows: UiaFlow[];
  params?: Record<string, JsonObject>;
}

export interface UiaSession {
  id: string;
  /** What the session authorises, e.g. "register", "password", "delete_devices:<ids>". */
  operation: string;
  completed: StageType[];
  createdAt: number;
  /** Stage results the operation needs afterwards (e.g. the registration token used). */
  data: Record<string, string>;
}

/** Sessions older than this are treated as unknown. */
export const UIA_SESSION_LIFETIME_MS = 15 * 60 * 1000;

/** The `auth` dict of a request, after shape validation. */
export interface AuthDict {
  type?: string;
  session?: string;
  raw: JsonObject;
}

/** Validate the request's `auth` field; undefined/null means "no auth attempted yet". */
export function parseAuthDict(auth: unknown): AuthDict | null {
  if (auth === undefined || auth === null) return null;
  if (!isJsonObject(auth)) throw new MatrixError("M_BAD_JSON", 400, "'auth' must be an object");
  const { type, session } = auth;
  if (type !== undefined && typeof type !== "string") {
    throw new MatrixError("M_BAD_JSON", 400, "'auth.type' must be a string");
  }
  if (session !== undefined && typeof session !== "string") {
    throw new MatrixError("M_BAD_JSON", 400, "'auth.session' must be a string");
  }
  return { type, session, raw: auth };
}

/** The spec's 401 body: flows, params, session, completed, and the last stage's error. */
export function challengeBody(
  config: UiaConfig,
  session: UiaSession,
  error?: { errcode: string; error: string },
): JsonObject {
  const body: JsonObject = {
    flows: config.flows.map((f) => ({ stages: [...f.stages] })),
    params: config.params ?? {},
    session: session.id,
  };
  if (session.completed.length > 0) body.completed = [...session.completed];
  if (error) Object.assign(body, error);
  return body;
}

/** Stage types offered by at least one flow. */
export function offeredStages(config: UiaConfig): Set<string> {
  return new Set(config.flows.flatMap((f) => f.stages));
}

/**
 * True when `completed` satisfies some flow. Stages must be completed in the flow's
 * order, so `completed` must begin with the whole flow.
 */
export function isComplete(config: UiaConfig, completed: readonly string[]): boolean {
  return config.flows.some(
    (f) => f.stages.length <= completed.length && f.stages.every((s, i) => completed[i] === s),
  );
}

/**
 * Whether `stage` may be attempted next: some flow continues the completed prefix with it.
 * The spec has clients follow one flow in order; we hold them to it.
 */
export function isNextStage(config: UiaConfig, completed: readonly string[], stage: string): boolean {
  return config.flows.some(
    (f) =>
      f.stages.length > completed.length &&
      completed.every((s, i) => f.stages[i] === s) &&
      f.stages[completed.length] === stage,
  );
}

export function newSession(id: string, operation: string, now: number): UiaSession {
  return { id, operation, completed: [], createdAt: now, data: {} };
}

/** Is this stored session still usable for `operation` at `now`? */
export function checkSession(session: UiaSession, operation: string, now: number): void {
  if (now - session.createdAt > UIA_SESSION_LIFETIME_MS) {
    throw new MatrixError("M_UNKNOWN", 400, "UIA session has expired");
  }
  if (session.operation !== operation) {
    throw new MatrixError(
      "M_FORBIDDEN",
      403,
      "Requested operation has changed during the UI authentication session",
    );
  }
}

/** Result of checking one stage's credentials, produced by the caller. */
export type StageResult =
  | { ok: true; data?: Record<string, string> }
  | { ok: false; errcode: string; error: string };

export type UiaOutcome =
  /** Every stage of a flow is done: perform the operation and delete the session. */
  | { kind: "complete"; session: UiaSession }
  /** Reply 401 with `body`; persist `session` first. */
  | { kind: "challenge"; session: UiaSession; body: JsonObject };

/**
 * Apply one request to a session. `stage` is the checked result of `auth.type`, or null
 * when the request carried no new stage (a first request, or a poll for status).
 * Returns a new session object; the input is not mutated.
 */
export function advance(
  config: UiaConfig,
  session: UiaSession,
  attempted: string | undefined,
  stage: StageResult | null,
): UiaOutcome {
  const next: UiaSession = { ...session, completed: [...session.completed], data: { ...session.data } };
  if (attempted !== undefined && stage !== null) {
    if (!stage.ok) {
      return {
        kind: "challenge",
        session: next,
        body: challengeBody(config, next, { errcode: stage.errcode, error: stage.error }),
      };
    }
    if (!next.completed.includes(attempted)) next.completed.push(attempted);
    Object.assign(next.data, stage.data ?? {});
  }
  if (isComplete(config, next.completed)) return { kind: "complete", session: next };
  return { kind: "challenge", session: next, body: challengeBody(config, next) };
}

/**
 * Validate that `type` may be attempted now; throws the error the spec's servers use for
 * stage types that are not on offer (400 M_UNRECOGNIZED) or out of order.
 */
export function checkAttempt(config: UiaConfig, session: UiaSession, type: string): void {
  if (!offeredStages(config).has(type)) {
    throw new MatrixError("M_UNRECOGNIZED", 400, `Authentication type ${type} is not offered`);
  }
  if (session.completed.includes(type)) return; // idempotent retry of a completed stage
  if (!isNextStage(config, session.completed, type)) {
    throw new MatrixError("M_FORBIDDEN", 403, `Authentication stage ${type} is out of order`);
  }
}

/** Where an actor keeps its UIA sessions; synchronous, so a round can read and write without yielding. */
export interface UiaStore {
  load(id: string): UiaSession | null;
  save(session: UiaSession): void;
  /** Drop sessions created before `before` (called when a new session is opened). */
  prune(before: number): void;
}

export interface UiaRequest {
  store: UiaStore;
  config: UiaConfig;
  operation: string;
  /** The request's `auth` field, unvalidated. */
  auth: unknown;
  now: number;
  newSessionId: () => string;
  /** Checks one stage's credentials; the only asynchronous step of a round. */
  checkStage: (type: string, auth: AuthDict) => Promise<StageResult>;
  /** A session handed over from another store, adopted if the request names it. */
  imported?: UiaSession | null;
}

/**
 * A round completed when `done`: the caller performs the operation and deletes the
 * session in the same transaction. Otherwise reply 401 with `body` (already saved).
 */
export type UiaRound = { done: false; body: JsonObject } | { done: true; session: UiaSession };

/**
 * One request's worth of UIA: validate `auth`, check the attempted stage, advance the
 * session. Everything after the stage check is synchronous — the session is re-read
 * after the await, so a concurrent round on the same session cannot be lost.
 */
export async function runUia(r: UiaRequest): Promise<UiaRound> {
  const auth = parseAuthDict(r.auth);
  const unknown = () => new MatrixError("M_UNKNOWN", 400, "Unknown or expired UIA session");
  if (r.imported && auth?.session === r.imported.id && !r.store.load(r.imported.id)) r.store.save(r.imported);
  const known = auth?.session ? r.store.load(auth.session) : null;
  if (auth?.session) {
    if (!known) throw unknown();
    checkSession(known, r.operation, r.now);
  }
  let stage: StageResult | null = null;
  if (auth?.type !== undefined) {
    checkAttempt(r.config, known ?? newSession("", r.operation, r.now), auth.type);
    stage = await r.checkStage(auth.type, auth);
  }
  // Synchronous from here on.
  let session = auth?.session ? r.store.load(auth.session) : null;
  if (auth?.session && !session) throw unknown();
  if (!session) {
    r.store.prune(r.now - UIA_SESSION_LIFETIME_MS);
    session = newSession(r.newSessionId(), r.operation, r.now);
  }
  const out = advance(r.config, session, auth?.type, stage);
  if (out.kind === "complete") return { done: true, session: out.session };
  r.store.save(out.session);
  return { done: false, body: out.body };
}

/**
 * The user an m.login.password stage names: `identifier.user` (m.id.user) or the
 * deprecated top-level `user`; null when it names nobody.
 */
export function passwordStageUser(auth: JsonObject): string | null {
  const id = auth.identifier;
  if (id !== undefined) {
    if (!isJsonObject(id) || id.type !== "m.id.user" || typeof id.user !== "string") {
      throw new MatrixError("M_BAD_JSON", 400, "'auth.identifier' must be an m.id.user identifier");
    }
    return id.user;
  }
  return typeof auth.user === "string" ? auth.user : null;
}
