// The real server (npm start) over HTTP: discovery, server keys, and the error
// contract, with every body checked against the spec's OpenAPI.
import { describe, expect, inject, it } from "vitest";
import { verifyJsonSignature } from "../../lib/signing.ts";
import type { JsonObject } from "../../lib/json.ts";
import { specJson, validateErrorBody, validateResponse } from "./openapi.ts";

const base = inject("baseUrl");
const serverName = inject("serverName");

async function get(path: string, init: RequestInit = {}) {
  return fetch(base + path, init);
}

async function registerDummy(): Promise<string> {
  const username = `disc${Date.now()}${Math.floor(Math.random() * 1e6)}`;
  const body = { username, password: "a fine long password", auth: { type: "m.login.dummy" } };
  const res = await fetch(`${base}/_matrix/client/v3/register`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = await specJson<{ access_token: string }>(res, "POST", "/_matrix/client/v3/register");
  expect(res.status).toBe(200);
  return json.access_token;
}

describe("[e2e: discovery]", () => {
  it("[cs: versions] GET /_matrix/client/versions matches the spec and promises nothing untrue", async () => {
    const res = await get("/_matrix/client/versions");
    expect(res.status).toBe(200);
    const body = await specJson(res, "GET", "/_matrix/client/versions");
    expect(body.versions).toEqual(Array.from({ length: 19 }, (_, i) => `v1.${i + 1}`));
    expect(body.unstable_features).toEqual({ "org.matrix.simplified_msc3575": true });
  });

  it("[cs: well-known] /.well-known/matrix/client points at the server itself", async () => {
    const res = await get("/.well-known/matrix/client");
    const body = await specJson<{ "m.homeserver": { base_url: string } }>(res, "GET", "/.well-known/matrix/client");
    expect(res.status).toBe(200);
    expect(body["m.homeserver"].base_url).toBe(base);
    // A client following it reaches a working server.
    expect((await fetch(`${body["m.homeserver"].base_url}/_matrix/client/versions`)).status).toBe(200);
  });

  it("[ss: well-known] /.well-known/matrix/server names host:port", async () => {
    const res = await get("/.well-known/matrix/server");
    const body = await specJson<{ "m.server": string }>(res, "GET", "/.well-known/matrix/server", "server-server");
    expect(body["m.server"]).toBe(new URL(base).host);
  });

  it("[cs: capabilities] capabilities for a registered user match the spec", async () => {
    const token = await registerDummy();
    const res = await get("/_matrix/client/v3/capabilities", { headers: { Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const body = await specJson<{ capabilities: Record<string, JsonObject> }>(res, "GET", "/_matrix/client/v3/capabilities");
    expect(body.capabilities["m.room_versions"]?.["default"]).toBe("12");
  });
});

describe("[e2e: keys]", () => {
  it("[ss: keys] GET /_matrix/key/v2/server is a signed, spec-shaped key document", async () => {
    const res = await get("/_matrix/key/v2/server");
    expect(res.status).toBe(200);
    const body = await specJson<JsonObject>(res, "GET", "/_matrix/key/v2/server", "server-server");
    expect(body["server_name"]).toBe(serverName);
    const verify = body["verify_keys"] as Record<string, { key: string }>;
    const ids = Object.keys(verify);
    expect(ids).toHaveLength(1);
    expect(await verifyJsonSignature(body, serverName, ids[0]!, verify[ids[0]!]!.key)).toBe(true);
  });
});

describe("[e2e: errors] every error is a spec error body with the right status", () => {
  const cases: Array<{ name: string; method: string; path: string; init?: RequestInit; status: number; errcode: string }> = [
    { name: "unknown endpoint", method: "GET", path: "/_matrix/client/v3/no/such/thing", status: 404, errcode: "M_UNRECOGNIZED" },
    { name: "wrong method", method: "DELETE", path: "/_matrix/client/versions", status: 405, errcode: "M_UNRECOGNIZED" },
    { name: "missing token", method: "GET", path: "/_matrix/client/v3/capabilities", status: 401, errcode: "M_MISSING_TOKEN" },
    {
      name: "invalid token",
      method: "GET",
      path: "/_matrix/client/v3/capabilities",
      init: { headers: { Authorization: "Bearer syt_bm9ib2R5_AAAAAAAAAAAAAAAAAAAA_000000" } },
      status: 401,
      errcode: "M_UNKNOWN_TOKEN",
    },
    {
      name: "malformed JSON",
      method: "POST",
      path: "/_matrix/client/v3/login",
      init: { body: '{"type": "m.login.password",', headers: { "Content-Type": "application/json" } },
      status: 400,
      errcode: "M_NOT_JSON",
    },
    {
      name: "JSON that is not an object",
      method: "POST",
      path: "/_matrix/client/v3/login",
      init: { body: '["m.login.password"]', headers: { "Content-Type": "application/json" } },
      status: 400,
      errcode: "M_BAD_JSON",
    },
    {
      name: "body over MAX_REQUEST_BYTES (1 MiB)",
      method: "POST",
      path: "/_matrix/client/v3/login",
      init: { body: JSON.stringify({ type: "m.login.password", pad: "x".repeat(1024 * 1024) }) },
      status: 413,
      errcode: "M_TOO_LARGE",
    },
  ];
  for (const c of cases) {
    it(`[cs: ${c.errcode}] ${c.name}: ${c.status}`, async () => {
      const res = await fetch(base + c.path, { method: c.method, ...c.init });
      expect(res.status).toBe(c.status);
      expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
      const body = (await res.json()) as JsonObject;
      expect(body["errcode"]).toBe(c.errcode);
      expect(typeof body["error"]).toBe("string");
      expect(JSON.stringify(body)).not.toMatch(/at .*\.ts:\d+/);
      if (c.status === 404 || c.status === 405) validateErrorBody(body);
      else validateResponse(c.method, c.path, res.status, body);
    });
  }

  it("[cs: M_UNKNOWN_TOKEN] soft_logout is present and false for a token that never existed", async () => {
    const res = await get("/_matrix/client/v3/capabilities", { headers: { Authorization: "Bearer not-a-token" } });
    expect(await res.json()).toMatchObject({ errcode: "M_UNKNOWN_TOKEN", soft_logout: false });
  });

  it("[cs: cors] OPTIONS preflight from a browser", async () => {
    const res = await fetch(`${base}/_matrix/client/v3/login`, {
      method: "OPTIONS",
      headers: { Origin: "https://app.example", "Access-Control-Request-Method": "POST" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(res.headers.get("Access-Control-Allow-Methods")).toBe("GET, POST, PUT, DELETE, OPTIONS");
    expect(res.headers.get("Access-Control-Allow-Headers")).toBe("X-Requested-With, Content-Type, Authorization");
  });
});
