/**
 * The identifier grammar the authorization rules need: user IDs (sender, state_key,
 * `users` keys, `additional_creators`) and the "domain" of room, event and user IDs.
 * https://spec.matrix.org/v1.19/appendices/#identifier-grammar
 * Private to lib/auth until lib/identifiers.ts exists.
 */

const HOSTNAME = /^[0-9A-Za-z.-]{1,255}$/;
const IPV6_LITERAL = /^\[[0-9A-Fa-f:.]{2,45}\]$/;
const PORT = /^[0-9]{1,5}$/;

/** server_name = hostname [ ":" port ], where hostname may be an IPv6 literal in brackets. */
export function isValidServerName(name: string): boolean {
  let host = name;
  const close = name.lastIndexOf("]");
  const colon = name.lastIndexOf(":");
  if (colon > close) {
    if (!PORT.test(name.slice(colon + 1))) return false;
    host = name.slice(0, colon);
  }
  return host.startsWith("[") ? IPV6_LITERAL.test(host) : HOSTNAME.test(host);
}

/**
 * `@localpart:server_name`. Localparts are checked leniently (non-empty, printable ASCII other than `:`),
 * since historical user IDs outside today's grammar still send events in old rooms.
 */
export function isValidUserId(id: unknown): id is string {
  if (typeof id !== "string" || id.length > 255 || !id.startsWith("@")) return false;
  const colon = id.indexOf(":");
  if (colon < 2) return false;
  if (!/^[\x21-\x39\x3b-\x7e]+$/.test(id.slice(1, colon))) return false;
  return isValidServerName(id.slice(colon + 1));
}

/** The server name after the first `:` of a sigilled ID (`@u:a`, `!r:a`, `$e:a`), or undefined when there is none. */
export function domainOf(id: unknown): string | undefined {
  if (typeof id !== "string") return undefined;
  const colon = id.indexOf(":");
  if (colon < 1 || colon === id.length - 1) return undefined;
  return id.slice(colon + 1);
}
