// The edge Worker through its real fetch handler (SELF): routing, CORS, errors, auth, discovery.
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { mintToken } from "../../lib/access-token.ts";
import type { JsonObject } from "../../lib/json.ts";
import { verifyJsonSignature } from "../../lib/signing.ts";
import { userActor } from "../../party/stubs.ts";

const BASE = "http://127.0.0.1:8787";
const SERVER_NAME = "localhost:8787";

async function call(path: string, init: RequestInit = {}) {
  const res = await SELF.fetch(BASE + path, init);
  const text = await res.text();
  return { res, status: res.status, body: text ? (JSON.parse(text) as JsonObject) : null, text };
}

function expectCors(res: Response) {
  expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
  expect(res.headers.get("Access-Control-Allow-Methods")).toBe("GET, POST, PUT, DELETE, OPTIONS");
  expect(res.headers.get("Access-Control-Allow-Headers")).toBe("X-Requested-With, Content-Type, Authorization");
}

let userCount = 0;
async function newSession() {
  const userId = `@edge${++userCount}_${Date.now()}:${SERVER_NAME}`;
  const s = await userActor(env, userId).adminRegister({ password: "correct horse battery", admin: false });
  return s;
}

describe("[cs: cors] web browser clients", () => {
  it("[cs: cors] OPTIONS preflight answers 204 with the spec's headers on any path", async () => {
    for (const path of ["/_matrix/client/v3/login", "/_matrix/client/v3/no/such/endpoint"]) {
      const res = await SELF.fetch(BASE + path, { method: "OPTIONS", headers: { Origin: "https://app.example" } });
      expect(res.status).toBe(204);
      expectCors(res);
    }
  });

  it("[cs: cors] CORS headers are on successful and error responses", async () => {
    expectCors((await call("/_matrix/client/versions")).res);
    expectCors((await call("/_matrix/client/v3/nope")).res);
    expectCors((await call("/_matrix/client/v3/capabilities")).res);
  });
});

describe("[cs: errors] routing errors", () => {
  it("[cs: M_UNRECOGNIZED] an unknown endpoint is 404 M_UNRECOGNIZED", async () => {
    for (const path of ["/", "/_matrix/client/v3/nope", "/_matrix/client/versions/extra", "/_matrix/client/v3/capabilities/"]) {
      const { status, body, res } = await call(path);
      expect(status, path).toBe(404);
      expect(body?.["errcode"]).toBe("M_UNRECOGNIZED");
      expect(res.headers.get("Content-Type")).toBe("application/json");
    }
  });

  it("[cs: M_UNRECOGNIZED] a known endpoint with the wrong method is 405 M_UNRECOGNIZED", async () => {
    for (const [method, path] of [
      ["POST", "/_matrix/client/versions"],
      ["PUT", "/_matrix/client/v3/capabilities"],
      ["DELETE", "/.well-known/matrix/client"],
      ["POST", "/_matrix/key/v2/server"],
    ] as const) {
      const { status, body } = await call(path, { method, body: method === "DELETE" ? undefined : "{}" });
      expect(status, `${method} ${path}`).toBe(405);
      expect(body?.["errcode"]).toBe("M_UNRECOGNIZED");
    }
  });
});

describe("[cs: api-standards] request bodies through the Worker", () => {
  const LOGIN = "/_matrix/client/v3/login";
  const cases: Array<[string, BodyInit, number, string]> = [
    ["malformed JSON", '{"type": "m.login.password"', 400, "M_NOT_JSON"],
    ["trailing garbage", '{"type": "m.login.password"} x', 400, "M_NOT_JSON"],
    ["duplicate keys", '{"type": "a", "type": "b"}', 400, "M_NOT_JSON"],
    ["JSON array instead of an object", '["m.login.password"]', 400, "M_BAD_JSON"],
    ["JSON string instead of an object", '"m.login.password"', 400, "M_BAD_JSON"],
    ["empty body", "", 400, "M_NOT_JSON"],
    ["body over MAX_REQUEST_BYTES (1 MiB)", JSON.stringify({ pad: "x".repeat(1024 * 1024) }), 413, "M_TOO_LARGE"],
  ];
  for (const [name, body, status, errcode] of cases) {
    it(`[cs: ${errcode}] ${name} is ${status} ${errcode}`, async () => {
      const r = await call(LOGIN, { method: "POST", body, headers: { "Content-Type": "application/json" } });
      expect(r.status).toBe(status);
      expect(r.body?.["errcode"]).toBe(errcode);
      expectCors(r.res);
    });
  }

  it("[cs: M_TOO_LARGE] a chunked body (no Content-Length) over the limit is 413", async () => {
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent > 2 * 1024 * 1024) return c.close();
        sent += 64 * 1024;
        c.enqueue(new TextEncoder().encode("x".repeat(64 * 1024)));
      },
    });
    const r = await call(LOGIN, { method: "POST", body });
    expect(r.status).toBe(413);
    expect(r.body?.["errcode"]).toBe("M_TOO_LARGE");
  });
});

