/**
 * The identifier checks the authorization rules need, over values read from untrusted
 * JSON (so they take `unknown`), on top of lib/identifiers.ts.
 */
import { isValidUserId as isValidUserIdString, serverNameOf } from "../identifiers.ts";

/** A user ID, historical localparts included (old rooms still carry them). */
export function isValidUserId(id: unknown): id is string {
  return typeof id === "string" && isValidUserIdString(id);
}

/** The "domain" of a sigilled ID (`@u:a`, `!r:a`, `$e:a`), or undefined when it has none. */
export function domainOf(id: unknown): string | undefined {
  if (typeof id !== "string") return undefined;
  const server = serverNameOf(id);
  return server === "" ? undefined : server;
}
