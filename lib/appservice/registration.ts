/**
 * Application service registrations: the spec's registration file (YAML), parsed and
 * checked field by field. A registration that cannot be understood is refused with a
 * message naming the file and the field, never loaded on a guess.
 * https://spec.matrix.org/v1.19/application-service-api/#registration
 *
 * Besides the spec's fields, the opt-in flags bridges write today are read:
 * `de.sorunome.msc2409.push_ephemeral` and `push_ephemeral` (MSC2409, what
 * matrix-bot-sdk, matrix-appservice-bridge and mautrix write before `receive_ephemeral`),
 * `org.matrix.msc3202` (encrypted appservices) and `io.element.msc4190` (device
 * management). Other unknown fields are ignored, as every homeserver does.
 */
import { parseDocument } from "yaml";
import { isValidLocalpart } from "../identifiers.ts";
import type { JsonObject, JsonValue } from "../json.ts";
import { isJsonObject } from "../json.ts";

export interface Namespace {
  /** As written in the registration. */
  regex: string;
  exclusive: boolean;
  /** Compiled once: anchored at the start of the ID (as Synapse matches), not at its end. */
  pattern: RegExp;
}

export type NamespaceKind = "users" | "aliases" | "rooms";

export interface Registration {
  id: string;
  /** Base URL of the appservice; null when it wants no traffic. No trailing slash. */
  url: string | null;
  asToken: string;
  hsToken: string;
  senderLocalpart: string;
  namespaces: Record<NamespaceKind, Namespace[]>;
  /** Whether masqueraded users are rate limited (spec default: true). The sender never is. */
  rateLimited: boolean;
  protocols: string[];
  /** receive_ephemeral, or the MSC2409 spellings: typing and receipts (and to-device messages) in transactions. */
  receiveEphemeral: boolean;
  /** org.matrix.msc3202 (encrypted appservice): to-device messages for its exclusive users go to it alone (lib/appservice/to-device.ts). */
  msc3202: boolean;
  /** Where the registration came from (file name), for error messages. */
  source: string;
}

/** A registration that cannot be loaded; the message names the source and the field. */
export class RegistrationError extends Error {
  override name = "RegistrationError";
  constructor(
    readonly source: string,
    readonly field: string,
    problem: string,
  ) {
    super(`${source}: ${field === "" ? "" : `'${field}' `}${problem}`);
  }
}

/** Parses one registration file's YAML text (JSON is YAML too). */
export function parseRegistrationYaml(text: string, source: string): Registration {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new RegistrationError(source, "", `is not valid YAML: ${e.message.split("\n")[0]}`);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new RegistrationError(source, "", `is not usable YAML: ${(e as Error).message}`);
  }
  return validateRegistration(value, source);
}

