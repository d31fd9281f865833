// Media through the edge Worker with its R2 bucket, inside workerd: uploads,
// async uploads, downloads, thumbnails (photon in workerd), limits, legacy paths.
// https://spec.matrix.org/v1.19/client-server-api/#content-repository
import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { PhotonImage } from "@cf-wasm/photon/workerd";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { imageInfo } from "../../lib/media/image-info.ts";
import { router } from "../../party/edge/index.ts";
import { createPlaceholder, fillPlaceholder, mediaState } from "../../party/media/store.ts";
import * as fx from "../lib/media/fixtures/images.ts";

const BASE = "http://127.0.0.1:8787";
const SERVER_NAME = "localhost:8787";
const V3 = "/_matrix/client/v3";
const CSP = "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; object-src 'self';";

let n = 0;
async function register(): Promise<{ token: string; userId: string }> {
  const username = `media${++n}x${Math.floor(Math.random() * 1e9)}`;
  const req = { username, password: "correct horse battery" };
  const first = await (await SELF.fetch(`${BASE}${V3}/register`, { method: "POST", body: JSON.stringify(req) })).json<JsonObject>();
  const res = await SELF.fetch(`${BASE}${V3}/register`, { method: "POST", body: JSON.stringify({ ...req, auth: { type: "m.login.dummy", session: first.session } }) });
  const body = await res.json<JsonObject>();
  expect(res.status, JSON.stringify(body)).toBe(200);
  return { token: body.access_token as string, userId: body.user_id as string };
}

function image(width: number, height: number): PhotonImage {
  const px = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) px.set([(x * 255) / width, (y * 255) / height, 90, 255], (y * width + x) * 4);
  }
  return new PhotonImage(px, width, height);
}
const png = (w: number, h: number) => image(w, h).get_bytes();
const jpeg = (w: number, h: number) => image(w, h).get_bytes_jpeg(85);

const auth = (token?: string): Record<string, string> => (token ? { Authorization: `Bearer ${token}` } : {});

async function uploadBytes(token: string, bytes: Uint8Array | string, contentType?: string, filename?: string): Promise<Response> {
  const q = filename === undefined ? "" : `?filename=${encodeURIComponent(filename)}`;
  const headers = { ...auth(token), ...(contentType ? { "Content-Type": contentType } : {}) };
  return SELF.fetch(`${BASE}/_matrix/media/v3/upload${q}`, { method: "POST", headers, body: bytes });
}

async function upload(token: string, bytes: Uint8Array | string, contentType?: string, filename?: string): Promise<string> {
  const res = await uploadBytes(token, bytes, contentType, filename);
  const body = await res.json<JsonObject>();
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body.content_uri as string;
}

const idOf = (mxc: string) => mxc.slice(`mxc://${SERVER_NAME}/`.length);
const dl = (mxc: string, token?: string, suffix = "") =>
  SELF.fetch(`${BASE}/_matrix/client/v1/media/download/${SERVER_NAME}/${idOf(mxc)}${suffix}`, { headers: auth(token) });
const thumb = (mxc: string, query: string, token?: string) =>
  SELF.fetch(`${BASE}/_matrix/client/v1/media/thumbnail/${SERVER_NAME}/${idOf(mxc)}?${query}`, { headers: auth(token) });

