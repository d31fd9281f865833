/**
 * URL previews: fetch a page (or image) the client names, read its OpenGraph
 * properties with the Worker's streaming HTMLRewriter, copy its image into the
 * media repository, and remember the answer (docs/design/media.md).
 *
 * Every fetch — the page, each redirect, the image — is checked against the
 * operator's policy first (lib/media/preview-target.ts); redirects are followed
 * by hand so that every hop is checked. Bodies are read up to a byte limit and
 * within a time limit.
 */
import { readAtMost as readLimited } from "../../lib/read-limited.ts";
import { MatrixError } from "../../lib/errors.ts";
import { imageInfo } from "../../lib/media/image-info.ts";
import { generateMediaId, mxcUri } from "../../lib/media/media-id.ts";
import { uploadContentType } from "../../lib/media/content-disposition.ts";
import {
  type OpenGraph,
  type ScrapedPage,
  cacheSlot,
  imageCandidate,
  imageFields,
  openGraphText,
  previewKind,
} from "../../lib/media/preview.ts";
import { checkPreviewTarget } from "../../lib/media/preview-target.ts";
import type { UrlPreviewConfig } from "../env.ts";
import { putMedia } from "./store.ts";

/** Sent with every preview fetch: some sites give OpenGraph only to crawlers that say so. */
const USER_AGENT = "Parley URL preview (bot)";

export interface PreviewContext {
  settings: UrlPreviewConfig;
  serverName: string;
  media: R2Bucket;
  cache: KVNamespace;
  /** The requesting user: stored images are recorded as theirs, as uploads are. */
  userId: string;
}

// ---- the answer, cached -------------------------------------------------------------------

/** Previews being made in this isolate, by cache key: a second request for the same URL waits for the first. */
const inFlight = new Map<string, Promise<OpenGraph>>();

/**
 * The preview of `url` for the slot of `ts`: from the cache (the requested slot,
 * then the current one), else made now and cached under the current slot.
 * `keepAlive` lets the work outlive the request that started it (others may be waiting).
 */
export async function preview(ctx: PreviewContext, url: URL, ts: number, keepAlive: (p: Promise<unknown>) => void): Promise<OpenGraph> {
  // Before the cache too: a URL blocked since it was cached is not answered from there.
  if (!checkPreviewTarget(url, ctx.settings).ok) throw blocked();
  const ttlMs = ctx.settings.cacheTtlSeconds * 1000;
  const now = Date.now();
  const urlKey = await sha256Hex(url.href);
  const key = (slot: number) => `url_preview/${urlKey}/${slot}`;
  const slots = [...new Set([cacheSlot(ts, now, ttlMs), cacheSlot(now, now, ttlMs)])];
  for (const slot of slots) {
    const hit = await ctx.cache.get(key(slot));
    if (hit !== null) return JSON.parse(hit) as OpenGraph;
  }
  const current = key(slots[slots.length - 1]!);
  let work = inFlight.get(current);
  if (!work) {
    work = (async () => {
      try {
        const og = await makePreview(ctx, url);
        await ctx.cache.put(current, JSON.stringify(og), { expirationTtl: ctx.settings.cacheTtlSeconds });
        return og;
      } finally {
        inFlight.delete(current);
      }
    })();
    inFlight.set(current, work);
    keepAlive(work.catch(() => undefined));
  }
  return work;
}

async function makePreview(ctx: PreviewContext, url: URL): Promise<OpenGraph> {
  const { response, finalUrl } = await guardedFetch(ctx.settings, url);
  const kind = previewKind(response.headers.get("Content-Type"));
  if (kind === "other") {
    // Nothing to read: the answer may be empty (the spec).
    await response.body?.cancel();
    return {};
  }
  if (kind === "image") return imageFields(await storeImage(ctx, response));

  const page = await scrapeHtml(response, ctx.settings.maxPageBytes);
  const og = openGraphText(page, ctx.settings);
  const imageUrl = imageCandidate(page, finalUrl.href);
  if (imageUrl) {
    // The image is extra: a page whose image cannot be had is still previewed.
    try {
      const img = await guardedFetch(ctx.settings, imageUrl);
      if (previewKind(img.response.headers.get("Content-Type")) === "image") Object.assign(og, imageFields(await storeImage(ctx, img.response)));
      else await img.response.body?.cancel();
    } catch (e) {
      if (!(e instanceof MatrixError)) throw e;
    }
  }
  return og;
}

