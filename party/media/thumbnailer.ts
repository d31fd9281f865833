/**
 * Renders a thumbnail plan (lib/media/thumbnail.ts) with photon, a Rust image
 * library compiled to WebAssembly that runs in workerd (@cf-wasm/photon). It
 * decodes PNG, JPEG, GIF and WebP (the first frame of animations), resizes with
 * a Lanczos filter, crops, and encodes PNG or JPEG. No codec code of our own.
 *
 * The caller has already checked the image's header (lib/media/image-info.ts)
 * against the pixel limit: decoding needs about 4 bytes per pixel, more than
 * once over, inside a 128 MB isolate.
 */
import { PhotonImage, SamplingFilter, crop, resize } from "@cf-wasm/photon/workerd";
import type { ThumbnailPlan } from "../../lib/media/thumbnail.ts";

export const JPEG_QUALITY = 80;

export class ThumbnailError extends Error {
  override name = "ThumbnailError";
}

type Render = Extract<ThumbnailPlan, { kind: "render" }>;

export function renderThumbnail(source: Uint8Array, plan: Render, format: "png" | "jpeg"): Uint8Array {
  const images: PhotonImage[] = [];
  // WASM memory is not garbage-collected: every image is freed, whatever happens.
  const keep = (img: PhotonImage) => (images.push(img), img);
  try {
    let img: PhotonImage;
    try {
      img = keep(PhotonImage.new_from_byteslice(source));
    } catch (e) {
      throw new ThumbnailError(`cannot decode image: ${String(e)}`);
    }
    if (img.get_width() !== plan.resize.width || img.get_height() !== plan.resize.height) {
      img = keep(resize(img, plan.resize.width, plan.resize.height, SamplingFilter.Lanczos3));
    }
    if (plan.crop) {
      const c = plan.crop;
      img = keep(crop(img, c.x, c.y, c.x + c.width, c.y + c.height));
    }
    return format === "jpeg" ? img.get_bytes_jpeg(JPEG_QUALITY) : img.get_bytes();
  } finally {
    for (const i of images) i.free();
  }
}
