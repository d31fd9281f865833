// matrix-js-sdk against the real server, shared by the e2e tests: a fetch that validates
// every response against the spec's OpenAPI (asserted after each test), a quiet logger,
// client and registration helpers.
import { afterEach, beforeEach, expect, inject } from "vitest";
import { ClientEvent, createClient, type MatrixClient, MatrixError, SyncState } from "matrix-js-sdk";
import type { Logger } from "matrix-js-sdk/lib/logger.js";
import { findTemplate, validateResponse } from "./openapi.ts";

export const PASSWORD = "a sufficiently long password";

/**
 * The SDK logs every request; keep test output to real errors. Errors whose first argument
 * starts with one of `ignoredErrorPrefixes` (refusals a test provokes on purpose) are dropped.
 */
export function quietLogger(...ignoredErrorPrefixes: string[]): Logger {
  const logger: Logger = {
    trace() {},
    debug() {},
    info() {},
    warn() {},
    error: (...m: unknown[]) => {
      if (!ignoredErrorPrefixes.some((p) => String(m[0]).startsWith(p))) console.error(...m);
    },
    getChild: () => logger,
  };
  return logger;
}

/** The status and errcode of a request that must fail with a MatrixError. */
export async function errcodeOf(p: Promise<unknown>): Promise<[number | undefined, string | undefined]> {
  try {
    await p;
  } catch (e) {
    if (e instanceof MatrixError) return [e.httpStatus, e.errcode];
    throw e;
  }
  throw new Error("expected the request to fail");
}

/** Resolves with the first value `probe` returns that is not undefined (checked every 5 ms), or rejects after `ms`. */
export function until<T>(probe: () => T | undefined, ms = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const v = probe();
      if (v === undefined) return;
      clearInterval(timer);
      clearTimeout(timeout);
      resolve(v);
    };
    const timer = setInterval(check, 5);
    const timeout = setTimeout(() => {
      clearInterval(timer);
      reject(new Error("timed out waiting"));
    }, ms);
    check();
  });
}

/** startClient and wait for the first sync to be processed. */
export async function start(c: MatrixClient, opts: Parameters<MatrixClient["startClient"]>[0] = {}): Promise<void> {
  const ready = new Promise<void>((resolve, reject) => {
    const onSync = (state: SyncState) => {
      if (state === SyncState.Prepared || state === SyncState.Syncing) {
        c.off(ClientEvent.Sync, onSync);
        resolve();
      } else if (state === SyncState.Error) reject(new Error("sync error"));
    };
    c.on(ClientEvent.Sync, onSync);
  });
  await c.startClient({ initialSyncLimit: 10, ...opts });
  await ready;
}

export interface ClientOptions {
  accessToken?: string;
  userId?: string;
  deviceId?: string;
  refreshToken?: string;
  /** false: a plain fetch, for the rare response the spec documents without a body schema. */
  validating?: boolean;
  /** Another server than the suite's (a test that starts its own with other settings). */
  baseUrl?: string;
}

export interface SdkHarnessOptions {
  /** Error-log prefixes the logger drops (see quietLogger). */
  ignoredErrors?: string[];
  /** Which validated responses count towards the "> 0 validated" check after each test (default: all). */
  counts?: (method: string, pathname: string) => boolean;
  /** Stop the sync loop of every client made by `register` after each test, before the checks. */
  stopClients?: boolean;
}

export interface SdkHarness {
  logger: Logger;
  /** A client whose every response is validated against the OpenAPI (unless validating: false). */
  client(opts?: ClientOptions): MatrixClient;
  /** Registers `${tag}<unique>` through UIA (m.login.dummy), sets `displayName` if given, and returns a logged-in client. */
  register(tag: string, displayName?: string, server?: { baseUrl: string }): Promise<{ userId: string; client: MatrixClient }>;
  /** Counts a response a test validated itself (e.g. with specJson) towards the check. */
  countValidated(): void;
}

/**
 * Installs, in the calling test file, beforeEach/afterEach hooks asserting that every
 * response seen by the harness' clients was valid and that at least one was validated.
 */
export function sdkHarness(opts: SdkHarnessOptions = {}): SdkHarness {
  const baseUrl = inject("baseUrl");
  const logger = quietLogger(...(opts.ignoredErrors ?? []));
  const counts = opts.counts ?? (() => true);
  let problems: string[] = [];
  let validated = 0;
  const clients: MatrixClient[] = [];

  const validatingFetch: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    const method = (init?.method ?? (input instanceof Request ? input.method : "GET")).toUpperCase();
    try {
      const text = await res.clone().text();
      validateResponse(method, findTemplate(method, url.pathname), res.status, text ? JSON.parse(text) : null);
      if (counts(method, url.pathname)) validated++;
    } catch (e) {
      problems.push(`${method} ${url.pathname}: ${(e as Error).message}`);
    }
    return res;
  };

  beforeEach(() => {
    problems = [];
    validated = 0;
  });
  afterEach(() => {
    if (opts.stopClients) for (const c of clients.splice(0)) c.stopClient();
    expect(problems).toEqual([]);
    expect(validated).toBeGreaterThan(0);
  });

  function client({ validating = true, ...rest }: ClientOptions = {}): MatrixClient {
    return validating ? createClient({ baseUrl, fetchFn: validatingFetch, logger, ...rest }) : createClient({ baseUrl, logger, ...rest });
  }

  let n = 0;
  async function register(tag: string, displayName?: string, server?: { baseUrl: string }): Promise<{ userId: string; client: MatrixClient }> {
    const anon = client(server);
    const username = `${tag}${Date.now().toString(36)}${++n}`;
    let session: string | undefined;
    try {
      await anon.registerRequest({ username, password: PASSWORD });
    } catch (e) {
      if (e instanceof MatrixError && e.httpStatus === 401) session = e.data.session as string;
      else throw e;
    }
    const res = await anon.registerRequest({ username, password: PASSWORD, auth: { type: "m.login.dummy", session } });
    const c = client({ ...server, accessToken: res.access_token!, userId: res.user_id, deviceId: res.device_id });
    if (opts.stopClients) clients.push(c);
    if (displayName !== undefined) await c.setDisplayName(displayName);
    return { userId: res.user_id, client: c };
  }

  return { logger, client, register, countValidated: () => void validated++ };
}
