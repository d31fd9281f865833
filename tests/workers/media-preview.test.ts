// URL previews through the edge Worker inside workerd: the pages and images are
// served by this file (globalThis.fetch is stubbed; the Worker runs in this isolate),
// the answer is read by the real HTMLRewriter and the image lands in R2.
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv1mediapreview_url
import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { PhotonImage } from "@cf-wasm/photon/workerd";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { router } from "../../party/edge/index.ts";
import { ConfigError, parseConfig } from "../../party/env.ts";

const BASE = "http://127.0.0.1:8787";
const SERVER_NAME = "localhost:8787";
const V1 = "/_matrix/client/v1/media/preview_url";
const LEGACY = "/_matrix/media/v3/preview_url";

// ---- the remote web, served from here ----------------------------------------------------

type Site = (req: Request) => Response | Promise<Response>;
const sites = new Map<string, Site>();
/** Every URL the server fetched, in order. */
const fetched: string[] = [];

beforeAll(() => {
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    fetched.push(request.url);
    const site = sites.get(new URL(request.url).host);
    // Nothing here reaches the real network: an unknown host fails as an unreachable one would.
    if (!site) throw new TypeError(`no such test site: ${request.url}`);
    return site(request);
  });
});
afterAll(() => {
  vi.restoreAllMocks();
});

let siteN = 0;
/** A fresh host name per test, so caches and counts of one test do not leak into another. */
function site(handler: Site): string {
  const host = `site${++siteN}-${Math.floor(Math.random() * 1e9)}.example.com`;
  sites.set(host, handler);
  return host;
}
const html = (body: string, headers: Record<string, string> = {}) =>
  new Response(body, { headers: { "Content-Type": "text/html; charset=utf-8", ...headers } });
const fetchesOf = (host: string) => fetched.filter((u) => new URL(u).host === host);

function png(width: number, height: number): Uint8Array {
  const px = new Uint8Array(width * height * 4).fill(200);
  return new PhotonImage(px, width, height).get_bytes();
}

// ---- the client side ----------------------------------------------------------------------

let n = 0;
async function register(): Promise<string> {
  const username = `preview${++n}x${Math.floor(Math.random() * 1e9)}`;
  const req = { username, password: "correct horse battery" };
  const first = await (await SELF.fetch(`${BASE}/_matrix/client/v3/register`, { method: "POST", body: JSON.stringify(req) })).json<JsonObject>();
  const res = await SELF.fetch(`${BASE}/_matrix/client/v3/register`, {
    method: "POST",
    body: JSON.stringify({ ...req, auth: { type: "m.login.dummy", session: first.session } }),
  });
  const body = await res.json<JsonObject>();
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body.access_token as string;
}

let token: string;
beforeAll(async () => {
  token = await register();
});

const q = (url: string, ts?: number) => `?url=${encodeURIComponent(url)}${ts === undefined ? "" : `&ts=${ts}`}`;
const get = (url: string, ts?: number, path = V1) => SELF.fetch(`${BASE}${path}${q(url, ts)}`, { headers: { Authorization: `Bearer ${token}` } });

async function ok(res: Response): Promise<JsonObject> {
  const body = await res.json<JsonObject>();
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body;
}

async function expectError(res: Response, status: number, errcode: string): Promise<JsonObject> {
  const body = await res.json<JsonObject>();
  expect(res.status, JSON.stringify(body)).toBe(status);
  expect(body.errcode).toBe(errcode);
  return body;
}

