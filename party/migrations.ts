/**
 * Append-only SQLite migrations for actors.
 *
 * Each actor's schema lives in one `schema/<actor>.sql` file (imported as text,
 * see the `[[rules]]` in wrangler.toml), cut into numbered steps by header lines:
 *
 *     -- migration 1: signing keys
 *     CREATE TABLE ...;
 *     -- migration 2: ...
 *
 * Steps are numbered 1, 2, 3… with no gaps; a step, once released, is never
 * edited — changes are new steps. Applied steps are recorded in `_migrations`.
 */

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

const HEADER = /^--\s*migration\s+(\d+)\s*:?\s*(.*)$/i;

/** Splits a schema file into its numbered steps; throws on a malformed file. */
export function parseMigrations(text: string): Migration[] {
  const steps: Migration[] = [];
  let current: Migration | undefined;
  for (const line of text.split(/\r?\n/)) {
    const m = HEADER.exec(line.trim());
    if (m) {
      current = { version: Number(m[1]), description: m[2] ?? "", sql: "" };
      steps.push(current);
    } else if (current) {
      current.sql += line + "\n";
    } else if (line.trim() !== "" && !line.trim().startsWith("--")) {
      throw new Error("schema: SQL before the first `-- migration N` header");
    }
  }
  steps.forEach((s, i) => {
    if (s.version !== i + 1) throw new Error(`schema: migration ${s.version} out of order (expected ${i + 1})`);
  });
  return steps;
}

/**
 * Applies the steps not yet recorded, each in its own transaction, and returns
 * the schema version now in force. Synchronous (SQLite in a Durable Object is),
 * so calling it from an actor's constructor inside `blockConcurrencyWhile`
 * makes every entry point — fetch, RPC, alarm — wait for it.
 */
export function applyMigrations(storage: DurableObjectStorage, schemaText: string): number {
  const sql = storage.sql;
  sql.exec(
    "CREATE TABLE IF NOT EXISTS _migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_ts INTEGER NOT NULL)",
  );
  const row = sql.exec<{ v: number | null }>("SELECT MAX(version) AS v FROM _migrations").one();
  const applied = row.v ?? 0;
  const steps = parseMigrations(schemaText);
  if (applied > steps.length) {
    // Running older code against newer data would silently misread it.
    throw new Error(`schema: storage is at migration ${applied} but this code knows only ${steps.length}`);
  }
  for (const step of steps.slice(applied)) {
    storage.transactionSync(() => {
      sql.exec(step.sql);
      sql.exec(
        "INSERT INTO _migrations (version, description, applied_ts) VALUES (?, ?, ?)",
        step.version,
        step.description,
        Date.now(),
      );
    });
  }
  return steps.length;
}

/** Runs the actor's migrations before any request, RPC or alarm reaches it. */
export function migrateOnStart(ctx: DurableObjectState, schemaText: string): void {
  void ctx.blockConcurrencyWhile(async () => {
    applyMigrations(ctx.storage, schemaText);
  });
}