describe("[cs: auth] access tokens", () => {
  it("[cs: M_MISSING_TOKEN] no token is 401 M_MISSING_TOKEN", async () => {
    const { status, body } = await call("/_matrix/client/v3/capabilities");
    expect(status).toBe(401);
    expect(body?.["errcode"]).toBe("M_MISSING_TOKEN");
  });

  it("[cs: M_MISSING_TOKEN] an Authorization header that is not Bearer is 401 M_MISSING_TOKEN", async () => {
    const { status, body } = await call("/_matrix/client/v3/capabilities", { headers: { Authorization: "Basic Zm9vOmJhcg==" } });
    expect(status).toBe(401);
    expect(body?.["errcode"]).toBe("M_MISSING_TOKEN");
  });

  it("[cs: M_UNKNOWN_TOKEN] a malformed token is 401 M_UNKNOWN_TOKEN, soft_logout false", async () => {
    for (const token of ["garbage", "syt_YWxpY2U_xxxxxxxxxxxxxxxxxxxx_000000", "x".repeat(5000)]) {
      const { status, body } = await call("/_matrix/client/v3/capabilities", { headers: { Authorization: `Bearer ${token}` } });
      expect(status).toBe(401);
      expect(body).toMatchObject({ errcode: "M_UNKNOWN_TOKEN", soft_logout: false });
    }
  });

  it("[cs: M_UNKNOWN_TOKEN] a well-formed token the user's actor never issued is 401 M_UNKNOWN_TOKEN", async () => {
    // Reaches the User actor over RPC: the actor's MatrixError must arrive intact, not as a 500.
    const { status, body } = await call("/_matrix/client/v3/capabilities", {
      headers: { Authorization: `Bearer ${mintToken("access", "nobody")}` },
    });
    expect(status).toBe(401);
    expect(body).toMatchObject({ errcode: "M_UNKNOWN_TOKEN", soft_logout: false });
  });

  it("[cs: M_UNKNOWN_TOKEN] a refresh token is not accepted as an access token", async () => {
    const { status, body } = await call("/_matrix/client/v3/capabilities", {
      headers: { Authorization: `Bearer ${mintToken("refresh", "nobody")}` },
    });
    expect(status).toBe(401);
    expect(body?.["errcode"]).toBe("M_UNKNOWN_TOKEN");
  });

  it("[cs: auth] a valid token works in the header and in the deprecated access_token query parameter", async () => {
    const s = await newSession();
    const viaHeader = await call("/_matrix/client/v3/capabilities", { headers: { Authorization: `Bearer ${s.access_token}` } });
    expect(viaHeader.status).toBe(200);
    const viaQuery = await call(`/_matrix/client/v3/capabilities?access_token=${encodeURIComponent(s.access_token)}`);
    expect(viaQuery.status).toBe(200);
  });
});

describe("[cs: discovery] versions, well-known, capabilities", () => {
  it("[cs: versions] advertises v1.1 to v1.19 (every client-server operation served) and simplified sliding sync", async () => {
    const { status, body } = await call("/_matrix/client/versions");
    expect(status).toBe(200);
    expect(body).toEqual({
      versions: ["v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10", "v1.11", "v1.12", "v1.13", "v1.14", "v1.15", "v1.16", "v1.17", "v1.18", "v1.19"],
      unstable_features: { "org.matrix.simplified_msc3575": true },
    });
  });

  it("[cs: well-known] /.well-known/matrix/client names PUBLIC_BASEURL", async () => {
    const { status, body } = await call("/.well-known/matrix/client");
    expect(status).toBe(200);
    expect(body).toEqual({ "m.homeserver": { base_url: "http://127.0.0.1:8787" } });
  });

  it("[ss: well-known] /.well-known/matrix/server delegates to host:port", async () => {
    const { status, body } = await call("/.well-known/matrix/server");
    expect(status).toBe(200);
    expect(body).toEqual({ "m.server": "127.0.0.1:8787" });
  });

  it("[cs: capabilities] room versions come from lib, default 12", async () => {
    const s = await newSession();
    const { status, body } = await call("/_matrix/client/v3/capabilities", { headers: { Authorization: `Bearer ${s.access_token}` } });
    expect(status).toBe(200);
    const caps = body!["capabilities"] as Record<string, JsonObject>;
    expect(caps["m.room_versions"]).toEqual({
      default: "12",
      available: Object.fromEntries(["2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"].map((v) => [v, "stable"])),
    });
    expect(caps["m.3pid_changes"]).toEqual({ enabled: false });
    // Each is true because its endpoint works (tests/workers/account-endpoints.test.ts).
    for (const k of ["m.change_password", "m.set_displayname", "m.set_avatar_url", "m.get_login_token"]) {
      expect(caps[k], k).toEqual({ enabled: true });
    }
  });

  it("[cs: versions] HEAD is answered like GET, without a body", async () => {
    const res = await SELF.fetch(BASE + "/_matrix/client/versions", { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("");
  });
});

describe("[ss: keys] GET /_matrix/key/v2/server", () => {
  it("[ss: keys] the response is signed by the server's current key", async () => {
    const { status, body } = await call("/_matrix/key/v2/server");
    expect(status).toBe(200);
    expect(body!["server_name"]).toBe(SERVER_NAME);
    const verify = body!["verify_keys"] as Record<string, { key: string }>;
    const [keyId] = Object.keys(verify);
    expect(keyId).toMatch(/^ed25519:/);
    expect(await verifyJsonSignature(body!, SERVER_NAME, keyId!, verify[keyId!]!.key)).toBe(true);
    expect(body!["valid_until_ts"]).toBeGreaterThan(Date.now());
    // Stable across requests: the key is persisted, not regenerated.
    const again = await call("/_matrix/key/v2/server");
    expect(Object.keys(again.body!["verify_keys"] as JsonObject)).toEqual([keyId]);
  });
});
