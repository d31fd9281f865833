/**
 * Server support information, from settings.
 * https://spec.matrix.org/v1.19/client-server-api/#getwell-knownmatrixsupport
 *
 * `SUPPORT_CONTACTS` (a JSON array of `{role, matrix_id?, email_address?}`) and
 * `SUPPORT_PAGE` (a URL); with neither set the answer is the spec's 404 ("no support
 * information available"). A malformed setting is a ConfigError, which fails the request
 * loudly rather than publishing half of what the operator meant (docs/configuration.md).
 */
import { MatrixError } from "../../lib/errors.ts";
import { parseUserId } from "../../lib/identifiers.ts";
import { ConfigError, type Env } from "../env.ts";
import { json } from "./http.ts";
import type { EdgeRequest } from "./router.ts";

// A type alias (not an interface), so it is assignable to JsonValue.
type Contact = { role: string; matrix_id?: string; email_address?: string };
type SupportInfo = { contacts?: Contact[]; support_page?: string };

/** `m.role.admin`, `m.role.security`, or a namespaced identifier of the operator's own (`tld.name.role`). */
const ROLE = /^(?:m\.role\.(?:admin|security)|(?!m\.)[a-z0-9_-]+(?:\.[a-z0-9_-]+){2,})$/;

const parsed = new WeakMap<object, SupportInfo | null>();

/** The support document the settings describe, or null when none is configured. */
export function supportInfo(env: Partial<Env>): SupportInfo | null {
  if (parsed.has(env)) return parsed.get(env)!;
  const info = parseSupport(env);
  parsed.set(env, info);
  return info;
}

export function parseSupport(env: Partial<Env>): SupportInfo | null {
  const info: SupportInfo = {};
  const rawContacts = env.SUPPORT_CONTACTS?.trim();
  if (rawContacts) {
    let value: unknown;
    try {
      value = JSON.parse(rawContacts);
    } catch {
      throw new ConfigError("SUPPORT_CONTACTS must be a JSON array of {role, matrix_id?, email_address?}");
    }
    if (!Array.isArray(value) || value.length === 0) throw new ConfigError("SUPPORT_CONTACTS must be a non-empty JSON array");
    info.contacts = value.map((c, i) => parseContact(c, i));
  }
  const page = env.SUPPORT_PAGE?.trim();
  if (page) {
    let url: URL;
    try {
      url = new URL(page);
    } catch {
      throw new ConfigError(`SUPPORT_PAGE must be an absolute URL (got ${JSON.stringify(page)})`);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new ConfigError("SUPPORT_PAGE must be an http(s) URL");
    info.support_page = page;
  }
  return info.contacts || info.support_page ? info : null;
}

function parseContact(c: unknown, i: number): Contact {
  const where = `SUPPORT_CONTACTS[${i}]`;
  if (typeof c !== "object" || c === null || Array.isArray(c)) throw new ConfigError(`${where} must be an object`);
  const o = c as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (k !== "role" && k !== "matrix_id" && k !== "email_address") throw new ConfigError(`${where} has an unknown field '${k}'`);
  }
  if (typeof o.role !== "string" || !ROLE.test(o.role)) {
    throw new ConfigError(`${where}.role must be m.role.admin, m.role.security or a namespaced identifier`);
  }
  const contact: Contact = { role: o.role };
  if (o.matrix_id !== undefined) {
    if (typeof o.matrix_id !== "string" || !parseUserId(o.matrix_id)) throw new ConfigError(`${where}.matrix_id must be a user ID`);
    contact.matrix_id = o.matrix_id;
  }
  if (o.email_address !== undefined) {
    if (typeof o.email_address !== "string" || !/^[^@\s]+@[^@\s]+$/.test(o.email_address)) {
      throw new ConfigError(`${where}.email_address must be an email address`);
    }
    contact.email_address = o.email_address;
  }
  if (!contact.matrix_id && !contact.email_address) throw new ConfigError(`${where} needs matrix_id or email_address`);
  return contact;
}

// GET /.well-known/matrix/support
export function support(r: EdgeRequest): Response {
  const info = supportInfo(r.env);
  if (!info) throw new MatrixError("M_NOT_FOUND", 404, "No support information is configured for this server");
  return json(info);
}
