/**
 * Identifier grammar: server names, user IDs, room IDs, room aliases, event IDs.
 * https://spec.matrix.org/v1.19/appendices/#identifier-grammar
 * The server name of an ID is everything after the first colon (server names contain
 * colons themselves: ports, IPv6).
 */
import { utf8Length } from "./json-parse.ts";
import type { EventFormatRules } from "./room-versions.ts";

/** All Matrix IDs (user, room, event, alias) are limited to 255 bytes including the sigil. */
export const MAX_ID_BYTES = 255;

const IPV4 = /^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$/;
const IPV6_LITERAL = /^\[[0-9A-Fa-f:.]{2,45}\]$/;
const DNS_NAME = /^[0-9A-Za-z.-]{1,255}$/;
const PORT = /^[0-9]{1,5}$/;

/** `hostname [":" port]`, hostname being an IPv4 address, `[IPv6]` or a DNS name. */
export function isValidServerName(name: string): boolean {
  let host = name;
  const close = name.lastIndexOf("]");
  const colon = name.lastIndexOf(":");
  if (colon > close) {
    // a port follows (for IPv6 literals only a colon after the closing bracket)
    if (!PORT.test(name.slice(colon + 1))) return false;
    host = name.slice(0, colon);
  }
  if (host.startsWith("[")) return IPV6_LITERAL.test(host);
  return IPV4.test(host) || DNS_NAME.test(host);
}

/** The server name of `@user:server`, `!room:server`, `#alias:server` or `$event:server`; undefined when it has none. */
export function serverNameOf(id: string): string | undefined {
  const i = id.indexOf(":");
  return i < 0 ? undefined : id.slice(i + 1);
}

function splitId(id: string, sigil: string): { localpart: string; serverName: string } | undefined {
  if (id[0] !== sigil || utf8Length(id) > MAX_ID_BYTES) return undefined;
  const i = id.indexOf(":");
  if (i < 0) return undefined;
  const serverName = id.slice(i + 1);
  if (!isValidServerName(serverName)) return undefined;
  return { localpart: id.slice(1, i), serverName };
}

/** Current grammar for new user IDs: lowercase letters, digits and `._=-/+`. */
const LOCALPART = /^[a-z0-9._=\-/+]+$/;
/** Historical user IDs: any printable ASCII except `:` (must still be accepted from other servers). */
const HISTORICAL_LOCALPART = /^[\x21-\x39\x3b-\x7e]+$/;

export interface UserId {
  localpart: string;
  serverName: string;
}

/** Parses a user ID, allowing the historical localpart characters. */
export function parseUserId(id: string): UserId | undefined {
  const parts = splitId(id, "@");
  if (!parts || !HISTORICAL_LOCALPART.test(parts.localpart)) return undefined;
  return parts;
}

export function isValidUserId(id: string): boolean {
  return parseUserId(id) !== undefined;
}

/** Whether a new local user may be given this localpart (full ID ≤ 255 bytes when serverName is given). */
export function isValidLocalpart(localpart: string, serverName?: string): boolean {
  if (!LOCALPART.test(localpart)) return false;
  return serverName === undefined || 1 + localpart.length + 1 + utf8Length(serverName) <= MAX_ID_BYTES;
}

/** A reference hash ID (v12 room IDs, v3+ event IDs): sigil + 43 unpadded base64 characters (32 bytes). */
const URL_SAFE_HASH = /^[A-Za-z0-9_-]{43}$/;
const STANDARD_HASH = /^[A-Za-z0-9+/]{43}$/;

function isServerScoped(id: string, sigil: string): boolean {
  const parts = splitId(id, sigil);
  return parts !== undefined && parts.localpart.length > 0 && !parts.localpart.includes("\u0000");
}

/**
 * `!opaque:server` (v1–v11), or `!` + URL-safe reference hash of the create event (since v12).
 * With rules, only the form of that room version is accepted.
 */
export function isValidRoomId(id: string, rules?: Pick<EventFormatRules, "roomIdIsCreateEventHash">): boolean {
  const hashForm = id[0] === "!" && URL_SAFE_HASH.test(id.slice(1));
  if (rules) return rules.roomIdIsCreateEventHash ? hashForm : isServerScoped(id, "!");
  return hashForm || isServerScoped(id, "!");
}

/** `#localpart:server`; the localpart is any non-empty text without `:` or NUL. */
export function isValidRoomAlias(alias: string): boolean {
  return isServerScoped(alias, "#") && !/\p{Cs}/u.test(alias);
}

/**
 * `$opaque:server` (v1–v2), `$` + standard base64 reference hash (v3), or `$` + URL-safe
 * reference hash (since v4). With rules, only the form of that room version is accepted.
 */
export function isValidEventId(id: string, rules?: Pick<EventFormatRules, "eventIdFormat">): boolean {
  if (id[0] !== "$") return false;
  const rest = id.slice(1);
  switch (rules?.eventIdFormat) {
    case "server-scoped":
      return isServerScoped(id, "$");
    case "reference-hash-base64":
      return STANDARD_HASH.test(rest);
    case "reference-hash-urlsafe":
      return URL_SAFE_HASH.test(rest);
    default:
      return STANDARD_HASH.test(rest) || URL_SAFE_HASH.test(rest) || isServerScoped(id, "$");
  }
}
