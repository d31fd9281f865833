/**
 * Content repository: uploads (direct and asynchronous), authenticated
 * downloads and thumbnails, the media config, and — behind LEGACY_MEDIA_ENABLED —
 * the deprecated unauthenticated download and thumbnail paths.
 * https://spec.matrix.org/v1.19/client-server-api/#content-repository
 *
 * Media lives in R2 (party/media/store.ts; docs/design/media.md). Only local
 * media exists: without federation, another server's media is 404 M_NOT_FOUND.
 * URL previews are in media-preview.ts.
 */
import { MatrixError, invalidParam, notFound } from "../../lib/errors.ts";
import { isValidServerName } from "../../lib/identifiers.ts";
import { MEDIA_SECURITY_HEADERS, contentDisposition, mediaTypeEssence, uploadContentType } from "../../lib/media/content-disposition.ts";
import { imageInfo } from "../../lib/media/image-info.ts";
import { generateMediaId, isValidMediaId, mxcUri } from "../../lib/media/media-id.ts";
import { parseThumbnailRequest, planKey, planThumbnail, thumbnailFormat } from "../../lib/media/thumbnail.ts";
import {
  UNUSED_EXPIRY_MS,
  type MediaState,
  type UploadBody,
  createPlaceholder,
  fillPlaceholder,
  livePendingUploads,
  mediaKey,
  mediaState,
  metaOf,
  putMedia,
  thumbnailKey,
} from "../media/store.ts";
import { ThumbnailError, renderThumbnail } from "../media/thumbnailer.ts";
import { authenticate } from "./auth.ts";
import { json, readBody } from "./http.ts";
import type { EdgeRequest } from "./router.ts";

/** The spec's default wait for a pending upload, and our ceiling on what a client may ask. */
export const DEFAULT_TIMEOUT_MS = 20_000;
export const MAX_TIMEOUT_MS = 60_000;
const POLL_INTERVAL_MS = 250;
/** Longest file name kept with an upload (UTF-8 bytes); it rides in R2 metadata. */
export const MAX_FILENAME_BYTES = 255;
/** Largest source the thumbnailer reads into memory (the pixel limit applies as well). */
export const MAX_THUMBNAIL_SOURCE_BYTES = 20 * 1024 * 1024;
/** The content types the thumbnailer decodes. */
const THUMBNAILABLE: ReadonlySet<string> = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

// ---- uploads ----------------------------------------------------------------------------

// POST /_matrix/media/v3/upload
export async function upload(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const filename = filenameParam(r);
  const contentType = uploadContentType(r.request.headers.get("Content-Type"));
  const mediaId = generateMediaId();
  await storeBody(r, (body) => putMedia(r.env.MEDIA, mediaId, body, { uploader: me.userId, contentType, filename, createdTs: Date.now() }));
  return json({ content_uri: mxcUri(r.config.serverName, mediaId) });
}

// POST /_matrix/media/v1/create
export async function create(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const now = Date.now();
  const pending = await livePendingUploads(r.env.MEDIA, me.userId, now);
  if (pending.length >= r.config.mediaMaxPendingUploads) {
    throw new MatrixError("M_LIMIT_EXCEEDED", 429, "Too many pending uploads", {
      retry_after_ms: Math.max(1, pending[0]! - now),
    });
  }
  const mediaId = generateMediaId();
  const expiresTs = now + UNUSED_EXPIRY_MS;
  await createPlaceholder(r.env.MEDIA, mediaId, me.userId, expiresTs);
  return json({ content_uri: mxcUri(r.config.serverName, mediaId), unused_expires_at: expiresTs });
}

// PUT /_matrix/media/v3/upload/{serverName}/{mediaId}
export async function uploadToMxc(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const mediaId = localMediaId(r);
  const state = await mediaState(r.env.MEDIA, mediaId);
  if (state.state === "absent") throw notFound("Unknown media ID");
  const owner = state.state === "pending" ? state.uploader : state.meta.uploader;
  if (owner !== me.userId) throw new MatrixError("M_FORBIDDEN", 403, "Only the creator of this media ID may upload to it");
  if (state.state === "ready") throw cannotOverwrite();
  if (state.expiresTs <= Date.now()) throw notFound("This media ID has expired");
  const filename = filenameParam(r);
  const contentType = uploadContentType(r.request.headers.get("Content-Type"));
  const meta = { uploader: me.userId, contentType, filename, createdTs: Date.now() };
  const filled = await storeBody(r, (body) => fillPlaceholder(r.env.MEDIA, mediaId, state, body, meta));
  if (!filled) throw cannotOverwrite(); // a concurrent upload won
  return json({});
}