/** The router with other settings (limits, legacy media), run to completion. */
async function withVars(vars: Record<string, string>, req: Request): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await router.handle(req, { ...env, ...vars }, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

async function expectError(res: Response, status: number, errcode: string): Promise<JsonObject> {
  const body = await res.json<JsonObject>();
  expect(res.status, JSON.stringify(body)).toBe(status);
  expect(body.errcode).toBe(errcode);
  return body;
}

const bytesOf = async (res: Response) => new Uint8Array(await res.arrayBuffer());
const sha256 = async (b: Uint8Array) => Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", b)), (x) => x.toString(16).padStart(2, "0")).join("");

function expectSecurityHeaders(res: Response) {
  expect(res.headers.get("Content-Security-Policy")).toBe(CSP);
  expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
  expect(res.headers.get("Cross-Origin-Resource-Policy")).toBe("cross-origin");
}

describe("[media: upload and download]", () => {
  it("[media: upload] a PNG round-trips byte-identical with its content type, name and security headers", async () => {
    const u = await register();
    const bytes = png(64, 48);
    const mxc = await upload(u.token, bytes, "image/png", "cat.png");
    expect(mxc).toMatch(new RegExp(`^mxc://${SERVER_NAME}/[A-Za-z0-9_-]{32}$`));
    const res = await dl(mxc, u.token);
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("image/png");
    expect(res.headers.get("Content-Disposition")).toBe('inline; filename="cat.png"');
    expect(res.headers.get("Content-Length")).toBe(String(bytes.length));
    expectSecurityHeaders(res);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(await bytesOf(res)).toEqual(bytes);
  });

  it("[media: download] any authenticated user may download; the path's file name replaces the stored one", async () => {
    const a = await register();
    const b = await register();
    const mxc = await upload(a.token, "hello", "text/plain", "a.txt");
    const res = await dl(mxc, b.token, "/other%20name.txt");
    expect(res.headers.get("Content-Disposition")).toBe('inline; filename="other name.txt"');
    expect(await res.text()).toBe("hello");
  });

  it("[media: Content-Disposition] unsafe types are attachments; no name without a filename; non-ASCII names use filename*", async () => {
    const u = await register();
    const html = await upload(u.token, "<script>alert(1)</script>", "text/html", "x.html");
    const r1 = await dl(html, u.token);
    expect(r1.headers.get("Content-Type")).toBe("text/html");
    expect(r1.headers.get("Content-Disposition")).toBe('attachment; filename="x.html"');
    expectSecurityHeaders(r1);
    const unnamed = await upload(u.token, "plain", "text/plain");
    expect((await dl(unnamed, u.token)).headers.get("Content-Disposition")).toBe("inline");
    const named = await upload(u.token, "x", "application/pdf", "Grüße \"1\".pdf");
    expect((await dl(named, u.token)).headers.get("Content-Disposition")).toBe("attachment; filename*=utf-8''Gr%C3%BC%C3%9Fe%20%221%22.pdf");
  });

  it("[media: Content-Type] an upload without (or with a malformed) Content-Type is served as application/octet-stream", async () => {
    const u = await register();
    const res = await SELF.fetch(`${BASE}/_matrix/media/v3/upload`, { method: "POST", headers: auth(u.token), body: new Uint8Array([1, 2, 3]) });
    const mxc = ((await res.json()) as JsonObject).content_uri as string;
    const got = await dl(mxc, u.token);
    expect(got.headers.get("Content-Type")).toBe("application/octet-stream");
    expect(got.headers.get("Content-Disposition")).toBe("attachment");
    const odd = await upload(u.token, "x", "not a type");
    expect((await dl(odd, u.token)).headers.get("Content-Type")).toBe("application/octet-stream");
  });

  it("[media: upload] an empty body is a valid (empty) upload", async () => {
    const u = await register();
    const mxc = await upload(u.token, new Uint8Array(0), "application/octet-stream");
    const res = await dl(mxc, u.token);
    expect(res.status).toBe(200);
    expect((await bytesOf(res)).length).toBe(0);
  });

  it("[media: auth] uploads, downloads, thumbnails and config need an access token", async () => {
    const u = await register();
    const mxc = await upload(u.token, png(8, 8), "image/png");
    await expectError(await uploadBytes("", "x", "text/plain"), 401, "M_MISSING_TOKEN");
    await expectError(await SELF.fetch(`${BASE}/_matrix/media/v1/create`, { method: "POST" }), 401, "M_MISSING_TOKEN");
    await expectError(await SELF.fetch(`${BASE}/_matrix/media/v3/upload/${SERVER_NAME}/${idOf(mxc)}`, { method: "PUT", body: "x" }), 401, "M_MISSING_TOKEN");
    await expectError(await dl(mxc), 401, "M_MISSING_TOKEN");
    await expectError(await thumb(mxc, "width=4&height=4"), 401, "M_MISSING_TOKEN");
    await expectError(await SELF.fetch(`${BASE}/_matrix/client/v1/media/config`), 401, "M_MISSING_TOKEN");
    await expectError(await dl(mxc, "syt_bm9ib2R5_abcdefghijklmnopqrst_000000"), 401, "M_UNKNOWN_TOKEN");
  });

  it("[media: download] unknown, remote and malformed media", async () => {
    const u = await register();
    await expectError(await SELF.fetch(`${BASE}/_matrix/client/v1/media/download/${SERVER_NAME}/doesNotExist`, { headers: auth(u.token) }), 404, "M_NOT_FOUND");
    await expectError(await SELF.fetch(`${BASE}/_matrix/client/v1/media/download/matrix.org/AQwafuaFswefuhsfAFAgsw`, { headers: auth(u.token) }), 404, "M_NOT_FOUND");
    await expectError(await SELF.fetch(`${BASE}/_matrix/client/v1/media/download/${SERVER_NAME}/..%2F..%2Fetc`, { headers: auth(u.token) }), 404, "M_NOT_FOUND");
    await expectError(await SELF.fetch(`${BASE}/_matrix/client/v1/media/download/bad%20server/abc`, { headers: auth(u.token) }), 400, "M_INVALID_PARAM");
    await expectError(await SELF.fetch(`${BASE}/_matrix/client/v1/media/thumbnail/matrix.org/abc?width=1&height=1`, { headers: auth(u.token) }), 404, "M_NOT_FOUND");
  });

});

describe("[media: limits]", () => {
  it("[media: config] m.upload.size is MAX_UPLOAD_BYTES (50 MiB by default)", async () => {
    const u = await register();
    const res = await SELF.fetch(`${BASE}/_matrix/client/v1/media/config`, { headers: auth(u.token) });
    expect(await res.json()).toEqual({ "m.upload.size": 52428800 });
    const legacy = await SELF.fetch(`${BASE}/_matrix/media/v3/config`, { headers: auth(u.token) });
    expect(await legacy.json()).toEqual({ "m.upload.size": 52428800 });
    const custom = await withVars({ MAX_UPLOAD_BYTES: "1234" }, new Request(`${BASE}/_matrix/client/v1/media/config`, { headers: auth(u.token) }));
    expect(await custom.json()).toEqual({ "m.upload.size": 1234 });
  });

  it("[media: upload] uploads have their own limit: larger than the JSON body limit is fine", async () => {
    const u = await register();
    const big = new Uint8Array(1536 * 1024); // 1.5 MiB > MAX_REQUEST_BYTES (1 MiB)
    for (let at = 0; at < big.length; at += 65536) crypto.getRandomValues(big.subarray(at, at + 65536));
    const mxc = await upload(u.token, big, "application/octet-stream");
    const got = await bytesOf(await dl(mxc, u.token));
    expect(got.length).toBe(big.length);
    expect(await sha256(got)).toBe(await sha256(big));
  }, 20_000);

  it("[media: upload] over MAX_UPLOAD_BYTES is 413 M_TOO_LARGE, by Content-Length or while reading a chunked body", async () => {
    const u = await register();
    const vars = { MAX_UPLOAD_BYTES: "1000" };
    const post = (body: BodyInit) =>
      new Request(`${BASE}/_matrix/media/v3/upload`, { method: "POST", headers: { ...auth(u.token), "Content-Type": "application/octet-stream" }, body });
    await expectError(await withVars(vars, post(new Uint8Array(1001))), 413, "M_TOO_LARGE");
    expect((await withVars(vars, post(new Uint8Array(1000)))).status).toBe(200);
    const chunked = (total: number) =>
      new ReadableStream<Uint8Array>({
        start(c) {
          for (let sent = 0; sent < total; sent += 300) c.enqueue(new Uint8Array(Math.min(300, total - sent)));
          c.close();
        },
      });
    const tooBig = post(chunked(1500));
    expect(tooBig.headers.get("Content-Length")).toBeNull();
    await expectError(await withVars(vars, tooBig), 413, "M_TOO_LARGE");
    const fits = await withVars(vars, post(chunked(900)));
    const mxc = ((await fits.json()) as JsonObject).content_uri as string;
    expect((await bytesOf(await dl(mxc, u.token))).length).toBe(900);
  });

  it("[media: upload] a body that ends before its Content-Length fails and stores nothing", async () => {
    const u = await register();
    // Four bytes arrive, then the client goes away.
    const readable = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new Uint8Array(4));
        c.error(new Error("client went away"));
      },
    });
    const req = new Request(`${BASE}/_matrix/media/v3/upload`, {
      method: "POST",
      headers: { ...auth(u.token), "Content-Type": "text/plain", "Content-Length": "10" },
      body: readable,
    });
    expect(req.headers.get("Content-Length")).toBe("10");
    await expectError(await withVars({}, req), 400, "M_INVALID_PARAM");
    const listed = await env.MEDIA.list({ prefix: "media/" });
    for (const o of listed.objects) expect(o.size === 4 && o.httpMetadata?.contentType === "text/plain").toBe(false);
  });

  it("[media: upload] file names longer than 255 bytes are refused", async () => {
    const u = await register();
    await expectError(await uploadBytes(u.token, "x", "text/plain", "é".repeat(128)), 400, "M_INVALID_PARAM");
    expect((await uploadBytes(u.token, "x", "text/plain", "e".repeat(255))).status).toBe(200);
  });
});

