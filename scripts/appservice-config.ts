/**
 * `npm run appservice:config -- [--server-name NAME] PATH...` — reads appservice
 * registration files (YAML), checks them with the server's own parser
 * (lib/appservice), and prints the value of APPSERVICE_REGISTRATIONS (one line of JSON).
 * A PATH is a registration file, a directory (its *.yaml and *.yml files, sorted), or a
 * comma-separated list of either. An invalid registration prints a message naming the
 * file and the field and exits 1. docs/appservices.md shows how to use the output.
 *
 * `npm start` runs this for PARLEY_APPSERVICES.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { registrationsFromFiles } from "../lib/appservice/config.ts";
import { RegistrationError } from "../lib/appservice/registration.ts";

/** The registration files a list of paths names, in order. */
export function registrationFiles(paths: string[]): string[] {
  const out: string[] = [];
  for (const entry of paths.flatMap((p) => p.split(",")).map((p) => p.trim()).filter((p) => p !== "")) {
    let isDir: boolean;
    try {
      isDir = statSync(entry).isDirectory();
    } catch {
      throw new RegistrationError(entry, "", "does not exist");
    }
    if (!isDir) {
      out.push(entry);
      continue;
    }
    const inDir = readdirSync(entry).filter((f) => /\.ya?ml$/i.test(f)).sort();
    if (inDir.length === 0) throw new RegistrationError(entry, "", "is a directory without *.yaml registration files");
    out.push(...inDir.map((f) => join(entry, f)));
  }
  return out;
}

function main(argv: string[]): void {
  let serverName: string | undefined;
  const paths: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--server-name") serverName = argv[++i];
    else paths.push(argv[i]!);
  }
  if (paths.length === 0) {
    console.error("usage: npm run appservice:config -- [--server-name NAME] FILE_OR_DIR[,…] …");
    process.exit(2);
  }
  try {
    const files = registrationFiles(paths).map((name) => ({ name, text: readFileSync(name, "utf8") }));
    const { registry, value } = registrationsFromFiles(files, serverName);
    console.error(`appservices: ${registry.all.map((r) => `${r.id} (${r.source})`).join(", ")}`);
    process.stdout.write(value + "\n");
  } catch (e) {
    if (e instanceof RegistrationError) {
      console.error(`invalid appservice registration: ${e.message}`);
      process.exit(1);
    }
    throw e;
  }
}

main(process.argv.slice(2));
