/**
 * HTTP plumbing of the edge: JSON responses, CORS, request bodies with size
 * limits, and the ONE place where errors become responses.
 * https://spec.matrix.org/v1.19/client-server-api/#api-standards
 */
import { readAtMost } from "../../lib/read-limited.ts";
import { MatrixError } from "../../lib/errors.ts";
import type { JsonObject, JsonValue } from "../../lib/json.ts";
import { isJsonObject } from "../../lib/json.ts";
import { JsonParseError, parseJsonStrict } from "../../lib/json-parse.ts";

/** https://spec.matrix.org/v1.19/client-server-api/#web-browser-clients */
export const CORS_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, OPTIONS",
  "Access-Control-Allow-Headers": "X-Requested-With, Content-Type, Authorization",
});

export function json(body: JsonValue, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

/** Adds the CORS headers; for responses whose headers may be immutable, copies first. */
export function withCors(response: Response): Response {
  // A WebSocket upgrade response must be passed through untouched.
  if (response.status === 101) return response;
  let r = response;
  try {
    for (const [k, v] of Object.entries(CORS_HEADERS)) r.headers.set(k, v);
  } catch {
    r = new Response(response.body, response);
    for (const [k, v] of Object.entries(CORS_HEADERS)) r.headers.set(k, v);
  }
  return r;
}

/** The answer to a CORS preflight (`OPTIONS`) for any path. */
export function preflight(): Response {
  return new Response(null, { status: 204, headers: { ...CORS_HEADERS, "Access-Control-Max-Age": "86400" } });
}

/**
 * Every error becomes a response here and nowhere else. A MatrixError keeps its
 * errcode, status and extra fields; anything else is a bug or an outage: it is
 * logged and the client gets a generic 500 M_UNKNOWN, never a stack trace.
 */
export function errorResponse(err: unknown): Response {
  const m = asMatrixError(err);
  if (m) {
    const headers: Record<string, string> = {};
    const retry = m.extra["retry_after_ms"];
    if (m.errcode === "M_LIMIT_EXCEEDED" && typeof retry === "number") {
      headers["Retry-After"] = String(Math.max(1, Math.ceil(retry / 1000)));
    }
    return json(m.toJSON() as JsonObject, m.status, headers);
  }
  console.error("unhandled error", err);
  return json({ errcode: "M_UNKNOWN", error: "Internal server error" }, 500);
}

/**
 * Errors thrown inside an actor reach the edge through Workers RPC, which keeps an
 * Error's name and message but not its class or fields. Actors therefore throw
 * MatrixError, whose `name` and message survive, and the fields travel in
 * `rpcMatrixError`'s encoding below; this turns them back into a MatrixError.
 */
export function asMatrixError(err: unknown): MatrixError | undefined {
  if (err instanceof MatrixError) return err;
  if (err instanceof Error && err.message.startsWith(RPC_MARK)) {
    try {
      const p = JSON.parse(err.message.slice(RPC_MARK.length)) as {
        errcode: MatrixError["errcode"];
        status: number;
        error: string;
        extra: Record<string, unknown>;
      };
      if (typeof p.errcode === "string" && typeof p.status === "number") {
        return new MatrixError(p.errcode, p.status, p.error, p.extra ?? {});
      }
    } catch {
      // Not ours after all: fall through to a 500.
    }
  }
  return undefined;
}

const RPC_MARK = "MatrixError:";

/**
 * Wraps an actor's RPC body so that a MatrixError it throws arrives at the edge
 * intact (see asMatrixError). Other errors pass through unchanged.
 */
export async function rpcErrors<T>(body: () => T | Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof MatrixError) {
      throw new Error(
        RPC_MARK + JSON.stringify({ errcode: e.errcode, status: e.status, error: e.message, extra: e.extra }),
      );
    }
    throw e;
  }
}

export interface BodyLimits {
  maxBytes: number;
}

/**
 * Reads a request body that must be a JSON object. Over the size limit → 413
 * M_TOO_LARGE, checked on Content-Length before reading and again while reading
 * (chunked bodies have no Content-Length). Not JSON (or not UTF-8, or empty) →
 * 400 M_NOT_JSON. Valid JSON that is not an object → 400 M_BAD_JSON.
 */
export async function readJsonObject(request: Request, limits: BodyLimits): Promise<JsonObject> {
  const value = await readJson(request, limits);
  if (!isJsonObject(value)) throw new MatrixError("M_BAD_JSON", 400, "Request body must be a JSON object");
  return value;
}

/** Like readJsonObject, for the rare endpoint whose body need not be an object. */
export async function readJson(request: Request, limits: BodyLimits): Promise<JsonValue> {
  const bytes = await readBody(request, limits);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new MatrixError("M_NOT_JSON", 400, "Request body is not valid UTF-8");
  }
  try {
    return parseJsonStrict(text, { maxBytes: limits.maxBytes });
  } catch (e) {
    if (e instanceof JsonParseError) throw new MatrixError("M_NOT_JSON", 400, `Content not JSON: ${e.message}`);
    throw e;
  }
}

/** The raw body, enforcing the byte limit without buffering more than it. */
export async function readBody(request: Request, limits: BodyLimits): Promise<Uint8Array> {
  const tooLarge = () =>
    new MatrixError("M_TOO_LARGE", 413, `Request body larger than ${limits.maxBytes} bytes`);
  const declared = request.headers.get("Content-Length");
  if (declared !== null && Number(declared) > limits.maxBytes) throw tooLarge();
  if (!request.body) return new Uint8Array(0);
  // A declared length within the limit: one native read (the runtime enforces the length).
  if (declared !== null && /^\d+$/.test(declared)) {
    const body = new Uint8Array(await request.arrayBuffer());
    if (body.byteLength > limits.maxBytes) throw tooLarge();
    return body;
  }
  return readAtMost(request.body, limits.maxBytes, tooLarge);
}