describe("[media: async upload] /create then PUT", () => {
  const create = (token: string) => SELF.fetch(`${BASE}/_matrix/media/v1/create`, { method: "POST", headers: auth(token) });
  const put = (token: string, mxc: string, body: BodyInit, type = "text/plain", q = "") =>
    SELF.fetch(`${BASE}/_matrix/media/v3/upload/${SERVER_NAME}/${idOf(mxc)}${q}`, { method: "PUT", headers: { ...auth(token), "Content-Type": type }, body });

  it("[media: create] returns an unused mxc URI that expires in 24 hours; download waits, then 504 M_NOT_YET_UPLOADED", async () => {
    const u = await register();
    const before = Date.now();
    const res = await create(u.token);
    const body = await res.json<JsonObject>();
    expect(res.status).toBe(200);
    expect(body.content_uri).toMatch(new RegExp(`^mxc://${SERVER_NAME}/[A-Za-z0-9_-]{32}$`));
    expect(body.unused_expires_at as number).toBeGreaterThanOrEqual(before + 24 * 3600 * 1000);
    expect(body.unused_expires_at as number).toBeLessThanOrEqual(Date.now() + 24 * 3600 * 1000);
    const t0 = Date.now();
    await expectError(await dl(body.content_uri as string, u.token, "?timeout_ms=300"), 504, "M_NOT_YET_UPLOADED");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    await expectError(await thumb(body.content_uri as string, "width=4&height=4&timeout_ms=0", u.token), 504, "M_NOT_YET_UPLOADED");
  });

  it("[media: PUT upload] only the creator, only once (409 M_CANNOT_OVERWRITE_MEDIA); then downloadable", async () => {
    const a = await register();
    const b = await register();
    const mxc = ((await (await create(a.token)).json()) as JsonObject).content_uri as string;
    await expectError(await put(b.token, mxc, "intruder"), 403, "M_FORBIDDEN");
    const ok = await put(a.token, mxc, "the content", "text/plain", "?filename=notes.txt");
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({});
    await expectError(await put(a.token, mxc, "again"), 409, "M_CANNOT_OVERWRITE_MEDIA");
    const res = await dl(mxc, b.token);
    expect(res.headers.get("Content-Disposition")).toBe('inline; filename="notes.txt"');
    expect(await res.text()).toBe("the content");
    // A direct upload cannot be overwritten either.
    const direct = await upload(a.token, "x", "text/plain");
    await expectError(await put(a.token, direct, "y"), 409, "M_CANNOT_OVERWRITE_MEDIA");
  });

  it("[media: download timeout_ms] a waiting download gets the content as soon as it is uploaded", async () => {
    const u = await register();
    const mxc = ((await (await create(u.token)).json()) as JsonObject).content_uri as string;
    const waiting = dl(mxc, u.token, "?timeout_ms=10000");
    await new Promise((r) => setTimeout(r, 300));
    expect((await put(u.token, mxc, "late bytes")).status).toBe(200);
    const res = await waiting;
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("late bytes");
  });

  it("[media: PUT upload] concurrent uploads to one media ID: exactly one wins", async () => {
    const u = await register();
    const mxc = ((await (await create(u.token)).json()) as JsonObject).content_uri as string;
    const results = await Promise.all([put(u.token, mxc, "first"), put(u.token, mxc, "second"), put(u.token, mxc, "third")]);
    const statuses = results.map((r) => r.status).sort();
    expect(statuses[0]).toBe(200);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(2);
    const winner = ["first", "second", "third"][results.findIndex((r) => r.status === 200)];
    expect(await (await dl(mxc, u.token)).text()).toBe(winner);
  });

  it("[media: PUT upload] a placeholder already replaced is not overwritten, even by a streamed body", async () => {
    const u = await register();
    const mediaId = "placeholderRaceTest_000000000000";
    await createPlaceholder(env.MEDIA, mediaId, u.userId, Date.now() + 60_000);
    const state = await mediaState(env.MEDIA, mediaId);
    expect(state.state).toBe("pending");
    if (state.state !== "pending") return;
    const meta = { uploader: u.userId, contentType: "text/plain", filename: null, createdTs: Date.now() };
    expect(await fillPlaceholder(env.MEDIA, mediaId, state, new TextEncoder().encode("winner"), meta)).toBe(true);
    const { readable, writable } = new FixedLengthStream(5);
    const w = writable.getWriter();
    void w.write(new TextEncoder().encode("loser")).then(() => w.close());
    expect(await fillPlaceholder(env.MEDIA, mediaId, state, readable, meta)).toBe(false);
    expect(await (await env.MEDIA.get(`media/${mediaId}`))!.text()).toBe("winner");
  });

  it("[media: create] expired media IDs: PUT and download are 404 M_NOT_FOUND", async () => {
    const u = await register();
    const mediaId = "expiredMediaIdForTheTest_0123456";
    await createPlaceholder(env.MEDIA, mediaId, u.userId, Date.now() - 1);
    const mxc = `mxc://${SERVER_NAME}/${mediaId}`;
    await expectError(await put(u.token, mxc, "too late"), 404, "M_NOT_FOUND");
    await expectError(await dl(mxc, u.token, "?timeout_ms=1000"), 404, "M_NOT_FOUND");
    await expectError(await put(u.token, `mxc://${SERVER_NAME}/neverCreated`, "x"), 404, "M_NOT_FOUND");
    await expectError(await put(u.token, `mxc://matrix.org/neverCreated`, "x"), 404, "M_NOT_FOUND");
  });

  it("[media: create] pending uploads per user are limited (429 M_LIMIT_EXCEEDED); finishing one frees a slot", async () => {
    const u = await register();
    const other = await register();
    const vars = { MEDIA_MAX_PENDING_UPLOADS: "2" };
    const createWith = (token: string) => withVars(vars, new Request(`${BASE}/_matrix/media/v1/create`, { method: "POST", headers: auth(token) }));
    // An expired one does not count (and is cleaned up).
    await createPlaceholder(env.MEDIA, "oldExpiredOne", u.userId, Date.now() - 1000);
    const first = ((await (await createWith(u.token)).json()) as JsonObject).content_uri as string;
    expect((await createWith(u.token)).status).toBe(200);
    const refused = await expectError(await createWith(u.token), 429, "M_LIMIT_EXCEEDED");
    expect(refused.retry_after_ms as number).toBeGreaterThan(0);
    expect((await createWith(other.token)).status).toBe(200);
    expect((await put(u.token, first, "done")).status).toBe(200);
    expect((await createWith(u.token)).status).toBe(200);
    expect(await env.MEDIA.head("media/oldExpiredOne")).toBeNull();
  });

  it("[media: PUT upload] over MAX_UPLOAD_BYTES is 413 and leaves the media ID usable", async () => {
    const u = await register();
    const mxc = ((await (await create(u.token)).json()) as JsonObject).content_uri as string;
    const putReq = (body: Uint8Array) =>
      new Request(`${BASE}/_matrix/media/v3/upload/${SERVER_NAME}/${idOf(mxc)}`, { method: "PUT", headers: { ...auth(u.token), "Content-Type": "application/octet-stream" }, body });
    await expectError(await withVars({ MAX_UPLOAD_BYTES: "10" }, putReq(new Uint8Array(11))), 413, "M_TOO_LARGE");
    expect((await withVars({ MAX_UPLOAD_BYTES: "10" }, putReq(new Uint8Array(10)))).status).toBe(200);
  });
});

