// Request bodies, error responses and the router, exercised directly inside workerd.
import { describe, expect, it } from "vitest";
import { MatrixError } from "../../lib/errors.ts";
import { errorResponse, readJsonObject } from "../../party/edge/http.ts";
import { Router } from "../../party/edge/router.ts";
import type { Env } from "../../party/env.ts";

const LIMIT = { maxBytes: 1024 };

function post(body: BodyInit | null, headers: Record<string, string> = {}) {
  return new Request("http://x/", { method: "POST", body, headers });
}

async function errcodeOf(p: Promise<unknown>): Promise<[number, string]> {
  try {
    await p;
  } catch (e) {
    if (e instanceof MatrixError) return [e.status, e.errcode];
    throw e;
  }
  throw new Error("expected a MatrixError");
}

/** A body stream with no Content-Length, as a chunked upload arrives. */
function stream(chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    pull(c) {
      const next = chunks.shift();
      if (next === undefined) c.close();
      else c.enqueue(enc.encode(next));
    },
  });
}

describe("[cs: api-standards] JSON request bodies", () => {
  it("[cs: M_NOT_JSON] malformed JSON", async () => {
    for (const text of ["{", "{'a': 1}", '{"a": 1,}', "nul", "{} {}", "\u0000"]) {
      expect(await errcodeOf(readJsonObject(post(text), LIMIT)), text).toEqual([400, "M_NOT_JSON"]);
    }
  });

  it("[cs: M_NOT_JSON] an empty body where an object is required", async () => {
    expect(await errcodeOf(readJsonObject(post(null), LIMIT))).toEqual([400, "M_NOT_JSON"]);
    expect(await errcodeOf(readJsonObject(post(""), LIMIT))).toEqual([400, "M_NOT_JSON"]);
  });

  it("[cs: M_NOT_JSON] invalid UTF-8 and duplicate keys are not JSON we accept", async () => {
    expect(await errcodeOf(readJsonObject(post(new Uint8Array([0x7b, 0xff, 0x7d])), LIMIT))).toEqual([400, "M_NOT_JSON"]);
    expect(await errcodeOf(readJsonObject(post('{"a":1,"a":2}'), LIMIT))).toEqual([400, "M_NOT_JSON"]);
    expect(await errcodeOf(readJsonObject(post('{"a":"\\ud800"}'), LIMIT))).toEqual([400, "M_NOT_JSON"]);
  });

  it("[cs: M_BAD_JSON] valid JSON that is not an object", async () => {
    for (const text of ["[]", "[{}]", '"text"', "1", "null", "true"]) {
      expect(await errcodeOf(readJsonObject(post(text), LIMIT)), text).toEqual([400, "M_BAD_JSON"]);
    }
  });

  it("[cs: M_NOT_JSON] nesting deeper than 100 levels", async () => {
    const deep = '{"a":'.repeat(101) + "1" + "}".repeat(101);
    expect(await errcodeOf(readJsonObject(post(deep), { maxBytes: 1 << 20 }))).toEqual([400, "M_NOT_JSON"]);
  });

  it("[cs: M_TOO_LARGE] a declared Content-Length over the limit is refused before reading", async () => {
    const req = new Request("http://x/", { method: "POST", body: stream(["{}"]), headers: { "Content-Length": "1025" } });
    expect(await errcodeOf(readJsonObject(req, LIMIT))).toEqual([413, "M_TOO_LARGE"]);
    expect(req.bodyUsed).toBe(false);
  });

  it("[cs: M_TOO_LARGE] a chunked body that grows over the limit", async () => {
    const chunks = ['{"a":"', "x".repeat(600), "x".repeat(600), '"}'];
    expect(await errcodeOf(readJsonObject(post(stream(chunks)), LIMIT))).toEqual([413, "M_TOO_LARGE"]);
  });

  it("[cs: api-standards] a body exactly at the limit is accepted; __proto__ stays a plain key", async () => {
    const filler = "x".repeat(1024 - '{"__proto__":{"p":1},"f":""}'.length);
    const text = `{"__proto__":{"p":1},"f":"${filler}"}`;
    expect(new TextEncoder().encode(text).length).toBe(1024);
    const obj = await readJsonObject(post(text), LIMIT);
    expect(Object.getPrototypeOf(obj)).toBe(Object.prototype);
    expect(Object.keys(obj)).toEqual(["__proto__", "f"]);
    expect(({} as Record<string, unknown>)["p"]).toBeUndefined();
  });
});

describe("[cs: errors] one place turns errors into responses", () => {
  it("[cs: errors] a MatrixError keeps its errcode, status and extra fields", async () => {
    const res = errorResponse(new MatrixError("M_UNKNOWN_TOKEN", 401, "gone", { soft_logout: true }));
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ errcode: "M_UNKNOWN_TOKEN", error: "gone", soft_logout: true });
  });

  it("[cs: M_LIMIT_EXCEEDED] carries retry_after_ms and a Retry-After header in seconds", async () => {
    const res = errorResponse(new MatrixError("M_LIMIT_EXCEEDED", 429, "slow down", { retry_after_ms: 2500 }));
    expect(res.status).toBe(429);
    expect(res.headers.get("Retry-After")).toBe("3");
    expect(await res.json()).toEqual({ errcode: "M_LIMIT_EXCEEDED", error: "slow down", retry_after_ms: 2500 });
  });

  it("[cs: errors] any other error is 500 M_UNKNOWN with a generic message and no stack", async () => {
    const res = errorResponse(new TypeError("secret internal detail at /srv/x.ts:12"));
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ errcode: "M_UNKNOWN", error: "Internal server error" });
    expect(text).not.toContain("secret");
  });
});

describe("[edge: router] method + path patterns", () => {
  const hit = (name: string) => () => new Response(name);
  const r = new Router()
    .get("/a/{x}/b", hit("get-b"))
    .put("/a/{x}/b", hit("put-b"))
    .get("/a/{x}/{y}", hit("get-xy"))
    .get("/rooms/{roomId}/state/{type}/{stateKey}", hit("state"));

  it("[edge: router] parameters are percent-decoded after matching; %2F stays in its segment", () => {
    const m = r.match("GET", "/rooms/!abc%3Aexample.org/state/m.room.member/%40al%2Fice%3Aex");
    expect("handler" in m && m.params).toEqual({ roomId: "!abc:example.org", type: "m.room.member", stateKey: "@al/ice:ex" });
  });

  it("[edge: router] first registered pattern wins; wrong method is 405; unknown is 404", () => {
    const m = r.match("GET", "/a/1/b");
    expect("handler" in m && m.params).toEqual({ x: "1" });
    expect(r.match("POST", "/a/1/b")).toEqual({ status: 405 });
    expect(r.match("GET", "/a/1")).toEqual({ status: 404 });
    expect(r.match("GET", "/a//b")).toEqual({ status: 404 });
  });

  it("[edge: router] an empty state key segment does not match a parameter", () => {
    // Routes that allow an empty state key register the shorter path separately.
    expect(r.match("GET", "/rooms/!r/state/m.room.name/")).toEqual({ status: 404 });
  });

  it("[edge: router] malformed percent-encoding is 400 M_INVALID_PARAM", async () => {
    const res = await r.handle(new Request("http://x/a/%E0%A4%A/b"), {} as Env, {
      waitUntil() {},
      passThroughOnException() {},
      props: {},
    } as unknown as ExecutionContext);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ errcode: "M_INVALID_PARAM" });
  });

  it("[edge: router] a duplicate route is a programming error", () => {
    expect(() => new Router().get("/x", hit("1")).get("/x", hit("2"))).toThrow(/duplicate/);
  });
});
