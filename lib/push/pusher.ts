/**
 * Pushers: validation of POST /pushers/set.
 * https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3pushersset
 *
 * Only `http` pushers are accepted (this server sends no email). Errcodes: a
 * missing field is M_MISSING_PARAM, a field of the wrong type M_BAD_JSON, a
 * value this server will not take (too long, unsupported kind, bad URL)
 * M_INVALID_PARAM.
 */
import { badJson, invalidParam, missingParam } from "../errors.ts";
import type { JsonObject } from "../json.ts";
import { isJsonObject } from "../json.ts";

/** A pusher as GET /pushers returns it. */
export interface Pusher {
  pushkey: string;
  kind: string;
  app_id: string;
  app_display_name: string;
  device_display_name: string;
  profile_tag?: string;
  lang: string;
  data: JsonObject;
}

export type PusherChange =
  | { remove: true; app_id: string; pushkey: string }
  | { remove: false; pusher: Pusher; append: boolean };

export const MAX_PUSHKEY_BYTES = 512;
export const MAX_APP_ID_CHARS = 64;
/** The spec fixes the path of HTTP pusher URLs (since v1.13). */
export const PUSH_GATEWAY_PATH = "/_matrix/push/v1/notify";

export interface PusherPolicy {
  /** Accept `http:` gateway URLs (the spec says HTTPS; for local test gateways only). */
  allowInsecureGateways: boolean;
}

export function parsePusherSet(body: JsonObject, policy: PusherPolicy): PusherChange {
  const missing = ["kind", "app_id", "pushkey"].filter((k) => !(k in body));
  if (body.kind !== null && body.kind !== undefined) {
    for (const k of ["app_display_name", "device_display_name", "lang", "data"]) if (!(k in body)) missing.push(k);
  }
  if (missing.length) throw missingParam(`Missing parameters: ${missing.join(", ")}`);

  const app_id = str(body, "app_id");
  const pushkey = str(body, "pushkey");
  if ([...app_id].length > MAX_APP_ID_CHARS) throw invalidParam(`'app_id' is longer than ${MAX_APP_ID_CHARS} characters`);
  if (new TextEncoder().encode(pushkey).length > MAX_PUSHKEY_BYTES) {
    throw invalidParam(`'pushkey' is longer than ${MAX_PUSHKEY_BYTES} bytes`);
  }
  if (body.kind === null) return { remove: true, app_id, pushkey };

  const kind = str(body, "kind");
  if (kind !== "http") throw invalidParam(`Pusher kind ${JSON.stringify(kind)} is not supported (only "http")`);
  if (!isJsonObject(body.data)) throw badJson("'data' must be an object");
  const data = body.data;
  checkGatewayUrl(data.url, policy);
  if (data.format !== undefined && data.format !== "event_id_only") {
    throw invalidParam("'data.format' must be \"event_id_only\" when present");
  }
  if (body.append !== undefined && typeof body.append !== "boolean") throw badJson("'append' must be a boolean");

  const pusher: Pusher = {
    pushkey,
    kind,
    app_id,
    app_display_name: str(body, "app_display_name"),
    device_display_name: str(body, "device_display_name"),
    lang: str(body, "lang"),
    data,
  };
  if (body.profile_tag !== undefined) pusher.profile_tag = str(body, "profile_tag");
  return { remove: false, pusher, append: body.append === true };
}

function str(body: JsonObject, key: string): string {
  const v = body[key];
  if (typeof v !== "string") throw badJson(`'${key}' must be a string`);
  return v;
}

function checkGatewayUrl(url: unknown, policy: PusherPolicy): void {
  if (url === undefined) throw missingParam("'data.url' is required for http pushers");
  if (typeof url !== "string") throw badJson("'data.url' must be a string");
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidParam("'data.url' is not an absolute URL");
  }
  const schemeOk = parsed.protocol === "https:" || (parsed.protocol === "http:" && policy.allowInsecureGateways);
  if (!schemeOk) throw invalidParam("'data.url' must be an https URL");
  if (parsed.pathname !== PUSH_GATEWAY_PATH) throw invalidParam(`'data.url' must have the path ${PUSH_GATEWAY_PATH}`);
}
