/**
 * Outbound HTTP to an appservice, with its hs_token as a bearer token: transactions,
 * ping, user and alias queries, third-party lookups.
 * https://spec.matrix.org/v1.19/application-service-api/#authorization
 */
import type { Registration } from "../../lib/appservice/registration.ts";

export interface AppserviceReply {
  status: number;
  text: string;
}

/** The appservice could not be reached (connection refused, DNS, reset) or did not answer in time. */
export class AppserviceUnreachable extends Error {
  override name = "AppserviceUnreachable";
  constructor(
    message: string,
    readonly timedOut: boolean,
  ) {
    super(message);
  }
}

/** Largest answer body read from an appservice; bodies beyond it are cut (they are only echoed in errors or parsed as small JSON). */
const MAX_REPLY_BYTES = 1024 * 1024;

export async function callAppservice(
  reg: Registration,
  method: "GET" | "PUT" | "POST",
  path: string,
  opts: { body?: string; query?: URLSearchParams; timeoutMs: number },
): Promise<AppserviceReply> {
  if (reg.url === null) throw new Error(`appservice ${reg.id} has no URL`);
  const qs = opts.query && [...opts.query.keys()].length > 0 ? `?${opts.query}` : "";
  const headers: Record<string, string> = { Authorization: `Bearer ${reg.hsToken}` };
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(`${reg.url}${path}${qs}`, { method, headers, body: opts.body, signal: AbortSignal.timeout(opts.timeoutMs) });
  } catch (e) {
    const timedOut = e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError");
    throw new AppserviceUnreachable(timedOut ? `no answer within ${opts.timeoutMs} ms` : String((e as Error)?.message ?? e), timedOut);
  }
  let text = "";
  try {
    const bytes = new Uint8Array(await res.arrayBuffer());
    text = new TextDecoder().decode(bytes.byteLength > MAX_REPLY_BYTES ? bytes.slice(0, MAX_REPLY_BYTES) : bytes);
  } catch {
    // The status is what matters; a body cut short is reported empty.
  }
  return { status: res.status, text };
}
