/**
 * The OpenGraph answer of a URL preview, from what was read off a page
 * (https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv1mediapreview_url,
 * https://ogp.me/). The page is read by the Worker's HTMLRewriter
 * (party/media/preview.ts); this file only decides what the answer says.
 */

/** The response body: OpenGraph properties, plus the spec's `matrix:image:size`. */
export type OpenGraph = Record<string, string | number>;

/** What the HTML reader collects, in document order. */
export interface ScrapedPage {
  /** `<meta property="og:…" content>` (or `name="og:…"`), in document order. */
  og: Array<readonly [string, string]>;
  /** Text of the first `<title>`. */
  title?: string;
  /** `<meta name="description" content>`. */
  description?: string;
  /** `src` of the first `<img>`. */
  firstImage?: string;
  /** `href` of the first `<base>`, if any (relative image URLs resolve against it). */
  baseHref?: string;
}

export interface OpenGraphLimits {
  /** Properties kept at most (the first ones in the document). */
  maxTags: number;
  /** Longer values are dropped, not cut (a cut URL or title would be wrong). */
  maxValueLength: number;
}

/** An OpenGraph property name: `og:` and a short lower-case path (`og:image:alt`, `og:video:url`). */
const OG_NAME = /^og:[a-z0-9_]+(?::[a-z0-9_]+){0,3}$/;
const MAX_NAME_LENGTH = 50;

/** og:image and its structured properties describe the remote image; the server's copy replaces them. */
const isImageProperty = (name: string) => name === "og:image" || name.startsWith("og:image:");

/** Collapses runs of whitespace (titles and descriptions keep their words, not the page's layout). */
export function collapseWhitespace(s: string): string {
  return s.replace(/\s+/g, " ").trim();
}

/**
 * The page's text properties (everything but the image), with the HTML fallbacks:
 * `<title>` for og:title, `<meta name="description">` for og:description.
 */
export function openGraphText(page: ScrapedPage, limits: OpenGraphLimits): OpenGraph {
  const og: OpenGraph = {};
  let count = 0;
  const add = (name: string, value: string) => {
    if (name in og || count >= limits.maxTags) return;
    const v = collapseWhitespace(value);
    if (v === "" || v.length > limits.maxValueLength) return;
    og[name] = v;
    count++;
  };
  for (const [rawName, value] of page.og) {
    const name = rawName.trim().toLowerCase();
    if (name.length > MAX_NAME_LENGTH || !OG_NAME.test(name) || isImageProperty(name)) continue;
    add(name, value);
  }
  if (page.title !== undefined) add("og:title", page.title);
  if (page.description !== undefined) add("og:description", page.description);
  return og;
}

/**
 * The image to fetch: og:image (or its `:url` / `:secure_url` forms), else the
 * first `<img>`, resolved against the page's base. Only http(s) URLs: `data:`
 * and others are not fetched.
 */
export function imageCandidate(page: ScrapedPage, pageUrl: string): URL | undefined {
  const named = (n: string) => page.og.find(([k, v]) => k.trim().toLowerCase() === n && v.trim() !== "")?.[1];
  const raw = named("og:image") ?? named("og:image:url") ?? named("og:image:secure_url") ?? page.firstImage;
  if (raw === undefined || raw.trim() === "") return undefined;
  let base: URL;
  try {
    base = page.baseHref ? new URL(page.baseHref.trim(), pageUrl) : new URL(pageUrl);
  } catch {
    base = new URL(pageUrl);
  }
  try {
    const url = new URL(raw.trim(), base);
    return url.protocol === "http:" || url.protocol === "https:" ? url : undefined;
  } catch {
    return undefined;
  }
}

/** The image fields of an answer, for an image stored in the media repository. */
export interface StoredImage {
  mxc: string;
  contentType: string;
  size: number;
  width?: number;
  height?: number;
}

export function imageFields(img: StoredImage): OpenGraph {
  const og: OpenGraph = { "og:image": img.mxc, "og:image:type": img.contentType, "matrix:image:size": img.size };
  if (img.width !== undefined && img.height !== undefined) {
    og["og:image:width"] = img.width;
    og["og:image:height"] = img.height;
  }
  return og;
}

/**
 * The cache slot of a request: `ts` (the client's preferred time, never later
 * than now) rounded down to the cache lifetime. A preview answers every request
 * whose `ts` falls in the slot it was made in.
 */
export function cacheSlot(ts: number, now: number, ttlMs: number): number {
  return Math.floor(Math.min(ts, now) / ttlMs);
}

/** The page's content type decides what a preview is made of. */
export function previewKind(contentType: string | null): "html" | "image" | "other" {
  const essence = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  if (essence === "text/html" || essence === "application/xhtml+xml") return "html";
  if (essence.startsWith("image/")) return "image";
  return "other";
}