// ---- fetching -----------------------------------------------------------------------------

const blocked = () => new MatrixError("M_FORBIDDEN", 403, "URL previews of this address are not allowed");
const upstream = (msg: string) => new MatrixError("M_UNKNOWN", 502, msg);
const timedOut = () => new MatrixError("M_UNKNOWN", 504, "Timed out fetching the URL to preview");
const tooLarge = (max: number) => new MatrixError("M_TOO_LARGE", 502, `The content to preview is larger than ${max} bytes`);

interface Fetched {
  response: Response;
  finalUrl: URL;
}

/**
 * GET with every hop checked, at most `maxRedirects` redirects, a non-2xx
 * answer refused. The time limit covers the headers here and the body in the
 * readers (the same signal).
 */
async function guardedFetch(settings: UrlPreviewConfig, start: URL): Promise<Fetched> {
  const signal = AbortSignal.timeout(settings.timeoutMs);
  let url = start;
  for (let hop = 0; ; hop++) {
    if (!checkPreviewTarget(url, settings).ok) throw blocked();
    let response: Response;
    try {
      response = await fetch(url.href, {
        redirect: "manual",
        signal,
        headers: { "User-Agent": USER_AGENT, Accept: "text/html, application/xhtml+xml, image/*;q=0.9, */*;q=0.5" },
      });
    } catch (e) {
      if (signal.aborted) throw timedOut();
      throw upstream(`Could not fetch the URL to preview (${e instanceof Error ? e.message : "network error"})`);
    }
    if (response.status >= 300 && response.status < 400 && response.status !== 304) {
      await response.body?.cancel();
      const location = response.headers.get("Location");
      if (location === null) throw upstream(`The URL answered ${response.status} without a Location`);
      if (hop >= settings.maxRedirects) throw upstream(`More than ${settings.maxRedirects} redirects`);
      try {
        url = new URL(location, url);
      } catch {
        throw upstream("The URL redirected to an invalid URL");
      }
      continue;
    }
    if (response.status < 200 || response.status >= 300) {
      await response.body?.cancel();
      throw upstream(`The URL answered ${response.status}`);
    }
    return { response: withSignal(response, signal), finalUrl: url };
  }
}

/** Ties a body read to the fetch's deadline: an abort mid-body is a timeout, not a network error. */
function withSignal(response: Response, signal: AbortSignal): Response {
  const body = response.body;
  if (!body) return response;
  const reader = body.getReader();
  const onAbort = () => void reader.cancel().catch(() => undefined);
  signal.addEventListener("abort", onAbort);
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (signal.aborted) throw timedOut();
        if (done) {
          signal.removeEventListener("abort", onAbort);
          controller.close();
        } else controller.enqueue(value);
      } catch (e) {
        controller.error(signal.aborted ? timedOut() : e);
      }
    },
    cancel(reason) {
      signal.removeEventListener("abort", onAbort);
      return reader.cancel(reason);
    },
  });
  return new Response(stream, { status: response.status, headers: response.headers });
}

/** The whole body, refused (502 M_TOO_LARGE) past `max` bytes — on Content-Length before reading. */
async function readAtMost(response: Response, max: number): Promise<Uint8Array> {
  const declared = Number(response.headers.get("Content-Length") ?? NaN);
  if (declared > max) {
    await response.body?.cancel();
    throw tooLarge(max);
  }
  if (!response.body) return new Uint8Array(0);
  return readLimited(response.body, max, () => tooLarge(max), readChunk);
}

