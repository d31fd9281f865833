/**
 * Response validation against the Matrix spec's own OpenAPI documents
 * (../shared/spec/bundled/*.json, every $ref already resolved).
 *
 * Look the operation up by method + path template (or a concrete path), take
 * the response schema for the status, and validate the body with JSON Schema
 * draft 2020-12 (the spec's dialect). A status the spec does not document for
 * the operation is a failure, except errors (4xx/5xx), which must then have the
 * standard error shape (https://spec.matrix.org/v1.19/client-server-api/#standard-error-response).
 */
import { readFileSync } from "node:fs";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import {
  isValidEventId,
  isValidRoomAlias,
  isValidRoomId,
  isValidServerName,
  isValidUserId,
} from "../../lib/identifiers.ts";

export type Api = "client-server" | "server-server";

interface Operation {
  responses?: Record<string, { content?: Record<string, { schema?: object }> }>;
}
interface OpenApiDoc {
  paths: Record<string, Record<string, Operation>>;
}

const SPEC_DIR = new URL("../../../shared/spec/bundled/", import.meta.url);
const docs = new Map<Api, OpenApiDoc>();

function doc(api: Api): OpenApiDoc {
  let d = docs.get(api);
  if (!d) {
    d = JSON.parse(readFileSync(new URL(`${api}-api.json`, SPEC_DIR), "utf8")) as OpenApiDoc;
    docs.set(api, d);
  }
  return d;
}

const ajv = new Ajv2020({ allErrors: true, strict: false });
// The spec's formats, checked for real (a format that always passes would hide bugs).
ajv.addFormat("mx-user-id", isValidUserId);
ajv.addFormat("mx-room-id", (s: string) => isValidRoomId(s));
ajv.addFormat("mx-event-id", (s: string) => isValidEventId(s));
ajv.addFormat("mx-room-alias", isValidRoomAlias);
ajv.addFormat("mx-server-name", isValidServerName);
ajv.addFormat("mx-mxc-uri", /^mxc:\/\/[A-Za-z0-9.\-:[\]]+\/[A-Za-z0-9_-]+$/);
ajv.addFormat("mx-unpadded-base64", /^[A-Za-z0-9+/]*$/);
ajv.addFormat("uri", (s: string) => URL.canParse(s));
ajv.addFormat("email", /^[^\s@]+@[^\s@]+$/);
ajv.addFormat("int64", { type: "number", validate: (n: number) => Number.isSafeInteger(n) });
ajv.addFormat("float", { type: "number", validate: (n: number) => Number.isFinite(n) });

const STANDARD_ERROR = {
  type: "object",
  required: ["errcode"],
  properties: { errcode: { type: "string", pattern: "^[A-Z0-9_]+$" }, error: { type: "string" } },
};

const compiled = new Map<string, ValidateFunction>();

function validator(key: string, schema: object): ValidateFunction {
  let v = compiled.get(key);
  if (!v) {
    v = ajv.compile(schema);
    compiled.set(key, v);
  }
  return v;
}

/** The spec's path template that a concrete path falls under, e.g. `/_matrix/client/v3/profile/{userId}`. */
export function findTemplate(method: string, path: string, api: Api = "client-server"): string {
  const m = method.toLowerCase();
  const parts = path.split("?")[0]!.split("/");
  const candidates = Object.entries(doc(api).paths).filter(([template, ops]) => {
    if (!ops[m]) return false;
    const t = template.split("/");
    return t.length === parts.length && t.every((seg, i) => seg === parts[i] || /^\{[^}]+\}$/.test(seg));
  });
  if (candidates.length === 0) throw new Error(`no ${method} operation in the ${api} spec matches ${path}`);
  // Prefer the template with the most literal segments (`/devices/{id}` over `/{a}/{b}`).
  const literal = (t: string) => t.split("/").filter((s) => !s.startsWith("{")).length;
  candidates.sort((a, b) => literal(b[0]) - literal(a[0]));
  return candidates[0]![0];
}

/**
 * Throws (with the schema errors) unless `body` is what the spec says `method
 * template` answers with `status`.
 */
export function validateResponse(
  method: string,
  template: string,
  status: number,
  body: unknown,
  api: Api = "client-server",
): void {
  const op = doc(api).paths[template]?.[method.toLowerCase()];
  if (!op) throw new Error(`the ${api} spec has no operation ${method} ${template}`);
  const response = op.responses?.[String(status)];
  let schema: object | undefined;
  let key = `${api} ${method} ${template} ${status}`;
  if (response) {
    schema = response.content?.["application/json"]?.schema;
    if (!schema) {
      if (body !== null && body !== undefined && !(typeof body === "object" && Object.keys(body).length === 0)) {
        throw new Error(`${method} ${template} ${status}: the spec documents no body, got ${JSON.stringify(body)}`);
      }
      return;
    }
  } else if (status >= 400) {
    schema = STANDARD_ERROR;
    key = "standard-error";
  } else {
    throw new Error(`${method} ${template}: status ${status} is not documented in the ${api} spec`);
  }
  const validate = validator(key, schema);
  if (!validate(body)) {
    const errors = ajv.errorsText(validate.errors, { separator: "\n  " });
    throw new Error(`${method} ${template} ${status} does not match the spec:\n  ${errors}\nbody: ${JSON.stringify(body)}`);
  }
}

/**
 * For error responses where no operation applies (unknown path, wrong method):
 * the standard error shape.
 */
export function validateErrorBody(body: unknown): void {
  const validate = validator("standard-error", STANDARD_ERROR);
  if (!validate(body)) throw new Error(`not a standard error body: ${ajv.errorsText(validate.errors)}: ${JSON.stringify(body)}`);
}

/** Reads a fetch Response as JSON and validates it; returns the body. */
export async function specJson<T = Record<string, unknown>>(
  res: Response,
  method: string,
  path: string,
  api: Api = "client-server",
): Promise<T> {
  const text = await res.text();
  const body: unknown = text === "" ? null : JSON.parse(text);
  validateResponse(method, findTemplate(method, new URL(path, "http://x").pathname, api), res.status, body, api);
  return body as T;
}