describe("[media: thumbnails] made by photon inside workerd", () => {
  async function thumbOf(token: string, mxc: string, query: string) {
    const res = await thumb(mxc, query, token);
    expect(res.status, res.status === 200 ? "" : await res.clone().text()).toBe(200);
    const bytes = await bytesOf(res);
    return { res, bytes, info: imageInfo(bytes) };
  }

  it("[media: thumbnail] scale from a 400x300 PNG: a valid PNG of 100x75, inline, with security headers", async () => {
    const u = await register();
    const mxc = await upload(u.token, png(400, 300), "image/png", "big.png");
    const { res, bytes, info } = await thumbOf(u.token, mxc, "width=100&height=100&method=scale");
    expect(res.headers.get("Content-Type")).toBe("image/png");
    expect(res.headers.get("Content-Disposition")).toBe('inline; filename="thumbnail.png"');
    expectSecurityHeaders(res);
    expect(info).toEqual({ format: "png", mime: "image/png", width: 100, height: 75, animated: false });
    // And a real decoder agrees.
    const decoded = PhotonImage.new_from_byteslice(bytes);
    expect([decoded.get_width(), decoded.get_height()]).toEqual([100, 75]);
    decoded.free();
  });

  it("[media: thumbnail] crop gives exactly the requested size; JPEG stays JPEG", async () => {
    const u = await register();
    const mxc = await upload(u.token, jpeg(400, 300), "image/jpeg");
    const crop = await thumbOf(u.token, mxc, "width=64&height=64&method=crop");
    expect(crop.res.headers.get("Content-Type")).toBe("image/jpeg");
    expect(crop.res.headers.get("Content-Disposition")).toBe('inline; filename="thumbnail.jpg"');
    expect(crop.info).toMatchObject({ format: "jpeg", width: 64, height: 64 });
    const wide = await thumbOf(u.token, mxc, "width=320&height=100&method=crop");
    expect(wide.info).toMatchObject({ width: 320, height: 100 });
  });

  it("[media: thumbnail] the spec's default sizes from an 800x600 image", async () => {
    const u = await register();
    const mxc = await upload(u.token, png(800, 600), "image/png");
    for (const [w, h, m, ew, eh] of [
      [32, 32, "crop", 32, 32],
      [96, 96, "crop", 96, 96],
      [320, 240, "scale", 320, 240],
      [640, 480, "scale", 640, 480],
    ] as const) {
      expect((await thumbOf(u.token, mxc, `width=${w}&height=${h}&method=${m}`)).info).toMatchObject({ width: ew, height: eh });
    }
  });

  it("[media: thumbnail] GIF and WebP sources make PNG thumbnails", async () => {
    const u = await register();
    const gif = await upload(u.token, fx.bytes(fx.STATIC_GIF_120x90), "image/gif");
    expect((await thumbOf(u.token, gif, "width=60&height=60")).info).toMatchObject({ format: "png", width: 60, height: 45 });
    const webp = await upload(u.token, fx.bytes(fx.LOSSY_WEBP_120x90), "image/webp");
    expect((await thumbOf(u.token, webp, "width=40&height=40&method=crop")).info).toMatchObject({ format: "png", width: 40, height: 40 });
  });

  it("[media: thumbnail] never upscaled: small content is returned as it is", async () => {
    const u = await register();
    const bytes = png(50, 40);
    const mxc = await upload(u.token, bytes, "image/png");
    const t = await thumbOf(u.token, mxc, "width=320&height=240");
    expect(t.bytes).toEqual(bytes);
    expect(t.res.headers.get("Content-Type")).toBe("image/png");
  });

  it("[media: thumbnail animated] animated only when asked: the original GIF with animated=true, a still otherwise", async () => {
    const u = await register();
    const gif = fx.bytes(fx.ANIMATED_GIF_120x90);
    const mxc = await upload(u.token, gif, "image/gif");
    const anim = await thumbOf(u.token, mxc, "width=200&height=200&animated=true");
    expect(anim.bytes).toEqual(gif);
    expect(anim.res.headers.get("Content-Type")).toBe("image/gif");
    for (const q of ["width=200&height=200&animated=false", "width=200&height=200"]) {
      const still = await thumbOf(u.token, mxc, q);
      expect(still.info).toEqual({ format: "png", mime: "image/png", width: 120, height: 90, animated: false });
    }
    const small = await thumbOf(u.token, mxc, "width=60&height=60&animated=true");
    expect(small.info).toMatchObject({ width: 60, height: 45, animated: false });
  });

  it("[media: thumbnail] generated thumbnails are stored in R2 and served from there", async () => {
    const u = await register();
    const mxc = await upload(u.token, png(300, 200), "image/png");
    const req = () => new Request(`${BASE}/_matrix/client/v1/media/thumbnail/${SERVER_NAME}/${idOf(mxc)}?width=30&height=30&method=crop`, { headers: auth(u.token) });
    const first = await bytesOf(await withVars({}, req()));
    const stored = await env.MEDIA.list({ prefix: `thumb/${idOf(mxc)}/` });
    expect(stored.objects.map((o) => o.key)).toEqual([`thumb/${idOf(mxc)}/45x30-c7,0,30x30.png`]);
    // Replace the stored one: the next request must come from R2, not a fresh render.
    const marker = png(30, 30);
    await env.MEDIA.put(stored.objects[0]!.key, marker, { httpMetadata: { contentType: "image/png" } });
    const second = await bytesOf(await withVars({}, req()));
    expect(second).toEqual(marker);
    expect(imageInfo(first)).toMatchObject({ width: 30, height: 30 });
  });

  it("[media: thumbnail] non-images, corrupt images and bad parameters", async () => {
    const u = await register();
    const text = await upload(u.token, "not an image", "text/plain");
    await expectError(await thumb(text, "width=10&height=10", u.token), 400, "M_UNKNOWN");
    const liar = await upload(u.token, "<html>", "image/png");
    await expectError(await thumb(liar, "width=10&height=10", u.token), 400, "M_UNKNOWN");
    const good = png(100, 100);
    const corrupt = good.slice(0, 60); // header intact, data cut off
    const broken = await upload(u.token, corrupt, "image/png");
    await expectError(await thumb(broken, "width=10&height=10", u.token), 400, "M_UNKNOWN");
    const ok = await upload(u.token, good, "image/png");
    await expectError(await thumb(ok, "height=10", u.token), 400, "M_MISSING_PARAM");
    await expectError(await thumb(ok, "width=-3&height=10", u.token), 400, "M_INVALID_PARAM");
    await expectError(await thumb(ok, "width=10&height=10&method=stretch", u.token), 400, "M_INVALID_PARAM");
    await expectError(await thumb(ok, "width=10&height=10&animated=maybe", u.token), 400, "M_INVALID_PARAM");
  });

  it("[media: thumbnail] images over MAX_THUMBNAIL_PIXELS are 413 M_TOO_LARGE (checked from the header, before decoding)", async () => {
    const u = await register();
    const mxc = await upload(u.token, png(200, 100), "image/png");
    const req = new Request(`${BASE}/_matrix/client/v1/media/thumbnail/${SERVER_NAME}/${idOf(mxc)}?width=10&height=10`, { headers: auth(u.token) });
    await expectError(await withVars({ MAX_THUMBNAIL_PIXELS: "19999" }, req), 413, "M_TOO_LARGE");
    const fine = new Request(req.url, { headers: auth(u.token) });
    expect((await withVars({ MAX_THUMBNAIL_PIXELS: "20000" }, fine)).status).toBe(200);
  });
});

