// Thumbnail requests and plans. https://spec.matrix.org/v1.19/client-server-api/#thumbnails
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MatrixError } from "../../../lib/errors.ts";
import {
  MAX_THUMBNAIL_DIMENSION,
  parseThumbnailRequest,
  planKey,
  planThumbnail,
  thumbnailFormat,
  type ThumbnailPlan,
  type ThumbnailRequest,
} from "../../../lib/media/thumbnail.ts";

const q = (s: string) => new URLSearchParams(s);
function errcode(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof MatrixError) return e.errcode;
    throw e;
  }
  return "none";
}
/** The size a plan produces. */
function outSize(p: ThumbnailPlan, src: { width: number; height: number }) {
  if (p.kind === "original") return src;
  return p.crop ? { width: p.crop.width, height: p.crop.height } : p.resize;
}

describe("[media: thumbnail] query parameters", () => {
  it("[media: thumbnail] width and height are required positive integers; method defaults to scale", () => {
    expect(parseThumbnailRequest(q("width=64&height=32"))).toEqual({ width: 64, height: 32, method: "scale" });
    expect(parseThumbnailRequest(q("width=64&height=32&method=crop&animated=true"))).toEqual({ width: 64, height: 32, method: "crop", animated: true });
    expect(parseThumbnailRequest(q("width=1&height=1&animated=false")).animated).toBe(false);
    expect(errcode(() => parseThumbnailRequest(q("height=32")))).toBe("M_MISSING_PARAM");
    expect(errcode(() => parseThumbnailRequest(q("width=32")))).toBe("M_MISSING_PARAM");
    for (const bad of ["width=0&height=1", "width=-1&height=1", "width=1.5&height=1", "width=abc&height=1", "width=&height=1", "width=1e3&height=1"]) {
      expect(errcode(() => parseThumbnailRequest(q(bad)))).toBe("M_INVALID_PARAM");
    }
    expect(errcode(() => parseThumbnailRequest(q("width=1&height=1&method=stretch")))).toBe("M_INVALID_PARAM");
    expect(errcode(() => parseThumbnailRequest(q("width=1&height=1&animated=yes")))).toBe("M_INVALID_PARAM");
    expect(parseThumbnailRequest(q("width=999999999&height=5")).width).toBe(MAX_THUMBNAIL_DIMENSION);
  });
});

describe("[media: thumbnail] plans", () => {
  const still = { width: 800, height: 600, animated: false };
  const req = (width: number, height: number, method: "crop" | "scale", animated?: boolean): ThumbnailRequest =>
    animated === undefined ? { width, height, method } : { width, height, method, animated };

  it("[media: thumbnail] the spec's recommended sizes from an 800x600 image", () => {
    expect(planThumbnail(still, req(32, 32, "crop"))).toEqual({ kind: "render", resize: { width: 43, height: 32 }, crop: { x: 5, y: 0, width: 32, height: 32 } });
    expect(planThumbnail(still, req(96, 96, "crop"))).toEqual({ kind: "render", resize: { width: 128, height: 96 }, crop: { x: 16, y: 0, width: 96, height: 96 } });
    expect(planThumbnail(still, req(320, 240, "scale"))).toEqual({ kind: "render", resize: { width: 320, height: 240 } });
    expect(planThumbnail(still, req(640, 480, "scale"))).toEqual({ kind: "render", resize: { width: 640, height: 480 } });
    expect(planThumbnail(still, req(800, 600, "scale"))).toEqual({ kind: "original" });
  });

  it("[media: thumbnail] scale keeps the aspect ratio and fits inside the request", () => {
    expect(planThumbnail(still, req(100, 100, "scale"))).toEqual({ kind: "render", resize: { width: 100, height: 75 } });
    expect(planThumbnail({ width: 1000, height: 10, animated: false }, req(100, 100, "scale"))).toEqual({ kind: "render", resize: { width: 100, height: 1 } });
  });

  it("[media: thumbnail] content no larger than the request is served as it is (never upscaled)", () => {
    expect(planThumbnail(still, req(1000, 1000, "scale"))).toEqual({ kind: "original" });
    expect(planThumbnail(still, req(1000, 1000, "crop"))).toEqual({ kind: "original" });
  });

  it("[media: thumbnail] crop that would need upscaling cuts the part of the box the image has", () => {
    expect(planThumbnail({ width: 100, height: 50, animated: false }, req(80, 80, "crop"))).toEqual({
      kind: "render",
      resize: { width: 100, height: 50 },
      crop: { x: 10, y: 0, width: 80, height: 50 },
    });
  });

  it("[media: thumbnail] animated content: a still unless animation was asked for", () => {
    const anim = { width: 120, height: 90, animated: true };
    expect(planThumbnail(anim, req(200, 200, "scale", true))).toEqual({ kind: "original" });
    expect(planThumbnail(anim, req(200, 200, "scale", false))).toEqual({ kind: "render", resize: { width: 120, height: 90 } });
    expect(planThumbnail(anim, req(200, 200, "scale"))).toEqual({ kind: "render", resize: { width: 120, height: 90 } });
    expect(planThumbnail(anim, req(60, 60, "scale", true))).toEqual({ kind: "render", resize: { width: 60, height: 45 } });
  });

  it("[media: thumbnail] properties: never upscaled; crop is exact when the source covers it; scale fits and touches a side", () => {
    const dim = fc.integer({ min: 1, max: 3000 });
    fc.assert(
      fc.property(dim, dim, dim, dim, fc.constantFrom("crop" as const, "scale" as const), (W, H, w, h, method) => {
        const src = { width: W, height: H, animated: false };
        const p = planThumbnail(src, { width: w, height: h, method });
        const out = outSize(p, src);
        if (p.kind === "render") {
          expect(p.resize.width).toBeLessThanOrEqual(W);
          expect(p.resize.height).toBeLessThanOrEqual(H);
          if (p.crop) {
            expect(p.crop.x + p.crop.width).toBeLessThanOrEqual(p.resize.width);
            expect(p.crop.y + p.crop.height).toBeLessThanOrEqual(p.resize.height);
          }
        }
        if (W <= w && H <= h) expect(p).toEqual({ kind: "original" });
        else if (method === "crop") {
          expect(out).toEqual({ width: Math.min(w, W), height: Math.min(h, H) });
        } else {
          expect(out.width).toBeLessThanOrEqual(w);
          expect(out.height).toBeLessThanOrEqual(h);
          expect(out.width === w || out.height === h || out.width === 1 || out.height === 1).toBe(true);
          // Aspect ratio kept: each side is the source side times one factor, to within rounding
          // (or a single pixel, for slivers).
          const s = Math.min(w / W, h / H);
          expect(out.width === 1 || Math.abs(out.width - W * s) <= 0.5 + 1e-9).toBe(true);
          expect(out.height === 1 || Math.abs(out.height - H * s) <= 0.5 + 1e-9).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("[media: thumbnail] JPEG stays JPEG, everything else becomes PNG; plan keys name the render", () => {
    expect(thumbnailFormat("image/jpeg")).toEqual({ format: "jpeg", mime: "image/jpeg" });
    for (const m of ["image/png", "image/gif", "image/webp"]) expect(thumbnailFormat(m)).toEqual({ format: "png", mime: "image/png" });
    expect(planKey({ kind: "render", resize: { width: 43, height: 32 }, crop: { x: 5, y: 0, width: 32, height: 32 } }, "png")).toBe("43x32-c5,0,32x32.png");
    expect(planKey({ kind: "render", resize: { width: 320, height: 240 } }, "jpeg")).toBe("320x240.jpeg");
  });
});
