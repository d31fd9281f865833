/**
 * A small router: method + path pattern with `{param}` segments. A path that no
 * pattern matches is 404 M_UNRECOGNIZED; a path that matches under another
 * method is 405 M_UNRECOGNIZED (https://spec.matrix.org/v1.19/client-server-api/#common-error-codes).
 *
 * Matching is done on the raw (still percent-encoded) segments, and each
 * parameter is decoded afterwards, so `%2F` inside an ID or event type stays
 * inside its segment.
 */
import { MatrixError } from "../../lib/errors.ts";
import { type Config, type Env, loadConfig } from "../env.ts";
import { errorResponse, preflight, withCors } from "./http.ts";

export type Method = "GET" | "POST" | "PUT" | "DELETE";

/** What a handler gets: the request and everything derived from it once. */
export interface EdgeRequest {
  request: Request;
  url: URL;
  method: Method;
  /** Decoded path parameters, by the names in the route pattern. */
  params: Readonly<Record<string, string>>;
  env: Env;
  config: Config;
  /** The client's address as Cloudflare reports it (`CF-Connecting-IP`), for rate limits. */
  clientIp: string;
  waitUntil(promise: Promise<unknown>): void;
}

export type Handler = (req: EdgeRequest) => Response | Promise<Response>;

interface Route {
  method: Method;
  pattern: string;
  segments: string[];
  /** Per segment: the parameter's name, or null for a literal (worked out once, not per request). */
  names: Array<string | null>;
  handler: Handler;
}

type Match = { handler: Handler; params: Record<string, string> } | { status: 404 | 405 };

export class Router {
  readonly #routes: Route[] = [];
  /** The routes by segment count, in registration order: a request only tries patterns of its length. */
  readonly #byLength = new Map<number, Route[]>();

  add(method: Method, pattern: string, handler: Handler): this {
    if (!pattern.startsWith("/")) throw new Error(`route pattern must start with /: ${pattern}`);
    const segments = pattern.slice(1).split("/");
    for (const r of this.#routes) {
      if (r.method === method && r.pattern === pattern) throw new Error(`duplicate route ${method} ${pattern}`);
    }
    const names = segments.map((s) => (s.startsWith("{") && s.endsWith("}") ? s.slice(1, -1) : null));
    const route = { method, pattern, segments, names, handler };
    this.#routes.push(route);
    const same = this.#byLength.get(segments.length);
    if (same) same.push(route);
    else this.#byLength.set(segments.length, [route]);
    return this;
  }

  get(pattern: string, handler: Handler): this {
    return this.add("GET", pattern, handler);
  }
  post(pattern: string, handler: Handler): this {
    return this.add("POST", pattern, handler);
  }
  put(pattern: string, handler: Handler): this {
    return this.add("PUT", pattern, handler);
  }
  delete(pattern: string, handler: Handler): this {
    return this.add("DELETE", pattern, handler);
  }

  /** Every registered route, for tests and documentation. */
  routes(): ReadonlyArray<{ method: Method; pattern: string }> {
    return this.#routes.map(({ method, pattern }) => ({ method, pattern }));
  }

  match(method: string, pathname: string): Match {
    const parts = pathname.slice(1).split("/");
    let pathKnown = false;
    for (const route of this.#byLength.get(parts.length) ?? []) {
      const params = matchSegments(route, parts);
      if (!params) continue;
      pathKnown = true;
      // HEAD is answered as GET (the body is dropped by the runtime).
      if (route.method === method || (method === "HEAD" && route.method === "GET")) {
        return { handler: route.handler, params };
      }
    }
    return { status: pathKnown ? 405 : 404 };
  }

  /** The Worker's whole request path: CORS, routing, config, errors. */
  async handle(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    if (request.method === "OPTIONS") return preflight();
    let response: Response;
    try {
      response = await this.#dispatch(request, env, ctx);
    } catch (err) {
      response = errorResponse(err);
    }
    return withCors(response);
  }

  async #dispatch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const url = new URL(request.url);
    const found = this.match(request.method, url.pathname);
    if ("status" in found) {
      throw new MatrixError(
        "M_UNRECOGNIZED",
        found.status,
        found.status === 404 ? "Unrecognized request" : `Method ${request.method} not allowed here`,
      );
    }
    const method = (request.method === "HEAD" ? "GET" : request.method) as Method;
    return found.handler({
      request,
      url,
      method,
      params: found.params,
      env,
      config: loadConfig(env),
      clientIp: request.headers.get("CF-Connecting-IP") ?? "unknown",
      waitUntil: (p) => ctx.waitUntil(p),
    });
  }
}

function matchSegments(route: Route, parts: string[]): Record<string, string> | undefined {
  const { segments, names } = route;
  if (segments.length !== parts.length) return undefined;
  // Literal segments first: most patterns fail there, before any parameter is decoded.
  for (let i = 0; i < segments.length; i++) {
    if (names[i] === null ? segments[i] !== parts[i] : parts[i] === "") return undefined;
  }
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const name = names[i];
    if (name) params[name] = decodeParam(parts[i]!);
  }
  return params;
}

function decodeParam(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new MatrixError("M_INVALID_PARAM", 400, "Malformed percent-encoding in the request path");
  }
}
