/**
 * Thumbnail requests and what to make for them. https://spec.matrix.org/v1.19/client-server-api/#thumbnails
 *
 * - scale: keep the aspect ratio and fit inside width × height (one side equals
 *   the request, the other is at most the request).
 * - crop: the requested aspect ratio, exactly width × height, cut from the middle
 *   of the image scaled to cover the box.
 * - Never upscale. Content no larger than the request is served as it is — or,
 *   when it is animated and no animation was asked for, as a still of the same
 *   size (the spec: without `animated=true` the server should not, and with
 *   `animated=false` must not, return an animated thumbnail).
 */
import { invalidParam, missingParam } from "../errors.ts";

export type ThumbnailMethod = "crop" | "scale";

export interface ThumbnailRequest {
  width: number;
  height: number;
  method: ThumbnailMethod;
  /** The `animated` query parameter; undefined when absent. */
  animated?: boolean;
}

/** Requests beyond this are treated as this (anything bigger is served as the original anyway). */
export const MAX_THUMBNAIL_DIMENSION = 8192;

export function parseThumbnailRequest(query: URLSearchParams): ThumbnailRequest {
  const dim = (name: "width" | "height") => {
    const raw = query.get(name);
    if (raw === null) throw missingParam(`Missing '${name}'`);
    if (!/^[0-9]{1,9}$/.test(raw) || Number(raw) < 1) throw invalidParam(`'${name}' must be a positive integer`);
    return Math.min(Number(raw), MAX_THUMBNAIL_DIMENSION);
  };
  const width = dim("width");
  const height = dim("height");
  const method = query.get("method") ?? "scale";
  if (method !== "scale" && method !== "crop") throw invalidParam("'method' must be 'crop' or 'scale'");
  const req: ThumbnailRequest = { width, height, method };
  const animated = query.get("animated");
  if (animated !== null) {
    if (animated !== "true" && animated !== "false") throw invalidParam("'animated' must be true or false");
    req.animated = animated === "true";
  }
  return req;
}

export interface SourceImage {
  width: number;
  height: number;
  animated: boolean;
}

/**
 * Serve the upload itself, or render: resize the (first frame of the) image to
 * `resize`, then cut `crop` out of the result when given.
 */
export type ThumbnailPlan =
  | { kind: "original" }
  | {
      kind: "render";
      resize: { width: number; height: number };
      crop?: { x: number; y: number; width: number; height: number };
    };

export function planThumbnail(src: SourceImage, req: ThumbnailRequest): ThumbnailPlan {
  const { width: W, height: H } = src;
  const { width: w, height: h } = req;
  const still = req.animated !== true && src.animated;
  if (W <= w && H <= h) return still ? { kind: "render", resize: { width: W, height: H } } : { kind: "original" };

  if (req.method === "scale") {
    const s = Math.min(w / W, h / H); // < 1: one side is larger than asked
    return { kind: "render", resize: { width: Math.max(1, Math.round(W * s)), height: Math.max(1, Math.round(H * s)) } };
  }

  const s = Math.max(w / W, h / H);
  if (s >= 1) {
    // Covering the box would need upscaling: cut the largest part of the box the image has.
    const cw = Math.min(W, w);
    const ch = Math.min(H, h);
    return {
      kind: "render",
      resize: { width: W, height: H },
      crop: { x: Math.floor((W - cw) / 2), y: Math.floor((H - ch) / 2), width: cw, height: ch },
    };
  }
  const rw = Math.min(W, Math.max(w, Math.round(W * s)));
  const rh = Math.min(H, Math.max(h, Math.round(H * s)));
  return {
    kind: "render",
    resize: { width: rw, height: rh },
    crop: { x: Math.floor((rw - w) / 2), y: Math.floor((rh - h) / 2), width: w, height: h },
  };
}

/** A stable name for a rendered plan (thumbnails are stored under it). */
export function planKey(plan: Extract<ThumbnailPlan, { kind: "render" }>, format: "png" | "jpeg"): string {
  const c = plan.crop;
  return `${plan.resize.width}x${plan.resize.height}${c ? `-c${c.x},${c.y},${c.width}x${c.height}` : ""}.${format}`;
}

/** Thumbnails keep JPEG as JPEG; everything else becomes PNG (lossless, always inline-safe). */
export function thumbnailFormat(sourceMime: string): { format: "png" | "jpeg"; mime: "image/png" | "image/jpeg" } {
  return sourceMime === "image/jpeg" ? { format: "jpeg", mime: "image/jpeg" } : { format: "png", mime: "image/png" };
}