async function readChunk(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<ReadableStreamReadResult<Uint8Array>> {
  try {
    return await reader.read();
  } catch (e) {
    if (e instanceof MatrixError) throw e;
    throw upstream("The connection failed while reading the URL to preview");
  }
}

/** The body cut after `max` bytes: a long page is previewed from its beginning, where its head is. */
function firstBytes(body: ReadableStream<Uint8Array>, max: number, failed: { error?: unknown }): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let left = max;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await readChunk(reader);
      } catch (e) {
        // Ended, not errored: the rewriter stops cleanly and the reader throws the reason afterwards.
        failed.error = e;
        controller.close();
        return;
      }
      const { done, value } = chunk;
      if (done) return controller.close();
      if (value.length >= left) {
        controller.enqueue(value.subarray(0, left));
        left = 0;
        controller.close();
        await reader.cancel();
        return;
      }
      left -= value.length;
      controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

// ---- reading ------------------------------------------------------------------------------

/** The OpenGraph and fallback facts of an HTML page, read by HTMLRewriter (which handles the charset). */
async function scrapeHtml(response: Response, maxBytes: number): Promise<ScrapedPage> {
  const page: ScrapedPage = { og: [] };
  let title: string | undefined;
  let inTitle = false;
  const rewriter = new HTMLRewriter()
    .on("meta", {
      element(el) {
        const content = el.getAttribute("content");
        if (content === null) return;
        const property = el.getAttribute("property") ?? el.getAttribute("name");
        if (property === null) return;
        const p = property.trim().toLowerCase();
        if (p.startsWith("og:")) page.og.push([p, content]);
        else if (p === "description" && page.description === undefined) page.description = content;
      },
    })
    .on("title", {
      element(el) {
        inTitle = title === undefined;
        if (inTitle) title = "";
        el.onEndTag(() => {
          inTitle = false;
        });
      },
      text(t) {
        if (inTitle) title += t.text;
      },
    })
    .on("img[src]", {
      element(el) {
        page.firstImage ??= el.getAttribute("src") ?? undefined;
      },
    })
    .on("base[href]", {
      element(el) {
        page.baseHref ??= el.getAttribute("href") ?? undefined;
      },
    });
  const failed: { error?: unknown } = {};
  const body = response.body ? firstBytes(response.body, maxBytes, failed) : null;
  try {
    const transformed = rewriter.transform(new Response(body, { headers: { "Content-Type": htmlContentType(response) } }));
    // Only the handlers' side effects matter; the rewritten page is thrown away as it streams.
    await transformed.body?.pipeTo(new WritableStream());
  } catch (e) {
    throw upstream(`Could not read the page (${e instanceof Error ? e.message : "unknown error"})`);
  }
  if (failed.error !== undefined) throw failed.error;
  if (title !== undefined) page.title = title;
  return page;
}

/**
 * The type the rewriter decodes by: the page's, unless its charset is one no
 * decoder knows (the rewriter would refuse the page); then UTF-8, the web's default.
 */
function htmlContentType(response: Response): string {
  const type = response.headers.get("Content-Type") ?? "text/html";
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(type)?.[1];
  if (charset === undefined) return type;
  try {
    new TextDecoder(charset);
    return type;
  } catch {
    return "text/html; charset=utf-8";
  }
}

/** Copies an image into the media repository; its size, type and dimensions make the answer's image fields. */
async function storeImage(ctx: PreviewContext, response: Response) {
  const bytes = await readAtMost(response, ctx.settings.maxBytes);
  const info = imageInfo(bytes);
  // The sniffed format wins over what the remote server claimed.
  const contentType = info?.mime ?? uploadContentType(response.headers.get("Content-Type"));
  const mediaId = generateMediaId();
  await putMedia(ctx.media, mediaId, bytes, { uploader: ctx.userId, contentType, filename: null, createdTs: Date.now() });
  return { mxc: mxcUri(ctx.serverName, mediaId), contentType, size: bytes.length, width: info?.width, height: info?.height };
}

async function sha256Hex(s: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s));
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}
