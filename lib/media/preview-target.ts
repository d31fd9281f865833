/**
 * Which URLs the server may fetch for a URL preview
 * (https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv1mediapreview_url).
 *
 * A preview makes the server fetch what a client names, so without these checks
 * any user could make it reach addresses only the server can reach (SSRF). A
 * Worker cannot resolve DNS, so only what is in the URL itself is checked: IP
 * literals against address ranges, local-only host names, and the operator's
 * URL blocklist (docs/design/media.md says what that leaves open).
 */

/** One address range: 4 or 16 bytes and a prefix length. */
export interface IpRange {
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

/**
 * Ranges never fetched unless allowlisted: loopback, private, carrier-grade NAT,
 * link-local, unique-local, multicast, documentation, benchmarking and reserved
 * ranges (the list Synapse suggests for `url_preview_ip_range_blacklist`, plus
 * 0.0.0.0/8, 240.0.0.0/4 and the unspecified IPv6 address).
 */
export const DEFAULT_BLOCKED_RANGES: readonly string[] = Object.freeze([
  "0.0.0.0/8",
  "10.0.0.0/8",
  "100.64.0.0/10",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "172.16.0.0/12",
  "192.0.0.0/24",
  "192.0.2.0/24",
  "192.88.99.0/24",
  "192.168.0.0/16",
  "198.18.0.0/15",
  "198.51.100.0/24",
  "203.0.113.0/24",
  "224.0.0.0/4",
  "240.0.0.0/4",
  "::/128",
  "::1/128",
  "100::/64",
  "2001:db8::/32",
  "fc00::/7",
  "fe80::/10",
  "fec0::/10",
  "ff00::/8",
]);

/** Host names that only ever mean this machine or its local network. */
const LOCAL_SUFFIXES = [".localhost", ".local", ".localdomain", ".internal", ".home.arpa", ".lan"];

/** IPv4 dotted quad, strictly (the URL parser has already normalised other spellings). */
function parseIpv4(s: string): Uint8Array | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!/^[0-9]{1,3}$/.test(parts[i]!)) return undefined;
    const n = Number(parts[i]);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

/** IPv6 text (RFC 4291 §2.2, with `::` and a trailing dotted quad). */
function parseIpv6(s: string): Uint8Array | undefined {
  if (!/^[0-9A-Fa-f:.]+$/.test(s)) return undefined;
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const groups = (text: string): number[] | undefined => {
    if (text === "") return [];
    const out: number[] = [];
    const parts = text.split(":");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = parseIpv4(p);
        if (!v4) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9A-Fa-f]{1,4}$/.test(p)) {
        out.push(parseInt(p, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 255;
  });
  return bytes;
}

/** The address of an IP-literal host as `URL.hostname` gives it (IPv6 in brackets), else undefined. */
export function ipLiteral(hostname: string): Uint8Array | undefined {
  if (hostname.startsWith("[") && hostname.endsWith("]")) return parseIpv6(hostname.slice(1, -1));
  return parseIpv4(hostname);
}

/** `a.b.c.d/n` or `x::y/n`; a bare address is a single host. */
export function parseCidr(text: string): IpRange | undefined {
  const t = text.trim();
  const slash = t.indexOf("/");
  const addr = slash < 0 ? t : t.slice(0, slash);
  const bytes = addr.includes(":") ? parseIpv6(addr) : parseIpv4(addr);
  if (!bytes) return undefined;
  const max = bytes.length * 8;
  if (slash < 0) return { bytes, prefix: max };
  const p = t.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(p) || Number(p) > max) return undefined;
  return { bytes, prefix: Number(p) };
}

/** A comma-separated list of ranges (a setting); throws naming the bad entry. */
export function parseCidrList(text: string | undefined): IpRange[] {
  const out: IpRange[] = [];
  for (const entry of (text ?? "").split(",")) {
    if (entry.trim() === "") continue;
    const r = parseCidr(entry);
    if (!r) throw new Error(`${JSON.stringify(entry.trim())} is not an IP address or CIDR range`);
    out.push(r);
  }
  return out;
}

function inRange(ip: Uint8Array, r: IpRange): boolean {
  if (ip.length !== r.bytes.length) return false;
  let bits = r.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((ip[i]! & mask) !== (r.bytes[i]! & mask)) return false;
  }
  return true;
}

/**
 * The IPv4 address inside an IPv6 one that reaches it: IPv4-mapped
 * (::ffff:0:0/96), NAT64 (64:ff9b::/96) and the deprecated IPv4-compatible form.
 */
function embeddedIpv4(ip: Uint8Array): Uint8Array | undefined {
  if (ip.length !== 16) return undefined;
  const zero = (from: number, to: number) => ip.subarray(from, to).every((b) => b === 0);
  const v4 = ip.slice(12);
  if (zero(0, 10) && ip[10] === 0xff && ip[11] === 0xff) return v4;
  if (ip[0] === 0x00 && ip[1] === 0x64 && ip[2] === 0xff && ip[3] === 0x9b && zero(4, 12)) return v4;
  if (zero(0, 12) && !zero(12, 14)) return v4; // ::a.b.c.d, but not ::, ::1
  return undefined;
}

