// Image headers: format, dimensions and animation, read without decoding.
// Images come from real encoders (photon, ImageMagick, libwebp), not from this code.
import { PhotonImage } from "@cf-wasm/photon/node";
import { describe, expect, it } from "vitest";
import { imageInfo } from "../../../lib/media/image-info.ts";
import * as fx from "./fixtures/images.ts";

function photon(width: number, height: number): PhotonImage {
  const px = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) px.set([i % 251, (i * 7) % 253, 128, 255], i * 4);
  return new PhotonImage(px, width, height);
}

/** A PNG chunk (CRC left zero: the header reader does not check it). */
function chunk(type: string, data: number[]): number[] {
  const n = data.length;
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255, ...[...type].map((c) => c.charCodeAt(0)), ...data, 0, 0, 0, 0];
}

describe("[media: thumbnails] image headers", () => {
  it("[media: image-info] PNG, JPEG and lossless WebP from photon: format and size", () => {
    for (const [w, h] of [[1, 1], [37, 19], [640, 480], [1000, 3]] as const) {
      const img = photon(w, h);
      expect(imageInfo(img.get_bytes())).toEqual({ format: "png", mime: "image/png", width: w, height: h, animated: false });
      expect(imageInfo(img.get_bytes_jpeg(80))).toEqual({ format: "jpeg", mime: "image/jpeg", width: w, height: h, animated: false });
      expect(imageInfo(img.get_bytes_webp())).toEqual({ format: "webp", mime: "image/webp", width: w, height: h, animated: false });
      img.free();
    }
  });

  it("[media: image-info] GIF and WebP made by ImageMagick and libwebp, still and animated", () => {
    expect(imageInfo(fx.bytes(fx.STATIC_GIF_120x90))).toEqual({ format: "gif", mime: "image/gif", width: 120, height: 90, animated: false });
    expect(imageInfo(fx.bytes(fx.ANIMATED_GIF_120x90))).toEqual({ format: "gif", mime: "image/gif", width: 120, height: 90, animated: true });
    expect(imageInfo(fx.bytes(fx.TINY_GIF_40x30))).toMatchObject({ format: "gif", width: 40, height: 30, animated: false });
    expect(imageInfo(fx.bytes(fx.LOSSY_WEBP_120x90))).toEqual({ format: "webp", mime: "image/webp", width: 120, height: 90, animated: false });
    expect(imageInfo(fx.bytes(fx.ANIMATED_WEBP_120x90))).toEqual({ format: "webp", mime: "image/webp", width: 120, height: 90, animated: true });
  });

  it("[media: image-info] APNG is recognised by its acTL chunk before the image data", () => {
    const png = [...photon(8, 4).get_bytes()];
    const ihdrEnd = 8 + 25;
    const apng = Uint8Array.from([...png.slice(0, ihdrEnd), ...chunk("acTL", [0, 0, 0, 2, 0, 0, 0, 0]), ...png.slice(ihdrEnd)]);
    expect(imageInfo(apng)).toMatchObject({ format: "png", width: 8, height: 4, animated: true });
    // acTL after IDAT does not count.
    const late = Uint8Array.from([...png.slice(0, png.length - 12), ...chunk("acTL", [0, 0, 0, 2, 0, 0, 0, 0]), ...png.slice(png.length - 12)]);
    expect(imageInfo(late)?.animated).toBe(false);
  });

  it("[media: image-info] JPEG: the frame header is found past APP segments and fill bytes, in progressive files too", () => {
    const jpg = [...photon(30, 20).get_bytes_jpeg(90)];
    const app1 = [0xff, 0xe1, 0x00, 0x06, 0x45, 0x78, 0x69, 0x66]; // APP1 "Exif", length 6
    const withApp = Uint8Array.from([0xff, 0xd8, ...app1, 0xff, 0xff, ...jpg.slice(2)]);
    expect(imageInfo(withApp)).toMatchObject({ format: "jpeg", width: 30, height: 20 });
    // SOF2 (progressive) carries the size the same way.
    const sof2 = Uint8Array.from([0xff, 0xd8, 0xff, 0xc2, 0x00, 0x0b, 0x08, 0x00, 0x07, 0x00, 0x09, 0x01, 0x01, 0x11, 0x00]);
    expect(imageInfo(sof2)).toMatchObject({ format: "jpeg", width: 9, height: 7 });
    // DHT (C4) is not a frame header.
    const dhtFirst = Uint8Array.from([0xff, 0xd8, 0xff, 0xc4, 0x00, 0x04, 0x00, 0x00, 0xff, 0xc0, 0x00, 0x0b, 0x08, 0x00, 0x03, 0x00, 0x05, 0x01, 0x01, 0x11, 0x00]);
    expect(imageInfo(dhtFirst)).toMatchObject({ width: 5, height: 3 });
  });

  it("[media: image-info] truncated, empty, zero-sized or foreign data is not an image", () => {
    const png = photon(10, 10).get_bytes();
    const jpg = photon(10, 10).get_bytes_jpeg(80);
    const gif = fx.bytes(fx.STATIC_GIF_120x90);
    for (const bad of [
      new Uint8Array(0),
      png.slice(0, 20),
      jpg.slice(0, 4),
      gif.slice(0, 8),
      fx.bytes(fx.LOSSY_WEBP_120x90).slice(0, 24),
      new TextEncoder().encode("<html><script>alert(1)</script></html>"),
      new TextEncoder().encode("GIF89a"),
      Uint8Array.from([0xff, 0xd8, 0xff, 0xda, 0, 2]),
    ]) {
      expect(imageInfo(bad)).toBeUndefined();
    }
    const zero = Uint8Array.from(png);
    zero.set([0, 0, 0, 0], 16); // IHDR width 0
    expect(imageInfo(zero)).toBeUndefined();
  });

  it("[media: image-info] GIF: a missing trailer is tolerated, a cut inside a frame is not", () => {
    const gif = fx.bytes(fx.ANIMATED_GIF_120x90);
    expect(gif[gif.length - 1]).toBe(0x3b);
    expect(imageInfo(gif.slice(0, gif.length - 1))).toMatchObject({ format: "gif", width: 120, height: 90, animated: true });
    expect(imageInfo(gif.slice(0, 100))).toBeUndefined();
  });
});