const cannotOverwrite = () => new MatrixError("M_CANNOT_OVERWRITE_MEDIA", 409, "Media already uploaded");

/** `filename` query parameter: optional, at most MAX_FILENAME_BYTES of UTF-8. */
function filenameParam(r: EdgeRequest): string | null {
  const name = r.url.searchParams.get("filename");
  if (name === null || name === "") return null;
  if (new TextEncoder().encode(name).length > MAX_FILENAME_BYTES) {
    throw invalidParam(`'filename' is longer than ${MAX_FILENAME_BYTES} bytes`);
  }
  return name;
}

/**
 * Hands the request body to `store` under MAX_UPLOAD_BYTES (its own limit, not
 * the JSON one). With a Content-Length the body streams to R2 through a
 * FixedLengthStream, so R2 knows its size and a body that ends early fails the
 * upload; without one (chunked) it is read up to the limit first.
 */
async function storeBody<T>(r: EdgeRequest, store: (body: UploadBody) => Promise<T>): Promise<T> {
  const max = r.config.maxUploadBytes;
  const tooLarge = () => new MatrixError("M_TOO_LARGE", 413, `Uploads are limited to ${max} bytes`);
  const declared = r.request.headers.get("Content-Length");
  if (declared === null) return store(await readBody(r.request, { maxBytes: max }));
  if (!/^[0-9]{1,15}$/.test(declared)) throw invalidParam("Invalid Content-Length");
  const length = Number(declared);
  if (length > max) throw tooLarge();
  if (length === 0 || !r.request.body) return store(new Uint8Array(0));
  const fixed = new FixedLengthStream(length);
  let bodyFailed = false;
  const piping = r.request.body.pipeTo(fixed.writable).catch(() => {
    bodyFailed = true;
  });
  try {
    // R2 accepts a FixedLengthStream only whole: success means the body was complete.
    return await store(fixed.readable);
  } catch (e) {
    // A body at fault has failed the pipe by now (or does so at once).
    await Promise.race([piping, new Promise((resolve) => setTimeout(resolve, 50))]);
    if (bodyFailed) throw invalidParam("The request body does not match its Content-Length");
    throw e;
  }
}

// ---- downloads --------------------------------------------------------------------------

// GET /_matrix/client/v1/media/download/{serverName}/{mediaId}
// GET /_matrix/client/v1/media/download/{serverName}/{mediaId}/{fileName}
export async function download(r: EdgeRequest): Promise<Response> {
  await authenticate(r);
  return serveDownload(r);
}

// GET /_matrix/media/v3/download/{serverName}/{mediaId}[/{fileName}] (deprecated, unauthenticated)
export async function legacyDownload(r: EdgeRequest): Promise<Response> {
  requireLegacy(r);
  return serveDownload(r);
}

async function serveDownload(r: EdgeRequest): Promise<Response> {
  const mediaId = localMediaId(r);
  await waitUntilUploaded(r, mediaId);
  const obj = await r.env.MEDIA.get(mediaKey(mediaId));
  if (!obj) throw notFound("Media not found");
  const meta = metaOf(obj);
  const filename = r.params.fileName ?? meta.filename;
  return new Response(obj.body, {
    headers: {
      "Content-Type": meta.contentType,
      "Content-Disposition": contentDisposition(meta.contentType, filename),
      "Content-Length": String(obj.size),
      "Cache-Control": "private, max-age=86400",
      ...MEDIA_SECURITY_HEADERS,
    },
  });
}

// ---- thumbnails -------------------------------------------------------------------------

// GET /_matrix/client/v1/media/thumbnail/{serverName}/{mediaId}
export async function thumbnail(r: EdgeRequest): Promise<Response> {
  await authenticate(r);
  return serveThumbnail(r);
}

// GET /_matrix/media/v3/thumbnail/{serverName}/{mediaId} (deprecated, unauthenticated)
export async function legacyThumbnail(r: EdgeRequest): Promise<Response> {
  requireLegacy(r);
  return serveThumbnail(r);
}