/** The router with other settings, run to completion. */
async function withVars(vars: Record<string, string>, path: string, auth = true): Promise<Response> {
  const ctx = createExecutionContext();
  const headers: Record<string, string> = auth ? { Authorization: `Bearer ${token}` } : {};
  const res = await router.handle(new Request(`${BASE}${path}`, { headers }), { ...env, ...vars }, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

async function download(mxc: string): Promise<Response> {
  const id = mxc.slice(`mxc://${SERVER_NAME}/`.length);
  return SELF.fetch(`${BASE}/_matrix/client/v1/media/download/${SERVER_NAME}/${id}`, { headers: { Authorization: `Bearer ${token}` } });
}

// ---- tests --------------------------------------------------------------------------------

describe("[media: preview_url] OpenGraph from HTML", () => {
  it("[preview_url: og] og:title, og:description and other og: properties come from the page's meta tags", async () => {
    const host = site(() =>
      html(`<!doctype html><html><head>
        <title>Fallback title</title>
        <meta property="og:title" content="  Matrix   Blog Post ">
        <meta property="og:description" content="This is a really cool blog post">
        <meta property="og:type" content="article">
        <meta name="og:site_name" content="Matrix.org">
        <meta property="og:title" content="A second title (ignored)">
        <meta name="description" content="Fallback description">
        <meta property="twitter:card" content="summary">
        </head><body><p>text</p></body></html>`),
    );
    const og = await ok(await get(`https://${host}/blog/post`));
    expect(og).toEqual({
      "og:title": "Matrix Blog Post",
      "og:description": "This is a really cool blog post",
      "og:type": "article",
      "og:site_name": "Matrix.org",
    });
  });

  it("[preview_url: fallback] without og: tags, <title>, <meta name=description> and the first <img> answer", async () => {
    const image = png(40, 30);
    const host = site((req) => {
      const path = new URL(req.url).pathname;
      if (path === "/img/first.png") return new Response(image, { headers: { "Content-Type": "image/png" } });
      return html(`<html><head><title>
          Plain   page</title><meta name="description" content="About this page"></head>
        <body><img alt="no src"><img src="../img/first.png"><img src="/img/second.png"></body></html>`);
    });
    const og = await ok(await get(`https://${host}/a/page.html`));
    expect(og["og:title"]).toBe("Plain page");
    expect(og["og:description"]).toBe("About this page");
    expect(og["og:image"]).toMatch(new RegExp(`^mxc://${SERVER_NAME}/[A-Za-z0-9_-]{32}$`));
    expect(og["og:image:width"]).toBe(40);
    expect(og["og:image:height"]).toBe(30);
    expect(fetchesOf(host)).toEqual([`https://${host}/a/page.html`, `https://${host}/img/first.png`]);
  });

  it("[preview_url: og:image] the image is stored as mxc with type, size and dimensions, and downloads byte-identical", async () => {
    const image = png(64, 48);
    const imgHost = site(() => new Response(image, { headers: { "Content-Type": "image/png" } }));
    const host = site(() =>
      html(`<head><meta property="og:title" content="With image">
        <meta property="og:image" content="https://${imgHost}/cover.png">
        <meta property="og:image:width" content="9999"><meta property="og:image:type" content="image/lies"></head>`),
    );
    const og = await ok(await get(`https://${host}/`));
    expect(og).toEqual({
      "og:title": "With image",
      "og:image": expect.stringMatching(new RegExp(`^mxc://${SERVER_NAME}/`)),
      "og:image:type": "image/png",
      "og:image:width": 64,
      "og:image:height": 48,
      "matrix:image:size": image.length,
    });
    const res = await download(og["og:image"] as string);
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("image/png");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(image);
  });

  it("[preview_url: og:image] an image that cannot be had leaves the rest of the preview", async () => {
    const host = site((req) =>
      new URL(req.url).pathname === "/missing.png"
        ? new Response("gone", { status: 404 })
        : html(`<meta property="og:title" content="Still here"><meta property="og:image" content="/missing.png">`),
    );
    expect(await ok(await get(`https://${host}/`))).toEqual({ "og:title": "Still here" });
  });

  it("[preview_url: og:image] a private-address image is not fetched", async () => {
    const host = site(() => html(`<meta property="og:title" content="T"><meta property="og:image" content="http://169.254.169.254/latest/meta-data">`));
    expect(await ok(await get(`https://${host}/`))).toEqual({ "og:title": "T" });
    expect(fetched.some((u) => u.includes("169.254.169.254"))).toBe(false);
  });

  it("[preview_url: limits] overlong values are dropped and only the first URL_PREVIEW_MAX_TAGS properties kept", async () => {
    const tags = Array.from({ length: 8 }, (_, i) => `<meta property="og:p${i}" content="v${i}">`).join("");
    const host = site(() => html(`<meta property="og:title" content="${"x".repeat(50)}">${tags}`));
    const res = await withVars({ URL_PREVIEW_MAX_TAGS: "3", URL_PREVIEW_MAX_VALUE_LENGTH: "20" }, `${V1}${q(`https://${host}/`)}`);
    expect(await ok(res)).toEqual({ "og:p0": "v0", "og:p1": "v1", "og:p2": "v2" });
  });

  it("[preview_url: charset] the page's charset is honoured; an unknown one is not a server error", async () => {
    const latin1 = Uint8Array.from([...new TextEncoder().encode("<title>Caf"), 0xe9, ...new TextEncoder().encode("</title>")]);
    const host = site((req) =>
      new Response(latin1, { headers: { "Content-Type": new URL(req.url).pathname === "/odd" ? "text/html; charset=x-no-such" : "text/html; charset=ISO-8859-1" } }),
    );
    expect(await ok(await get(`https://${host}/latin1`))).toEqual({ "og:title": "Café" });
    // Read as UTF-8 instead (the byte that is not UTF-8 becomes U+FFFD).
    expect(await ok(await get(`https://${host}/odd`))).toEqual({ "og:title": "Caf\ufffd" });
  });

  it("[preview_url: non-HTML] an image URL gives just the image fields", async () => {
    const image = png(20, 10);
    const host = site(() => new Response(image, { headers: { "Content-Type": "image/png" } }));
    const og = await ok(await get(`https://${host}/pic.png`));
    expect(Object.keys(og).sort()).toEqual(["matrix:image:size", "og:image", "og:image:height", "og:image:type", "og:image:width"]);
    expect(og["matrix:image:size"]).toBe(image.length);
    expect(og["og:image:width"]).toBe(20);
    expect(new Uint8Array(await (await download(og["og:image"] as string)).arrayBuffer())).toEqual(image);
  });

  it("[preview_url: non-HTML] other content (a PDF) is an empty answer", async () => {
    const host = site(() => new Response("%PDF-1.4", { headers: { "Content-Type": "application/pdf" } }));
    expect(await ok(await get(`https://${host}/doc.pdf`))).toEqual({});
  });

  it("[preview_url: redirects] redirects are followed, relative images resolve against the final URL", async () => {
    const image = png(8, 8);
    const host = site((req) => {
      const path = new URL(req.url).pathname;
      if (path === "/old") return new Response(null, { status: 301, headers: { Location: "/new/" } });
      if (path === "/new/") return html(`<meta property="og:title" content="Moved"><meta property="og:image" content="i.png">`);
      if (path === "/new/i.png") return new Response(image, { headers: { "Content-Type": "image/png" } });
      return new Response("no", { status: 404 });
    });
    const og = await ok(await get(`https://${host}/old`));
    expect(og["og:title"]).toBe("Moved");
    expect(og["og:image:width"]).toBe(8);
  });
});

describe("[media: preview_url] safety", () => {
  it("[preview_url: blocked] loopback, private, link-local, unique-local IPs and local names are refused with 403, unfetched", async () => {
    const before = fetched.length;
    for (const url of [
      "http://127.0.0.1:8787/",
      "http://127.1/",
      "http://2130706433/",
      "http://10.1.2.3/",
      "http://172.20.0.1/",
      "http://192.168.1.1/",
      "http://169.254.169.254/latest/meta-data/",
      "http://[::1]/",
      "http://[fe80::1]/",
      "http://[fd00::1]/",
      "http://[::ffff:127.0.0.1]/",
      "http://0.0.0.0/",
      "http://localhost:8787/",
      "http://api.localhost/",
      "http://printer.local/",
      "http://intranet/",
    ]) {
      await expectError(await get(url), 403, "M_FORBIDDEN");
    }
    expect(fetched.length).toBe(before);
  });

  it("[preview_url: blocked] a redirect to a private address is refused", async () => {
    const host = site(() => new Response(null, { status: 302, headers: { Location: "http://10.0.0.1/admin" } }));
    await expectError(await get(`https://${host}/`), 403, "M_FORBIDDEN");
    expect(fetched.some((u) => u.includes("10.0.0.1"))).toBe(false);
  });

  it("[preview_url: settings] URL_PREVIEW_URL_BLOCKLIST (globs, ^regex) and URL_PREVIEW_IP_RANGE_BLOCKLIST refuse; the allowlist lets a range through", async () => {
    const host = site(() => html(`<title>ok</title>`));
    const blocklist = JSON.stringify([{ hostname: "*.example.com", path: "/secret*" }, { netloc: "^evil\\." }]);
    const v = { URL_PREVIEW_URL_BLOCKLIST: blocklist, URL_PREVIEW_IP_RANGE_BLOCKLIST: "8.8.8.0/24" };
    await expectError(await withVars(v, `${V1}${q(`https://${host}/secret/page`)}`), 403, "M_FORBIDDEN");
    await expectError(await withVars(v, `${V1}${q("https://evil.example.org/")}`), 403, "M_FORBIDDEN");
    await expectError(await withVars(v, `${V1}${q("http://8.8.8.8/")}`), 403, "M_FORBIDDEN");
    expect(await ok(await withVars(v, `${V1}${q(`https://${host}/public`)}`))).toEqual({ "og:title": "ok" });
    // A URL blocked after its answer was cached is refused, not answered from the cache.
    const blockNow = { URL_PREVIEW_URL_BLOCKLIST: JSON.stringify([{ path: "/public" }]) };
    await expectError(await withVars(blockNow, `${V1}${q(`https://${host}/public`)}`), 403, "M_FORBIDDEN");
    // The allowlist opens a blocked range (tests against a local server use it); local names stay refused.
    const allowed = { URL_PREVIEW_IP_RANGE_ALLOWLIST: "10.9.0.0/16" };
    sites.set("10.9.8.7", () => html(`<title>inside</title>`));
    expect(await ok(await withVars(allowed, `${V1}${q("http://10.9.8.7/")}`))).toEqual({ "og:title": "inside" });
    await expectError(await withVars(allowed, `${V1}${q("http://10.8.0.1/")}`), 403, "M_FORBIDDEN");
  });

  it("[preview_url: redirects] more than URL_PREVIEW_MAX_REDIRECTS redirects is 502", async () => {
    let hops = 0;
    const host = site(() => new Response(null, { status: 302, headers: { Location: `/hop${++hops}` } }));
    await expectError(await withVars({ URL_PREVIEW_MAX_REDIRECTS: "2" }, `${V1}${q(`https://${host}/`)}`), 502, "M_UNKNOWN");
    expect(fetchesOf(host).length).toBe(3);
  });

  it("[preview_url: upstream] a non-2xx answer and a failed connection are 502, a slow server 504", async () => {
    const notFound = site(() => new Response("nope", { status: 404 }));
    await expectError(await get(`https://${notFound}/`), 502, "M_UNKNOWN");
    const broken = site(() => {
      throw new TypeError("connection refused");
    });
    await expectError(await get(`https://${broken}/`), 502, "M_UNKNOWN");
    const slow = site(
      (req) =>
        new Promise<Response>((_, reject) => {
          req.signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
        }),
    );
    await expectError(await withVars({ URL_PREVIEW_TIMEOUT_MS: "200" }, `${V1}${q(`https://${slow}/`)}`), 504, "M_UNKNOWN");
    // A body that stalls after the headers runs into the same deadline.
    const stalls = site(
      () =>
        new Response(new ReadableStream({ start: (c) => c.enqueue(new TextEncoder().encode("<title>never ends")) }), {
          headers: { "Content-Type": "text/html" },
        }),
    );
    await expectError(await withVars({ URL_PREVIEW_TIMEOUT_MS: "200" }, `${V1}${q(`https://${stalls}/`)}`), 504, "M_UNKNOWN");
  });

  it("[preview_url: size] a page is read only up to URL_PREVIEW_MAX_PAGE_BYTES; an image over URL_PREVIEW_MAX_BYTES is 502 M_TOO_LARGE", async () => {
    let pulled = 0;
    const filler = new TextEncoder().encode(`<p>${"lorem ipsum ".repeat(80)}</p>`); // ~1 KB
    const host = site(
      () =>
        new Response(
          new ReadableStream({
            start(c) {
              c.enqueue(new TextEncoder().encode(`<head><meta property="og:title" content="Early"></head><body>`));
            },
            pull(c) {
              // An endless page: only the limit stops the reading.
              pulled++;
              if (pulled === 40) c.enqueue(new TextEncoder().encode(`<meta property="og:description" content="Late">`));
              c.enqueue(filler);
            },
          }),
          { headers: { "Content-Type": "text/html" } },
        ),
    );
    const og = await ok(await withVars({ URL_PREVIEW_MAX_PAGE_BYTES: "4096" }, `${V1}${q(`https://${host}/`)}`));
    expect(og).toEqual({ "og:title": "Early" });
    expect(pulled).toBeLessThan(20);

    const big = png(100, 100);
    const imgHost = site(() => new Response(big, { headers: { "Content-Type": "image/png" } }));
    await expectError(await withVars({ URL_PREVIEW_MAX_BYTES: String(big.length - 1) }, `${V1}${q(`https://${imgHost}/big.png`)}`), 502, "M_TOO_LARGE");
  });
});

describe("[media: preview_url] cache", () => {
  it("[preview_url: cache] a second request in the same slot is answered from the cache; concurrent ones fetch once", async () => {
    let served = 0;
    const host = site(async () => {
      served++;
      await new Promise((r) => setTimeout(r, 50));
      return html(`<title>Version ${served}</title>`);
    });
    const url = `https://${host}/`;
    const [a, b] = await Promise.all([get(url), get(url)]);
    expect(await ok(a)).toEqual({ "og:title": "Version 1" });
    expect(await ok(b)).toEqual({ "og:title": "Version 1" });
    expect(served).toBe(1);
    expect(await ok(await get(url))).toEqual({ "og:title": "Version 1" });
    // `ts` in the same slot (and an old one with nothing cached) get the cached answer too.
    expect(await ok(await get(url, Date.now() - 1000))).toEqual({ "og:title": "Version 1" });
    expect(await ok(await get(url, 1510610716656))).toEqual({ "og:title": "Version 1" });
    expect(served).toBe(1);
  });

  it("[preview_url: cache] a cached answer for an earlier slot is what a request with that ts gets", async () => {
    let served = 0;
    const host = site(() => html(`<title>Version ${++served}</title>`));
    const url = `https://${host}/`;
    expect(await ok(await get(url))).toEqual({ "og:title": "Version 1" });
    // One hour later (the default lifetime): a new slot, a new fetch.
    const now = Date.now();
    vi.spyOn(Date, "now").mockReturnValue(now + 3600_000);
    try {
      expect(await ok(await get(url))).toEqual({ "og:title": "Version 2" });
      expect(await ok(await get(url, now))).toEqual({ "og:title": "Version 1" });
    } finally {
      vi.mocked(Date.now).mockRestore();
    }
    expect(served).toBe(2);
  });
});

describe("[media: preview_url] parameters, auth and settings", () => {
  it("[preview_url: params] missing url is 400 M_MISSING_PARAM; bad url, non-http scheme, bad ts are 400 M_INVALID_PARAM", async () => {
    const auth = { headers: { Authorization: `Bearer ${token}` } };
    await expectError(await SELF.fetch(`${BASE}${V1}`, auth), 400, "M_MISSING_PARAM");
    await expectError(await SELF.fetch(`${BASE}${V1}?url=`, auth), 400, "M_MISSING_PARAM");
    await expectError(await get("not a url"), 400, "M_INVALID_PARAM");
    await expectError(await get("ftp://example.com/file"), 400, "M_INVALID_PARAM");
    await expectError(await get("file:///etc/passwd"), 400, "M_INVALID_PARAM");
    await expectError(await SELF.fetch(`${BASE}${V1}${q("https://example.com/")}&ts=yesterday`, auth), 400, "M_INVALID_PARAM");
  });

  it("[preview_url: auth] the v1 path needs an access token", async () => {
    const host = site(() => html("<title>x</title>"));
    await expectError(await SELF.fetch(`${BASE}${V1}${q(`https://${host}/`)}`), 401, "M_MISSING_TOKEN");
    await expectError(
      await SELF.fetch(`${BASE}${V1}${q(`https://${host}/`)}`, { headers: { Authorization: "Bearer nope" } }),
      401,
      "M_UNKNOWN_TOKEN",
    );
    expect(fetchesOf(host)).toEqual([]);
  });

  it("[preview_url: legacy] /_matrix/media/v3/preview_url is served authenticated, whatever LEGACY_MEDIA_ENABLED says", async () => {
    const host = site(() => html("<title>legacy</title>"));
    await expectError(await SELF.fetch(`${BASE}${LEGACY}${q(`https://${host}/`)}`), 401, "M_MISSING_TOKEN");
    expect(await ok(await get(`https://${host}/`, undefined, LEGACY))).toEqual({ "og:title": "legacy" });
    expect(await ok(await withVars({ LEGACY_MEDIA_ENABLED: "true" }, `${LEGACY}${q(`https://${host}/`)}`))).toEqual({ "og:title": "legacy" });
  });

  it("[preview_url: settings] URL_PREVIEW_ENABLED=false makes both routes absent (404 M_UNRECOGNIZED)", async () => {
    const off = { URL_PREVIEW_ENABLED: "false", LEGACY_MEDIA_ENABLED: "true" };
    await expectError(await withVars(off, `${V1}${q("https://example.com/")}`), 404, "M_UNRECOGNIZED");
    await expectError(await withVars(off, `${LEGACY}${q("https://example.com/")}`), 404, "M_UNRECOGNIZED");
  });

  it("[preview_url: settings] unreadable settings are configuration errors", () => {
    for (const bad of [
      { URL_PREVIEW_ENABLED: "maybe" },
      { URL_PREVIEW_URL_BLOCKLIST: "{not json" },
      { URL_PREVIEW_URL_BLOCKLIST: JSON.stringify({ hostname: "x" }) },
      { URL_PREVIEW_URL_BLOCKLIST: JSON.stringify([{ host: "x" }]) },
      { URL_PREVIEW_URL_BLOCKLIST: JSON.stringify([{}]) },
      { URL_PREVIEW_URL_BLOCKLIST: JSON.stringify([{ path: "^(" }]) },
      { URL_PREVIEW_IP_RANGE_BLOCKLIST: "10.0.0.0/33" },
      { URL_PREVIEW_IP_RANGE_ALLOWLIST: "localhost" },
      { URL_PREVIEW_CACHE_TTL_SECONDS: "30" },
      { URL_PREVIEW_MAX_BYTES: "0" },
      { URL_PREVIEW_MAX_PAGE_BYTES: "1.5" },
      { URL_PREVIEW_MAX_REDIRECTS: "-1" },
    ]) {
      expect(() => parseConfig(bad), JSON.stringify(bad)).toThrow(ConfigError);
    }
    expect(parseConfig({ URL_PREVIEW_ENABLED: "false" }).urlPreview).toBeNull();
    expect(parseConfig({ URL_PREVIEW_MAX_REDIRECTS: "0" }).urlPreview?.maxRedirects).toBe(0);
  });
});
