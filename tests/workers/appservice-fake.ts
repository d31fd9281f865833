// A fake appservice for workers tests: outbound fetches to *.as.test are answered here
// (the actors run in the test's isolate, so stubbing globalThis.fetch reaches them).
import { vi } from "vitest";
import type { JsonObject } from "../../lib/json.ts";

export interface SeenRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  auth: string | null;
  body: JsonObject | null;
}

export type Behaviour = "ok" | "500" | "down";

export class FakeAppservice {
  requests: SeenRequest[] = [];
  /** Transactions as received, including retries. */
  transactions: Array<{ txnId: string; body: JsonObject }> = [];
  /** Events of distinct txnIds only (what an appservice that deduplicates by txnId processes). */
  processed: JsonObject[] = [];
  /** `ephemeral` and `to_device` items of distinct txnIds. */
  ephemeral: JsonObject[] = [];
  toDevice: JsonObject[] = [];
  readonly #seenTxn = new Set<string>();
  behaviour: Behaviour = "ok";
  /** When set, the appservice processes the transaction but the answer is lost (500). */
  loseAnswers = 0;
  handlers = new Map<string, (req: SeenRequest) => Response | Promise<Response>>();

  constructor(readonly host: string) {}

  async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const text = await request.text();
    const seen: SeenRequest = {
      method: request.method,
      path: url.pathname,
      query: url.searchParams,
      auth: request.headers.get("Authorization"),
      body: text ? (JSON.parse(text) as JsonObject) : null,
    };
    this.requests.push(seen);
    if (this.behaviour === "down") throw new TypeError("connect ECONNREFUSED (fake appservice down)");
    const m = /\/_matrix\/app\/v1\/transactions\/([^/]+)$/.exec(url.pathname);
    if (m && request.method === "PUT") this.transactions.push({ txnId: decodeURIComponent(m[1]!), body: seen.body! });
    if (this.behaviour === "500") return new Response('{"errcode":"M_UNKNOWN"}', { status: 500 });
    if (m && request.method === "PUT") {
      const txnId = decodeURIComponent(m[1]!);
      if (!this.#seenTxn.has(txnId)) {
        this.#seenTxn.add(txnId);
        this.processed.push(...((seen.body!.events as JsonObject[]) ?? []));
        this.ephemeral.push(...((seen.body!.ephemeral as JsonObject[]) ?? []));
        this.toDevice.push(...((seen.body!.to_device as JsonObject[]) ?? []));
      }
      if (this.loseAnswers > 0) {
        this.loseAnswers--;
        return new Response("lost", { status: 502 });
      }
      return Response.json({});
    }
    for (const [prefix, h] of this.handlers) if (url.pathname.startsWith(prefix)) return h(seen);
    return Response.json({ errcode: "M_NOT_FOUND" }, { status: 404 });
  }
}

const original = globalThis.fetch;
const fakes = new Map<string, FakeAppservice>();

/** Routes fetches to `http://<host>/…` to a fresh fake appservice. */
export function fakeAppservice(host: string): FakeAppservice {
  const fake = new FakeAppservice(host);
  fakes.set(host, fake);
  if (!vi.isMockFunction(globalThis.fetch)) {
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = new Request(input, init);
      const f = fakes.get(new URL(request.url).host);
      return f ? f.handle(request) : original(request);
    });
  }
  return fake;
}

export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