/** Checks a registration object (from YAML or from the APPSERVICE_REGISTRATIONS JSON). */
export function validateRegistration(value: unknown, source: string): Registration {
  if (!isPlainObject(value)) throw new RegistrationError(source, "", "must be a mapping of registration fields");
  const o = value;
  const fail = (field: string, problem: string): never => {
    throw new RegistrationError(source, field, problem);
  };
  const str = (field: string): string => {
    const v = o[field];
    if (v === undefined || v === null) fail(field, "is required");
    if (typeof v !== "string") fail(field, `must be a string (got ${describe(v)})`);
    if ((v as string).trim() === "") fail(field, "must not be empty");
    return v as string;
  };
  const flag = (field: string): boolean | undefined => {
    const v = o[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "boolean") fail(field, `must be true or false (got ${describe(v)})`);
    return v as boolean;
  };

  const id = str("id");
  if (!Object.hasOwn(o, "url")) fail("url", "is required (use null for an appservice that wants no traffic)");
  let url: string | null = null;
  if (o.url !== null) {
    if (typeof o.url !== "string") fail("url", `must be a URL or null (got ${describe(o.url)})`);
    let parsed: URL | undefined;
    try {
      parsed = new URL(o.url as string);
    } catch {
      fail("url", `is not a URL: ${JSON.stringify(o.url)}`);
    }
    if (parsed!.protocol !== "http:" && parsed!.protocol !== "https:") fail("url", "must be an http(s) URL");
    if (parsed!.search || parsed!.hash) fail("url", "must not have a query or fragment");
    url = (o.url as string).replace(/\/+$/, "");
  }
  const asToken = str("as_token");
  const hsToken = str("hs_token");
  if (asToken === hsToken) fail("hs_token", "must differ from as_token");
  const senderLocalpart = str("sender_localpart");
  if (!isValidLocalpart(senderLocalpart)) {
    fail("sender_localpart", `${JSON.stringify(senderLocalpart)} is not a valid user localpart (a-z, 0-9, ._=-/+)`);
  }

  const ns = o.namespaces;
  if (ns === undefined || ns === null) fail("namespaces", "is required");
  if (!isPlainObject(ns)) fail("namespaces", `must be a mapping with users, aliases and rooms (got ${describe(ns)})`);
  const namespaces = {
    users: namespaceList(ns as JsonObject, "users", source),
    aliases: namespaceList(ns as JsonObject, "aliases", source),
    rooms: namespaceList(ns as JsonObject, "rooms", source),
  };

  let protocols: string[] = [];
  if (o.protocols !== undefined && o.protocols !== null) {
    if (!Array.isArray(o.protocols)) fail("protocols", `must be a list of protocol names (got ${describe(o.protocols)})`);
    protocols = (o.protocols as unknown[]).map((p, i) => {
      if (typeof p !== "string" || p === "" || p.includes("/")) fail(`protocols[${i}]`, "must be a protocol name without '/'");
      return p as string;
    });
  }

  const ephemeral = [flag("receive_ephemeral"), flag("de.sorunome.msc2409.push_ephemeral"), flag("push_ephemeral")];
  return {
    id,
    url,
    asToken,
    hsToken,
    senderLocalpart,
    namespaces,
    rateLimited: flag("rate_limited") ?? true,
    protocols,
    receiveEphemeral: ephemeral.some((f) => f === true),
    msc3202: flag("org.matrix.msc3202") ?? false,
    source,
  };
}

function namespaceList(ns: JsonObject, kind: NamespaceKind, source: string): Namespace[] {
  const v = ns[kind];
  if (v === undefined || v === null) return [];
  const field = `namespaces.${kind}`;
  if (!Array.isArray(v)) throw new RegistrationError(source, field, `must be a list of {regex, exclusive} (got ${describe(v)})`);
  return v.map((entry, i) => {
    const at = `${field}[${i}]`;
    if (!isPlainObject(entry)) throw new RegistrationError(source, at, "must be a mapping with regex and exclusive");
    const regex = entry.regex;
    if (typeof regex !== "string" || regex === "") {
      throw new RegistrationError(source, `${at}.regex`, `must be a non-empty string (got ${describe(regex)})`);
    }
    if (typeof entry.exclusive !== "boolean") {
      throw new RegistrationError(source, `${at}.exclusive`, `is required and must be true or false (got ${describe(entry.exclusive)})`);
    }
    let pattern: RegExp;
    try {
      // No `u` flag: registrations are written for Python's and Go's regex dialects,
      // which accept escapes such as `\@` that unicode-mode JavaScript refuses.
      pattern = new RegExp(`^(?:${regex})`);
    } catch (e) {
      throw new RegistrationError(source, `${at}.regex`, `is not a valid regular expression: ${(e as Error).message}`);
    }
    return { regex, exclusive: entry.exclusive, pattern };
  });
}

function isPlainObject(v: unknown): v is JsonObject {
  return isJsonObject(v as JsonValue);
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** The spec-shaped JSON of a registration (what APPSERVICE_REGISTRATIONS carries). */
export function registrationToJson(r: Registration): JsonObject {
  const list = (k: NamespaceKind) => r.namespaces[k].map((n) => ({ regex: n.regex, exclusive: n.exclusive }));
  return {
    id: r.id,
    url: r.url,
    as_token: r.asToken,
    hs_token: r.hsToken,
    sender_localpart: r.senderLocalpart,
    namespaces: { users: list("users"), aliases: list("aliases"), rooms: list("rooms") },
    rate_limited: r.rateLimited,
    protocols: r.protocols,
    receive_ephemeral: r.receiveEphemeral,
    "org.matrix.msc3202": r.msc3202,
  };
}