describe("[media: legacy] unauthenticated /_matrix/media/v3 download and thumbnail", () => {
  it("[media: legacy] off by default: 404 M_NOT_FOUND, even with a token", async () => {
    const u = await register();
    const mxc = await upload(u.token, png(20, 20), "image/png");
    await expectError(await SELF.fetch(`${BASE}/_matrix/media/v3/download/${SERVER_NAME}/${idOf(mxc)}`), 404, "M_NOT_FOUND");
    await expectError(await SELF.fetch(`${BASE}/_matrix/media/v3/download/${SERVER_NAME}/${idOf(mxc)}/x.png`, { headers: auth(u.token) }), 404, "M_NOT_FOUND");
    await expectError(await SELF.fetch(`${BASE}/_matrix/media/v3/thumbnail/${SERVER_NAME}/${idOf(mxc)}?width=5&height=5`), 404, "M_NOT_FOUND");
  });

  it("[media: legacy] with LEGACY_MEDIA_ENABLED: byte-identical downloads and thumbnails without a token", async () => {
    const u = await register();
    const bytes = png(120, 80);
    const mxc = await upload(u.token, bytes, "image/png", "legacy.png");
    const vars = { LEGACY_MEDIA_ENABLED: "true" };
    const res = await withVars(vars, new Request(`${BASE}/_matrix/media/v3/download/${SERVER_NAME}/${idOf(mxc)}`));
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("image/png");
    expect(res.headers.get("Content-Disposition")).toBe('inline; filename="legacy.png"');
    expectSecurityHeaders(res);
    expect(await bytesOf(res)).toEqual(bytes);
    const named = await withVars(vars, new Request(`${BASE}/_matrix/media/v3/download/${SERVER_NAME}/${idOf(mxc)}/renamed.png`));
    expect(named.headers.get("Content-Disposition")).toBe('inline; filename="renamed.png"');
    const t = await withVars(vars, new Request(`${BASE}/_matrix/media/v3/thumbnail/${SERVER_NAME}/${idOf(mxc)}?width=60&height=60`));
    expect(imageInfo(await bytesOf(t))).toMatchObject({ width: 60, height: 40 });
  });
});
