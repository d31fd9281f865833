/**
 * How registrations reach the Worker, which has no filesystem: the operator's YAML files
 * are parsed and checked in Node (`npm start`, `npm run appservice:config`) and handed
 * over as one JSON value, APPSERVICE_REGISTRATIONS, which the Worker checks again with
 * the same functions. docs/appservices.md describes both paths.
 *
 * The value is a JSON array whose items are `{"source": "<file>", "registration": {…}}`
 * (what the scripts write) or bare registration objects (convenient by hand; their
 * source is then `APPSERVICE_REGISTRATIONS[i]`).
 */
import { isJsonObject, type JsonObject } from "../json.ts";
import { parseRegistrationYaml, registrationToJson, RegistrationError, validateRegistration, type Registration } from "./registration.ts";
import { AppserviceRegistry } from "./registry.ts";

export const REGISTRATIONS_VAR = "APPSERVICE_REGISTRATIONS";

/** Parses and checks the APPSERVICE_REGISTRATIONS value; empty or unset means none. */
export function parseRegistrationsVar(text: string | undefined, serverName?: string): AppserviceRegistry {
  const t = text?.trim();
  if (!t) return new AppserviceRegistry([], serverName);
  let value: unknown;
  try {
    value = JSON.parse(t);
  } catch (e) {
    throw new RegistrationError(REGISTRATIONS_VAR, "", `is not JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(value)) throw new RegistrationError(REGISTRATIONS_VAR, "", "must be a JSON array of registrations");
  const regs = value.map((item: unknown, i): Registration => {
    if (isJsonObject(item) && typeof item.source === "string" && isJsonObject(item.registration)) {
      return validateRegistration(item.registration, item.source);
    }
    return validateRegistration(item, `${REGISTRATIONS_VAR}[${i}]`);
  });
  return new AppserviceRegistry(regs, serverName);
}

/** Registration files (name and YAML text) → the checked registry and the APPSERVICE_REGISTRATIONS value. */
export function registrationsFromFiles(
  files: ReadonlyArray<{ name: string; text: string }>,
  serverName?: string,
): { registry: AppserviceRegistry; value: string } {
  const regs = files.map((f) => parseRegistrationYaml(f.text, f.name));
  const registry = new AppserviceRegistry(regs, serverName);
  const items: JsonObject[] = regs.map((r) => ({ source: r.source, registration: registrationToJson(r) }));
  return { registry, value: JSON.stringify(items) };
}
