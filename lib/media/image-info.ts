/**
 * What an image file is, read from its header only: format, pixel dimensions,
 * and whether it is animated. No decoding — this decides whether an image may
 * be decoded at all (pixel limits) before a codec touches hostile bytes, and lets
 * tests check the size of a thumbnail.
 *
 * Formats: PNG (and APNG), JPEG, GIF, WebP (VP8, VP8L, VP8X) — those the
 * thumbnailer handles. Anything else, or a truncated header, is undefined.
 */

export type ImageFormat = "png" | "jpeg" | "gif" | "webp";

export interface ImageInfo {
  format: ImageFormat;
  /** The format's content type. */
  mime: "image/png" | "image/jpeg" | "image/gif" | "image/webp";
  width: number;
  height: number;
  /** APNG (acTL chunk), a GIF with more than one frame, or WebP with the animation flag. */
  animated: boolean;
}

const MIME: Record<ImageFormat, ImageInfo["mime"]> = {
  png: "image/png",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
};

export function imageInfo(b: Uint8Array): ImageInfo | undefined {
  try {
    const found = png(b) ?? jpeg(b) ?? gif(b) ?? webp(b);
    if (!found || found.width <= 0 || found.height <= 0) return undefined;
    return { ...found, mime: MIME[found.format] };
  } catch (e) {
    if (e instanceof Truncated) return undefined;
    throw e;
  }
}

class Truncated extends Error {}

function u8(b: Uint8Array, i: number): number {
  if (i >= b.length) throw new Truncated();
  return b[i]!;
}
const be16 = (b: Uint8Array, i: number) => (u8(b, i) << 8) | u8(b, i + 1);
const le16 = (b: Uint8Array, i: number) => u8(b, i) | (u8(b, i + 1) << 8);
const be32 = (b: Uint8Array, i: number) => be16(b, i) * 65536 + be16(b, i + 2);
const le24 = (b: Uint8Array, i: number) => u8(b, i) | (u8(b, i + 1) << 8) | (u8(b, i + 2) << 16);
const ascii = (b: Uint8Array, i: number, n: number) => String.fromCharCode(...Array.from({ length: n }, (_, k) => u8(b, i + k)));

type Found = Omit<ImageInfo, "mime">;

function png(b: Uint8Array): Found | undefined {
  const SIG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (b.length < 8 || SIG.some((v, i) => b[i] !== v)) return undefined;
  if (ascii(b, 12, 4) !== "IHDR") return undefined;
  const width = be32(b, 16);
  const height = be32(b, 20);
  // APNG declares itself with an acTL chunk before the first IDAT.
  let animated = false;
  for (let at = 8; at + 8 <= b.length; ) {
    const len = be32(b, at);
    const type = ascii(b, at + 4, 4);
    if (type === "acTL") animated = true;
    if (type === "IDAT" || type === "IEND" || animated) break;
    at += 12 + len;
  }
  return { format: "png", width, height, animated };
}

function jpeg(b: Uint8Array): Found | undefined {
  if (b.length < 3 || b[0] !== 0xff || b[1] !== 0xd8) return undefined;
  let at = 2;
  for (;;) {
    if (u8(b, at) !== 0xff) return undefined;
    let marker = u8(b, at + 1);
    while (marker === 0xff) marker = u8(b, ++at + 1); // fill bytes
    at += 2;
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue; // no length
    if (marker === 0xd9 || marker === 0xda) return undefined; // end, or scan data before any frame header
    const len = be16(b, at);
    // SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { format: "jpeg", height: be16(b, at + 3), width: be16(b, at + 5), animated: false };
    }
    if (len < 2) return undefined;
    at += len;
  }
}

function gif(b: Uint8Array): Found | undefined {
  const sig = b.length >= 6 ? ascii(b, 0, 6) : "";
  if (sig !== "GIF87a" && sig !== "GIF89a") return undefined;
  const width = le16(b, 6);
  const height = le16(b, 8);
  const flags = u8(b, 10);
  let at = 13 + (flags & 0x80 ? 3 * 2 ** ((flags & 7) + 1) : 0);
  let frames = 0;
  const skipSubBlocks = () => {
    for (let size = u8(b, at); size !== 0; size = u8(b, at)) at += size + 1;
    at += 1;
  };
  // Count image descriptors; two are enough to call it animated.
  while (frames < 2 && at < b.length) {
    const block = u8(b, at);
    if (block === 0x3b) break; // trailer
    if (block === 0x21) {
      at += 2; // introducer, label
      skipSubBlocks();
    } else if (block === 0x2c) {
      frames++;
      const local = u8(b, at + 9);
      at += 10 + (local & 0x80 ? 3 * 2 ** ((local & 7) + 1) : 0);
      at += 1; // LZW minimum code size
      skipSubBlocks();
    } else {
      break; // corrupt: what we know so far stands
    }
  }
  return { format: "gif", width, height, animated: frames > 1 };
}

function webp(b: Uint8Array): Found | undefined {
  if (b.length < 16 || ascii(b, 0, 4) !== "RIFF" || ascii(b, 8, 4) !== "WEBP") return undefined;
  const chunk = ascii(b, 12, 4);
  const d = 20; // chunk data
  if (chunk === "VP8 ") {
    if (u8(b, d + 3) !== 0x9d || u8(b, d + 4) !== 0x01 || u8(b, d + 5) !== 0x2a) return undefined;
    return { format: "webp", width: le16(b, d + 6) & 0x3fff, height: le16(b, d + 8) & 0x3fff, animated: false };
  }
  if (chunk === "VP8L") {
    if (u8(b, d) !== 0x2f) return undefined;
    const bits = u8(b, d + 1) | (u8(b, d + 2) << 8) | (u8(b, d + 3) << 16) | (u8(b, d + 4) << 24);
    return { format: "webp", width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1, animated: false };
  }
  if (chunk === "VP8X") {
    const animated = (u8(b, d) & 0x02) !== 0;
    return { format: "webp", width: le24(b, d + 4) + 1, height: le24(b, d + 7) + 1, animated };
  }
  return undefined;
}
