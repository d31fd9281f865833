/**
 * URL previews: GET /_matrix/client/v1/media/preview_url, and the deprecated
 * /_matrix/media/v3/preview_url. Both are authenticated (the spec), so the v3
 * one is served like /media/v3/config, not behind LEGACY_MEDIA_ENABLED (which is
 * about unauthenticated media); matrix-js-sdk's getUrlPreview still calls it.
 * URL_PREVIEW_ENABLED=false makes both answer as absent routes do. The work is
 * in party/media/preview.ts; docs/design/media.md.
 * https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv1mediapreview_url
 */
import { MatrixError, invalidParam, missingParam } from "../../lib/errors.ts";
import type { JsonObject } from "../../lib/json.ts";
import type { UrlPreviewConfig } from "../env.ts";
import { preview } from "../media/preview.ts";
import { authenticate } from "./auth.ts";
import { json } from "./http.ts";
import type { EdgeRequest } from "./router.ts";

/** Longest `url` accepted, in characters (far above any real link; the cache key is its hash). */
const MAX_URL_LENGTH = 8192;

// GET /_matrix/client/v1/media/preview_url
export async function previewUrl(r: EdgeRequest): Promise<Response> {
  return servePreview(r, enabled(r));
}

// GET /_matrix/media/v3/preview_url (deprecated)
export async function legacyPreviewUrl(r: EdgeRequest): Promise<Response> {
  return servePreview(r, enabled(r));
}

async function servePreview(r: EdgeRequest, settings: UrlPreviewConfig): Promise<Response> {
  const me = await authenticate(r);
  const url = urlParam(r);
  const ts = tsParam(r);
  const og = await preview(
    { settings, serverName: r.config.serverName, media: r.env.MEDIA, cache: r.env.SECRETS, userId: me.userId },
    url,
    ts,
    (p) => r.waitUntil(p),
  );
  return json(og as JsonObject);
}

/** What the router answers for a path it does not know: the feature is off. */
const absent = () => new MatrixError("M_UNRECOGNIZED", 404, "Unrecognized request");

function enabled(r: EdgeRequest): UrlPreviewConfig {
  if (!r.config.urlPreview) throw absent();
  return r.config.urlPreview;
}

/** `url`: required, an absolute http(s) URL; the fragment is dropped (it never reaches the remote server). */
function urlParam(r: EdgeRequest): URL {
  const raw = r.url.searchParams.get("url");
  if (raw === null || raw === "") throw missingParam("Missing 'url' parameter");
  if (raw.length > MAX_URL_LENGTH) throw invalidParam(`'url' is longer than ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalidParam("'url' is not a valid URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw invalidParam("Only http and https URLs can be previewed");
  url.hash = "";
  return url;
}

/** `ts`: optional, milliseconds since the epoch; absent means now. */
function tsParam(r: EdgeRequest): number {
  const raw = r.url.searchParams.get("ts");
  if (raw === null) return Date.now();
  if (!/^-?[0-9]{1,16}$/.test(raw) || !Number.isSafeInteger(Number(raw))) throw invalidParam("'ts' must be an integer");
  return Number(raw);
}
