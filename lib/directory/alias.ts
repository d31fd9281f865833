/**
 * Room aliases: the grammar checks the alias endpoints make, who may claim an alias inside
 * an appservice's namespace, and which aliases of a new m.room.canonical_alias event must
 * be checked against the alias index.
 * https://spec.matrix.org/v1.19/client-server-api/#room-aliases,
 * https://spec.matrix.org/v1.19/client-server-api/#mroomcanonical_alias,
 * https://spec.matrix.org/v1.19/application-service-api/#registration (alias namespaces)
 */
import type { Registration } from "../appservice/registration.ts";
import { matches, type AppserviceRegistry } from "../appservice/registry.ts";
import { invalidParam, MatrixError } from "../errors.ts";
import { isValidRoomAlias, serverNameOf } from "../identifiers.ts";
import type { JsonObject, JsonValue } from "../json.ts";

/** A `{roomAlias}` path parameter: 400 M_INVALID_PARAM unless it is a room alias. */
export function parseRoomAlias(raw: string): string {
  if (!isValidRoomAlias(raw)) throw invalidParam(`${JSON.stringify(raw)} is not a valid room alias`);
  return raw;
}

/** Whether the alias belongs to this server (only those can be created or deleted here). */
export function isLocalAlias(alias: string, serverName: string): boolean {
  return serverNameOf(alias) === serverName;
}

/** Creating or deleting an alias of another server: 400 M_INVALID_PARAM (Synapse: "Room alias must be local"). */
export function requireLocalAlias(alias: string, serverName: string): void {
  if (!isLocalAlias(alias, serverName)) throw invalidParam(`room alias ${alias} is not on this server (${serverName})`);
}

/**
 * Appservice namespaces, as Synapse applies them: an appservice may only create (or
 * delete) aliases in its own alias namespace, exclusive or not; anyone else is refused an
 * alias inside some appservice's exclusive namespace. Both are 400 M_EXCLUSIVE.
 */
export function checkAliasNamespace(alias: string, caller: Registration | undefined, registry: AppserviceRegistry): void {
  if (caller) {
    if (!matches(caller.namespaces.aliases, alias, false)) {
      throw new MatrixError("M_EXCLUSIVE", 400, "This application service has not reserved this kind of alias");
    }
    const owner = registry.exclusiveOwner("aliases", alias);
    if (owner && owner.id !== caller.id) throw new MatrixError("M_EXCLUSIVE", 400, "This alias is reserved by another application service");
    return;
  }
  if (registry.exclusiveOwner("aliases", alias)) {
    throw new MatrixError("M_EXCLUSIVE", 400, "This alias is reserved by an application service");
  }
}

/** The aliases an m.room.canonical_alias content lists (`alias`, then `alt_aliases`); empty `alias` means none. */
export function canonicalAliasesOf(content: JsonObject | undefined): string[] {
  if (!content) return [];
  const out: string[] = [];
  if (typeof content.alias === "string" && content.alias !== "") out.push(content.alias);
  if (Array.isArray(content.alt_aliases)) for (const a of content.alt_aliases) if (typeof a === "string") out.push(a);
  return out;
}

/**
 * The aliases a new m.room.canonical_alias content adds — the ones the server must check
 * point to the room. The spec: "Servers do not validate aliases which are being removed or
 * are already present in the state event." Throws 400 M_INVALID_PARAM for a content whose
 * fields have the wrong type or whose new aliases break the grammar.
 */
export function addedCanonicalAliases(content: JsonObject, previous: JsonObject | undefined): string[] {
  const alias: JsonValue | undefined = content.alias;
  if (alias !== undefined && alias !== null && typeof alias !== "string") throw invalidParam("'alias' must be a string");
  const alt: JsonValue | undefined = content.alt_aliases;
  if (alt !== undefined && !Array.isArray(alt)) throw invalidParam("'alt_aliases' must be a list");
  if (Array.isArray(alt) && alt.some((a) => typeof a !== "string")) throw invalidParam("'alt_aliases' must be a list of strings");

  const added: string[] = [];
  if (typeof alias === "string" && alias !== "" && alias !== previous?.alias) added.push(alias);
  // An earlier alt_aliases of the wrong shape counts as empty (Synapse replaces it whole).
  const before = new Set(Array.isArray(previous?.alt_aliases) ? previous.alt_aliases : []);
  for (const a of (alt ?? []) as string[]) if (!before.has(a) && !added.includes(a)) added.push(a);
  for (const a of added) if (!isValidRoomAlias(a)) throw invalidParam(`${JSON.stringify(a)} is not a valid room alias`);
  return added;
}

/** 400 M_BAD_ALIAS: an alias of the new canonical alias content does not point to the room. */
export function badAlias(alias: string): MatrixError {
  return new MatrixError("M_BAD_ALIAS", 400, `The alias '${alias}' does not point to this room`);
}

/**
 * The content left after an alias is deleted: the alias removed from `alias` and
 * `alt_aliases` (Synapse updates the room's canonical alias event this way), or undefined
 * when the content does not mention it.
 */
export function withoutAlias(content: JsonObject | undefined, alias: string): JsonObject | undefined {
  if (!content) return undefined;
  let changed = false;
  const out: JsonObject = { ...content };
  if (content.alias === alias) {
    delete out.alias;
    changed = true;
  }
  if (Array.isArray(content.alt_aliases) && content.alt_aliases.includes(alias)) {
    out.alt_aliases = content.alt_aliases.filter((a) => a !== alias);
    changed = true;
  }
  return changed ? out : undefined;
}