async function serveThumbnail(r: EdgeRequest): Promise<Response> {
  const mediaId = localMediaId(r);
  const req = parseThumbnailRequest(r.url.searchParams);
  const state = await waitUntilUploaded(r, mediaId);
  if (!THUMBNAILABLE.has(mediaTypeEssence(state.meta.contentType))) throw cannotThumbnail();
  if (state.size > MAX_THUMBNAIL_SOURCE_BYTES) {
    throw new MatrixError("M_TOO_LARGE", 413, "Content is too large to thumbnail");
  }
  const obj = await r.env.MEDIA.get(mediaKey(mediaId));
  if (!obj) throw notFound("Media not found");
  const source = new Uint8Array(await obj.arrayBuffer());
  const info = imageInfo(source);
  if (!info) throw cannotThumbnail();
  if (info.width * info.height > r.config.maxThumbnailPixels) {
    throw new MatrixError("M_TOO_LARGE", 413, "Content is too large to thumbnail");
  }
  const plan = planThumbnail(info, req);
  if (plan.kind === "original") return imageResponse(source, info.mime);

  const out = thumbnailFormat(info.mime);
  const key = thumbnailKey(mediaId, planKey(plan, out.format));
  const cached = await r.env.MEDIA.get(key);
  if (cached) return imageResponse(new Uint8Array(await cached.arrayBuffer()), out.mime);
  let bytes: Uint8Array;
  try {
    bytes = renderThumbnail(source, plan, out.format);
  } catch (e) {
    if (e instanceof ThumbnailError) throw cannotThumbnail();
    throw e;
  }
  r.waitUntil(r.env.MEDIA.put(key, bytes, { httpMetadata: { contentType: out.mime } }));
  return imageResponse(bytes, out.mime);
}

const cannotThumbnail = () => new MatrixError("M_UNKNOWN", 400, "Cannot generate thumbnails for the requested content");

const EXTENSIONS: Record<string, string> = { "image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp" };

/** Thumbnails are always inline (the spec), named thumbnail.<ext>. */
function imageResponse(bytes: Uint8Array, mime: string): Response {
  return new Response(bytes, {
    headers: {
      "Content-Type": mime,
      "Content-Disposition": contentDisposition(mime, `thumbnail.${EXTENSIONS[mime] ?? "bin"}`, true),
      "Cache-Control": "private, max-age=86400",
      ...MEDIA_SECURITY_HEADERS,
    },
  });
}

// ---- config -----------------------------------------------------------------------------

// GET /_matrix/client/v1/media/config
// GET /_matrix/media/v3/config (deprecated; authenticated as well)
export async function config(r: EdgeRequest): Promise<Response> {
  await authenticate(r);
  return json({ "m.upload.size": r.config.maxUploadBytes });
}

// ---- shared -----------------------------------------------------------------------------

/** Deprecated unauthenticated media is off unless the operator turns it on (404, as a frozen server answers). */
function requireLegacy(r: EdgeRequest): void {
  if (!r.config.legacyMediaEnabled) {
    throw notFound("Unauthenticated media is disabled; use /_matrix/client/v1/media");
  }
}

/**
 * The media ID of a local mxc URI from the path. Server names and media IDs are
 * checked against their grammars (the spec's guard against traversal); media of
 * other servers is not available without federation.
 */
function localMediaId(r: EdgeRequest): string {
  const serverName = r.params.serverName!;
  const mediaId = r.params.mediaId!;
  if (!isValidServerName(serverName)) throw invalidParam("Invalid server name");
  if (serverName !== r.config.serverName) throw notFound("Remote media is not available");
  if (!isValidMediaId(mediaId)) throw notFound("Media not found");
  return mediaId;
}

/**
 * Waits (up to `timeout_ms`) for a pending asynchronous upload. Absent or
 * expired: 404 M_NOT_FOUND; still pending at the deadline: 504 M_NOT_YET_UPLOADED.
 */
async function waitUntilUploaded(r: EdgeRequest, mediaId: string): Promise<Extract<MediaState, { state: "ready" }>> {
  const deadline = Date.now() + timeoutParam(r);
  for (;;) {
    const state = await mediaState(r.env.MEDIA, mediaId);
    if (state.state === "ready") return state;
    if (state.state === "absent" || state.expiresTs <= Date.now()) throw notFound("Media not found");
    const left = deadline - Date.now();
    if (left <= 0) throw new MatrixError("M_NOT_YET_UPLOADED", 504, "Content has not yet been uploaded");
    await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_INTERVAL_MS, left)));
  }
}

function timeoutParam(r: EdgeRequest): number {
  const raw = r.url.searchParams.get("timeout_ms");
  if (raw === null) return DEFAULT_TIMEOUT_MS;
  if (!/^[0-9]{1,15}$/.test(raw)) throw invalidParam("'timeout_ms' must be a non-negative integer");
  return Math.min(Number(raw), MAX_TIMEOUT_MS);
}
