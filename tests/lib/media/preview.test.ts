// URL previews, the pure parts: which targets may be fetched (SSRF guard) and how
// a page's facts become the OpenGraph answer.
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv1mediapreview_url
import { describe, expect, it } from "vitest";
import { cacheSlot, imageCandidate, imageFields, openGraphText, previewKind } from "../../../lib/media/preview.ts";
import {
  DEFAULT_BLOCKED_RANGES,
  type PreviewTargetPolicy,
  checkPreviewTarget,
  ipAllowed,
  ipLiteral,
  isLocalHostName,
  parseCidr,
  parseCidrList,
  parseUrlBlocklist,
  urlBlocked,
} from "../../../lib/media/preview-target.ts";

const blockedRanges = DEFAULT_BLOCKED_RANGES.map((r) => parseCidr(r)!);
const policy: PreviewTargetPolicy = { blockedRanges, allowedRanges: [], urlBlocklist: [] };
const verdict = (url: string, p = policy) => checkPreviewTarget(new URL(url), p);

describe("[preview_url: targets] addresses", () => {
  it("[preview_url: ip] IP literals in private, loopback, link-local and unique-local ranges are refused in every spelling", () => {
    for (const url of [
      "http://127.0.0.1/",
      "http://127.255.255.254/",
      "http://0x7f.1/", // the URL parser's normalisation makes these 127.0.0.1
      "http://017700000001/",
      "http://2130706433/",
      "http://10.0.0.1/",
      "http://172.31.255.255/",
      "http://192.168.0.1/",
      "http://100.64.0.1/",
      "http://169.254.169.254/",
      "http://0.0.0.0/",
      "http://224.0.0.1/",
      "http://255.255.255.255/",
      "http://[::1]/",
      "http://[::]/",
      "http://[0:0:0:0:0:0:0:1]/",
      "http://[fe80::1]/",
      "http://[fd12:3456::1]/",
      "http://[fc00::]/",
      "http://[ff02::1]/",
      "http://[::ffff:10.0.0.1]/",
      "http://[::ffff:7f00:1]/",
      "http://[64:ff9b::a9fe:a9fe]/", // NAT64 of 169.254.169.254
      "http://[::127.0.0.1]/",
    ]) {
      expect(verdict(url), url).toEqual({ ok: false, reason: "address" });
    }
  });

  it("[preview_url: ip] public addresses pass", () => {
    for (const url of ["http://1.1.1.1/", "https://8.8.8.8:8443/x", "http://[2606:4700:4700::1111]/", "http://[::ffff:1.1.1.1]/", "http://172.32.0.1/", "http://11.0.0.1/"]) {
      expect(verdict(url), url).toEqual({ ok: true });
    }
  });

  it("[preview_url: ip] the allowlist opens a range inside a blocked one, and only that range", () => {
    const p = { ...policy, allowedRanges: parseCidrList("127.0.0.0/8, ::1") };
    expect(verdict("http://127.0.0.1:9000/", p)).toEqual({ ok: true });
    expect(verdict("http://[::1]/", p)).toEqual({ ok: true });
    expect(verdict("http://10.0.0.1/", p)).toEqual({ ok: false, reason: "address" });
    expect(verdict("http://localhost:9000/", p)).toEqual({ ok: false, reason: "host" });
  });

  it("[preview_url: ip] address and range parsing", () => {
    expect(ipLiteral("[2001:db8::1]")).toEqual(Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1]));
    expect(ipLiteral("1.2.3.4")).toEqual(Uint8Array.from([1, 2, 3, 4]));
    for (const bad of ["example.com", "1.2.3", "1.2.3.256", "[1:2:3:4:5:6:7:8:9]", "[1::2::3]", "[12345::]"]) expect(ipLiteral(bad), bad).toBeUndefined();
    expect(parseCidr("10.0.0.0/8")).toEqual({ bytes: Uint8Array.from([10, 0, 0, 0]), prefix: 8 });
    expect(parseCidr("::1")?.prefix).toBe(128);
    for (const bad of ["10.0.0.0/33", "::/129", "10.0.0.0/", "x/8"]) expect(parseCidr(bad), bad).toBeUndefined();
    expect(() => parseCidrList("10.0.0.0/8, nope")).toThrow(/nope/);
    expect(parseCidrList("")).toEqual([]);
    const r = parseCidrList("172.16.0.0/12");
    expect(ipAllowed(Uint8Array.from([172, 31, 0, 1]), r, [])).toBe(false);
    expect(ipAllowed(Uint8Array.from([172, 32, 0, 1]), r, [])).toBe(true);
  });

  it("[preview_url: names] localhost, local-network suffixes and single-label names are refused; other names pass", () => {
    for (const h of ["localhost", "LOCALHOST", "localhost.", "a.localhost", "printer.local", "db.internal", "nas.home.arpa", "router.lan", "intranet"]) {
      expect(isLocalHostName(h), h).toBe(true);
    }
    for (const h of ["matrix.org", "example.com", "localhost.example.com", "local.example"]) expect(isLocalHostName(h), h).toBe(false);
    expect(verdict("http://intranet/")).toEqual({ ok: false, reason: "host" });
    expect(verdict("https://matrix.org/")).toEqual({ ok: true });
    expect(verdict("ftp://matrix.org/")).toEqual({ ok: false, reason: "scheme" });
  });
});