/** Allowed unless in a blocked range and not in an allowed one; an embedded IPv4 is checked too. */
export function ipAllowed(ip: Uint8Array, blocked: readonly IpRange[], allowed: readonly IpRange[]): boolean {
  if (allowed.some((r) => inRange(ip, r))) return true;
  if (blocked.some((r) => inRange(ip, r))) return false;
  const v4 = embeddedIpv4(ip);
  return v4 === undefined || ipAllowed(v4, blocked, allowed);
}

/** `localhost`, its subdomains, local-network suffixes, and single-label names (resolved by search domains). */
export function isLocalHostName(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/\.+$/, "");
  if (h === "" || h === "localhost" || !h.includes(".")) return true;
  return LOCAL_SUFFIXES.some((s) => h.endsWith(s));
}

// ---- the operator's URL blocklist --------------------------------------------------------

/** The parts of a URL a blocklist entry may match (the names of Synapse's `url_preview_url_blacklist`). */
export const URL_PARTS = ["scheme", "netloc", "hostname", "port", "path", "query", "fragment", "username", "password"] as const;
export type UrlPart = (typeof URL_PARTS)[number];

/** An entry blocks a URL when every part it names matches: a `^regex`, else a glob (`*`, `?`, `[…]`). */
export type UrlBlockRule = ReadonlyArray<readonly [UrlPart, RegExp]>;

function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*") re += ".*";
    else if (c === "?") re += ".";
    else if (c === "[" && glob.indexOf("]", i + 2) > 0) {
      const end = glob.indexOf("]", i + 2);
      let set = glob.slice(i + 1, end);
      if (set.startsWith("!")) set = `^${set.slice(1)}`;
      re += `[${set.replace(/\\/g, "\\\\")}]`;
      i = end;
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(`^(?:${re})$`, "s");
}

/** URL_PREVIEW_URL_BLOCKLIST: a JSON array of objects of URL part → pattern; throws naming the fault. */
export function parseUrlBlocklist(text: string | undefined): UrlBlockRule[] {
  if (text === undefined || text.trim() === "") return [];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error("is not JSON");
  }
  if (!Array.isArray(value)) throw new Error("must be a JSON array of objects");
  return value.map((entry: unknown, i) => {
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) throw new Error(`entry ${i} is not an object`);
    const rule: Array<readonly [UrlPart, RegExp]> = [];
    for (const [part, pattern] of Object.entries(entry)) {
      if (!(URL_PARTS as readonly string[]).includes(part)) throw new Error(`entry ${i}: unknown URL part ${JSON.stringify(part)}`);
      if (typeof pattern !== "string") throw new Error(`entry ${i}: ${part} must be a string`);
      let re: RegExp;
      try {
        re = pattern.startsWith("^") ? new RegExp(pattern, "s") : globToRegExp(pattern);
      } catch {
        throw new Error(`entry ${i}: ${part} is not a valid regular expression`);
      }
      rule.push([part as UrlPart, re]);
    }
    if (rule.length === 0) throw new Error(`entry ${i} is empty (it would block every URL)`);
    return rule;
  });
}

/** A URL part as the blocklist sees it; undefined for an absent port, user name or password. */
function urlPart(url: URL, part: UrlPart): string | undefined {
  switch (part) {
    case "scheme":
      return url.protocol.slice(0, -1);
    case "netloc":
      return url.host;
    case "hostname":
      return url.hostname;
    case "port":
      return url.port || undefined;
    case "path":
      return url.pathname;
    case "query":
      return url.search.slice(1);
    case "fragment":
      return url.hash.slice(1);
    case "username":
      return url.username || undefined;
    case "password":
      return url.password || undefined;
  }
}

export function urlBlocked(url: URL, rules: readonly UrlBlockRule[]): boolean {
  return rules.some((rule) =>
    rule.every(([part, re]) => {
      const v = urlPart(url, part);
      return v !== undefined && re.test(v);
    }),
  );
}

// ---- the decision -------------------------------------------------------------------------

export interface PreviewTargetPolicy {
  blockedRanges: readonly IpRange[];
  allowedRanges: readonly IpRange[];
  urlBlocklist: readonly UrlBlockRule[];
}

export type TargetVerdict = { ok: true } | { ok: false; reason: "scheme" | "address" | "host" | "blocklist" };

/** Whether the server may fetch `url` (the requested one, and every redirect target). */
export function checkPreviewTarget(url: URL, policy: PreviewTargetPolicy): TargetVerdict {
  if (url.protocol !== "http:" && url.protocol !== "https:") return { ok: false, reason: "scheme" };
  if (urlBlocked(url, policy.urlBlocklist)) return { ok: false, reason: "blocklist" };
  const ip = ipLiteral(url.hostname);
  if (ip) return ipAllowed(ip, policy.blockedRanges, policy.allowedRanges) ? { ok: true } : { ok: false, reason: "address" };
  // A name that is not an IP literal but looks numeric is something the URL parser did not normalise.
  if (/^[0-9.]+$/.test(url.hostname) || isLocalHostName(url.hostname)) return { ok: false, reason: "host" };
  return { ok: true };
}
