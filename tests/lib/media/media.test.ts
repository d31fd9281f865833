// Media IDs, mxc URIs, Content-Disposition and content types.
// https://spec.matrix.org/v1.19/client-server-api/#content-repository
import { describe, expect, it } from "vitest";
import {
  DEFAULT_CONTENT_TYPE,
  INLINE_CONTENT_TYPES,
  MEDIA_SECURITY_HEADERS,
  contentDisposition,
  filenameParameter,
  isInlineSafe,
  mediaTypeEssence,
  uploadContentType,
} from "../../../lib/media/content-disposition.ts";
import { MEDIA_ID_RANDOM_BYTES, generateMediaId, isValidMediaId, mxcUri, parseMxcUri } from "../../../lib/media/media-id.ts";

describe("[media: mxc] media IDs", () => {
  it("[media: mxc] generated IDs use only [A-Za-z0-9_-] and carry at least 128 random bits", () => {
    expect(MEDIA_ID_RANDOM_BYTES * 8).toBeGreaterThanOrEqual(128);
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const id = generateMediaId();
      expect(id).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(isValidMediaId(id)).toBe(true);
      seen.add(id);
    }
    expect(seen.size).toBe(2000);
  });

  it("[media: security] media IDs outside [A-Za-z0-9_-] are refused (path traversal)", () => {
    for (const bad of ["", "..", "a/b", "a%2Fb", "a.b", "a b", "ä", "x".repeat(256)]) expect(isValidMediaId(bad)).toBe(false);
    expect(isValidMediaId("AQwafuaFswefuhsfAFAgsw")).toBe(true);
  });

  it("[media: mxc] mxc URIs are built and parsed; invalid server names or IDs are refused", () => {
    expect(mxcUri("example.com", "abc")).toBe("mxc://example.com/abc");
    expect(parseMxcUri("mxc://example.com:8448/AQwafu_-9")).toEqual({ serverName: "example.com:8448", mediaId: "AQwafu_-9" });
    for (const bad of ["mxc://127.0.0.1/../../etc/passwd", "mxc://ex ample.com/a", "mxc://example.com/a.b", "http://example.com/a", "mxc://example.com/"]) {
      expect(parseMxcUri(bad)).toBeUndefined();
    }
  });
});

describe("[media: serving inline content] Content-Disposition", () => {
  it("[media: inline] exactly the spec's types are served inline, parameters and case ignored", () => {
    expect(INLINE_CONTENT_TYPES.size).toBe(26);
    expect(isInlineSafe("image/png")).toBe(true);
    expect(isInlineSafe("Image/PNG")).toBe(true);
    expect(isInlineSafe("text/plain; charset=utf-8")).toBe(true);
    for (const t of ["text/html", "image/svg+xml", "application/javascript", "application/xhtml+xml", "application/pdf", "application/octet-stream", "text/xml"]) {
      expect(isInlineSafe(t)).toBe(false);
    }
    expect(mediaTypeEssence(" Text/Plain ; charset=UTF-8")).toBe("text/plain");
  });

  it("[media: Content-Disposition] inline for safe types, attachment otherwise; filename only when there is one", () => {
    expect(contentDisposition("image/jpeg", "filename.jpg")).toBe('inline; filename="filename.jpg"');
    expect(contentDisposition("text/html", "page.html")).toBe('attachment; filename="page.html"');
    expect(contentDisposition("image/png")).toBe("inline");
    expect(contentDisposition("application/x-evil", null)).toBe("attachment");
    expect(contentDisposition("text/html", "t.png", true)).toBe('inline; filename="t.png"');
  });

  it("[media: Content-Disposition] names that cannot be quoted as ASCII use RFC 5987 filename*", () => {
    expect(filenameParameter("plain name.txt")).toBe('filename="plain name.txt"');
    expect(filenameParameter("Grüße.txt")).toBe("filename*=utf-8''Gr%C3%BC%C3%9Fe.txt");
    expect(filenameParameter('say "hi".txt')).toBe("filename*=utf-8''say%20%22hi%22.txt");
    expect(filenameParameter("back\\slash")).toBe("filename*=utf-8''back%5Cslash");
    expect(filenameParameter("line\r\nbreak")).toBe("filename*=utf-8''line%0D%0Abreak");
    expect(filenameParameter("🎉.png")).toBe("filename*=utf-8''%F0%9F%8E%89.png");
    // The encoding round-trips to the same name.
    const name = "naïve résumé (final) ;=%.pdf";
    const enc = filenameParameter(name).replace("filename*=utf-8''", "");
    expect(decodeURIComponent(enc)).toBe(name);
    expect(enc).toMatch(/^[A-Za-z0-9!#$&+\-.^_`|~%]+$/);
  });

  it("[media: security headers] the spec's Content-Security-Policy, nosniff and CORP cross-origin", () => {
    expect(MEDIA_SECURITY_HEADERS).toEqual({
      "Content-Security-Policy":
        "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; object-src 'self';",
      "X-Content-Type-Options": "nosniff",
      "Cross-Origin-Resource-Policy": "cross-origin",
    });
  });
});

describe("[media: upload] content types", () => {
  it("[media: Content-Type] a well-formed type is kept as sent", () => {
    for (const t of ["image/png", "text/plain; charset=utf-8", 'text/plain;charset="utf-8"', "application/vnd.example+json", "Image/PNG"]) {
      expect(uploadContentType(t)).toBe(t);
    }
    expect(uploadContentType("  image/png  ")).toBe("image/png");
  });

  it("[media: Content-Type] absent, malformed or oversized types become application/octet-stream", () => {
    for (const t of [null, "", "png", "image/", "/png", "image/png;", "image/png; x", "text/plain; a=\"unterminated", "a/" + "b".repeat(300), "image /png"]) {
      expect(uploadContentType(t)).toBe(DEFAULT_CONTENT_TYPE);
    }
  });
});