describe("[preview_url: targets] URL blocklist", () => {
  it("[preview_url: blocklist] an entry blocks when all its parts match: globs, ^regex, absent parts never match", () => {
    const rules = parseUrlBlocklist(
      JSON.stringify([
        { username: "*" },
        { netloc: "google.com" },
        { netloc: "*.google.com" },
        { netloc: "^.*\\.twitter\\.com$", path: "/foo*" },
        { scheme: "http" },
        { port: "8[0-9][0-9][0-9]" },
      ]),
    );
    const blocked = (u: string) => urlBlocked(new URL(u), rules);
    expect(blocked("https://google.com/x")).toBe(true);
    expect(blocked("https://mail.google.com/")).toBe(true);
    expect(blocked("https://notgoogle.com/")).toBe(false);
    expect(blocked("https://x.twitter.com/foobar")).toBe(true);
    expect(blocked("https://x.twitter.com/bar")).toBe(false);
    expect(blocked("http://example.com/")).toBe(true);
    expect(blocked("https://user@example.com/")).toBe(true);
    expect(blocked("https://example.com/")).toBe(false);
    expect(blocked("https://example.com:8080/")).toBe(true);
    expect(blocked("https://example.com:9090/")).toBe(false);
    expect(checkPreviewTarget(new URL("https://mail.google.com/"), { ...policy, urlBlocklist: rules })).toEqual({ ok: false, reason: "blocklist" });
  });

  it("[preview_url: blocklist] malformed settings are refused with the reason", () => {
    expect(parseUrlBlocklist(undefined)).toEqual([]);
    expect(() => parseUrlBlocklist("[")).toThrow(/JSON/);
    expect(() => parseUrlBlocklist('{"netloc":"x"}')).toThrow(/array/);
    expect(() => parseUrlBlocklist('[{"host":"x"}]')).toThrow(/unknown URL part/);
    expect(() => parseUrlBlocklist('[{"path":1}]')).toThrow(/string/);
    expect(() => parseUrlBlocklist("[{}]")).toThrow(/empty/);
    expect(() => parseUrlBlocklist('[{"path":"^("}]')).toThrow(/regular expression/);
  });
});

describe("[preview_url: og] the answer", () => {
  const limits = { maxTags: 50, maxValueLength: 1000 };

  it("[preview_url: og] og: properties in document order, first wins; <title> and description fill gaps; image properties are left to the stored copy", () => {
    const og = openGraphText(
      {
        og: [
          ["og:title", " A  title\n"],
          ["OG:Type", "website"],
          ["og:title", "second"],
          ["og:image", "https://x/i.png"],
          ["og:image:width", "10"],
          ["og:bad name", "x"],
          ["og:empty", "   "],
        ],
        title: "HTML title",
        description: "Described",
      },
      limits,
    );
    expect(og).toEqual({ "og:title": "A title", "og:type": "website", "og:description": "Described" });
  });

  it("[preview_url: og] limits: at most maxTags properties; longer values dropped", () => {
    const og = openGraphText({ og: [["og:a", "1"], ["og:b", "x".repeat(11)], ["og:c", "3"], ["og:d", "4"]], title: "t" }, { maxTags: 2, maxValueLength: 10 });
    expect(og).toEqual({ "og:a": "1", "og:c": "3" });
  });

  it("[preview_url: og:image] og:image, then its :url/:secure_url forms, then the first <img>; relative to <base> or the page; http(s) only", () => {
    const page = "https://example.com/a/b.html";
    expect(imageCandidate({ og: [["og:image", "/i.png"]], firstImage: "f.png" }, page)?.href).toBe("https://example.com/i.png");
    expect(imageCandidate({ og: [["og:image:secure_url", "https://cdn.example/s.png"]] }, page)?.href).toBe("https://cdn.example/s.png");
    expect(imageCandidate({ og: [], firstImage: "f.png" }, page)?.href).toBe("https://example.com/a/f.png");
    expect(imageCandidate({ og: [], firstImage: "f.png", baseHref: "https://static.example/img/" }, page)?.href).toBe("https://static.example/img/f.png");
    expect(imageCandidate({ og: [["og:image", "data:image/png;base64,AAAA"]] }, page)).toBeUndefined();
    expect(imageCandidate({ og: [["og:image", "javascript:alert(1)"]] }, page)).toBeUndefined();
    expect(imageCandidate({ og: [] }, page)).toBeUndefined();
  });

  it("[preview_url: og:image] image fields carry mxc, type, size, and dimensions when known", () => {
    expect(imageFields({ mxc: "mxc://s/m", contentType: "image/png", size: 5, width: 2, height: 3 })).toEqual({
      "og:image": "mxc://s/m",
      "og:image:type": "image/png",
      "matrix:image:size": 5,
      "og:image:width": 2,
      "og:image:height": 3,
    });
    expect(imageFields({ mxc: "mxc://s/m", contentType: "image/svg+xml", size: 5 })).toEqual({
      "og:image": "mxc://s/m",
      "og:image:type": "image/svg+xml",
      "matrix:image:size": 5,
    });
  });

  it("[preview_url: cache] slots: ts rounded down to the lifetime, never later than now", () => {
    expect(cacheSlot(7_200_000, 10_000_000, 3_600_000)).toBe(2);
    expect(cacheSlot(7_199_999, 10_000_000, 3_600_000)).toBe(1);
    expect(cacheSlot(99_000_000, 10_000_000, 3_600_000)).toBe(2);
  });

  it("[preview_url: kinds] HTML, images, everything else", () => {
    expect(previewKind("text/html; charset=ISO-8859-1")).toBe("html");
    expect(previewKind("application/xhtml+xml")).toBe("html");
    expect(previewKind("IMAGE/PNG")).toBe("image");
    expect(previewKind("application/pdf")).toBe("other");
    expect(previewKind(null)).toBe("other");
  });
});
