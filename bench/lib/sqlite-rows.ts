/**
 * Rows written, measured from outside the server: snapshot every SQLite file wrangler
 * persists (one per Durable Object, plus D1), run the workload, snapshot again, and diff.
 *
 * Counted the way Cloudflare bills `rowsWritten`: each table row inserted, deleted or
 * changed is one, and each index entry added, removed or changed is one more. A diff only
 * sees the net change between two quiet moments, so a row written and deleted again in
 * between (a delivered outbox item) or rewritten with the same values is not seen: the
 * figure is a lower bound, exact for append-only writes such as messages.
 *
 * The files are in WAL mode while workerd has them open; sql.js reads only the main
 * file, so the committed frames of the -wal file are applied to a copy first.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import initSqlJs from "sql.js";

type SqlJs = Awaited<ReturnType<typeof initSqlJs>>;
type Db = InstanceType<SqlJs["Database"]>;

/** Per file, per table or index: key → row (or index entry) as a string. */
export type Snapshot = Map<string, Map<string, Map<string, string>>>;

export interface RowsWritten {
  total: number;
  /** "Room/events", "Room/events_txn (index)", … → rows. */
  byTable: Map<string, number>;
}

let sqlJs: Promise<SqlJs> | undefined;

export async function snapshot(dataDir: string): Promise<Snapshot> {
  const SQL = await (sqlJs ??= initSqlJs());
  const out: Snapshot = new Map();
  for (const file of sqliteFiles(join(dataDir, "v3"))) {
    const image = consistentImage(file);
    if (!image) continue;
    const db = new SQL.Database(image);
    try {
      out.set(relative(dataDir, file), readDb(db));
    } finally {
      db.close();
    }
  }
  return out;
}

export function diff(before: Snapshot, after: Snapshot): RowsWritten {
  const byTable = new Map<string, number>();
  let total = 0;
  for (const [file, tables] of after) {
    // v3/do/parley-Room/<id>.sqlite → Room
    const actor = /(?:parley|miniflare)-([A-Za-z0-9]+)/.exec(file)?.[1] ?? file;
    for (const [name, rows] of tables) {
      const old = before.get(file)?.get(name) ?? new Map<string, string>();
      let n = 0;
      for (const [k, v] of rows) if (old.get(k) !== v) n++;
      for (const k of old.keys()) if (!rows.has(k)) n++;
      if (n > 0) {
        byTable.set(`${actor}/${name}`, (byTable.get(`${actor}/${name}`) ?? 0) + n);
        total += n;
      }
    }
  }
  return { total, byTable };
}

function sqliteFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sqliteFiles(path));
    // metadata.sqlite is miniflare's own bookkeeping, not the application's storage.
    else if (name.endsWith(".sqlite") && name !== "metadata.sqlite") out.push(path);
  }
  return out;
}

/** Main file + committed WAL frames; read twice until two reads agree (no checkpoint in between). */
function consistentImage(file: string): Uint8Array | undefined {
  for (let attempt = 0; attempt < 5; attempt++) {
    const a = readPair(file);
    const b = readPair(file);
    if (a && b && a.main.equals(b.main) && a.wal.equals(b.wal)) return applyWal(a.main, a.wal);
  }
  return undefined;
}

function readPair(file: string): { main: Buffer; wal: Buffer } | undefined {
  try {
    const main = readFileSync(file);
    const wal = existsSync(`${file}-wal`) ? readFileSync(`${file}-wal`) : Buffer.alloc(0);
    return { main, wal };
  } catch {
    return undefined;
  }
}

/** The database as a reader would see it: WAL frames up to the last valid commit applied. */
export function applyWal(main: Buffer, wal: Buffer): Uint8Array {
  const image = Buffer.from(main);
  if (wal.length >= 32 && (wal.readUInt32BE(0) & 0xfffffffe) === 0x377f0682) {
    const bigEndian = (wal.readUInt32BE(0) & 1) === 1;
    const pageSize = wal.readUInt32BE(8) === 1 ? 65536 : wal.readUInt32BE(8);
    const salt1 = wal.readUInt32BE(16);
    const salt2 = wal.readUInt32BE(20);
    let sum = checksum(wal, 0, 24, [0, 0], bigEndian);
    if (sum[0] === wal.readUInt32BE(24) && sum[1] === wal.readUInt32BE(28)) {
      const frames: Array<{ page: number; at: number }> = [];
      let committed = 0;
      let dbPages = 0;
      for (let at = 32; at + 24 + pageSize <= wal.length; at += 24 + pageSize) {
        if (wal.readUInt32BE(at + 8) !== salt1 || wal.readUInt32BE(at + 12) !== salt2) break;
        sum = checksum(wal, at, 8, sum, bigEndian);
        sum = checksum(wal, at + 24, pageSize, sum, bigEndian);
        if (sum[0] !== wal.readUInt32BE(at + 16) || sum[1] !== wal.readUInt32BE(at + 20)) break;
        frames.push({ page: wal.readUInt32BE(at), at: at + 24 });
        const size = wal.readUInt32BE(at + 4);
        if (size !== 0) {
          committed = frames.length;
          dbPages = size;
        }
      }
      if (committed > 0) {
        const out = Buffer.alloc(dbPages * pageSize);
        image.copy(out, 0, 0, Math.min(image.length, out.length));
        for (const f of frames.slice(0, committed)) {
          if (f.page <= dbPages) wal.copy(out, (f.page - 1) * pageSize, f.at, f.at + pageSize);
        }
        return legacyHeader(out);
      }
    }
  }
  return legacyHeader(image);
}

/** SQLite's WAL checksum: pairs of 32-bit words, Fibonacci-weighted, modulo 2^32. */
function checksum(buf: Buffer, at: number, len: number, [s0, s1]: number[], bigEndian: boolean): number[] {
  let a = s0!;
  let b = s1!;
  for (let i = at; i < at + len; i += 8) {
    const x = bigEndian ? buf.readUInt32BE(i) : buf.readUInt32LE(i);
    const y = bigEndian ? buf.readUInt32BE(i + 4) : buf.readUInt32LE(i + 4);
    a = (a + x + b) >>> 0;
    b = (b + y + a) >>> 0;
  }
  return [a, b];
}

/** File format bytes 18/19 = 1 (rollback journal): sql.js has no WAL support. */
function legacyHeader(image: Buffer): Uint8Array {
  if (image.length >= 100) {
    image[18] = 1;
    image[19] = 1;
  }
  return image;
}

function readDb(db: Db): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  // Virtual tables (D1's FTS5; sql.js has no fts5 module) are skipped: their shadow
  // tables are ordinary tables and are counted.
  const tables = db.exec("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND sql NOT LIKE 'CREATE VIRTUAL%'")[0]?.values ?? [];
  for (const [tableName, tableSql] of tables) {
    const table = String(tableName);
    const q = quote(table);
    const pkCols = (db.exec(`PRAGMA table_info(${q})`)[0]?.values ?? []).filter((c) => Number(c[5]) > 0).sort((x, y) => Number(x[5]) - Number(y[5])).map((c) => quote(String(c[1])));
    // Row identity: rowid, or the primary key of a WITHOUT ROWID table.
    const key = /WITHOUT\s+ROWID\s*$/i.test(String(tableSql ?? "")) ? pkCols.join(", ") : "rowid";
    out.set(table, rowsOf(db, `SELECT ${key}, * FROM ${q}`, key.split(",").length));
    for (const idx of db.exec(`PRAGMA index_list(${q})`)[0]?.values ?? []) {
      const [, idxName, , origin] = idx;
      if (origin === "pk" && key !== "rowid") continue; // the table itself
      const cols = (db.exec(`PRAGMA index_info(${quote(String(idxName))})`)[0]?.values ?? []).map((c) => (c[2] === null ? "*" : quote(String(c[2]))));
      const sql = db.exec(`SELECT sql FROM sqlite_master WHERE name = '${String(idxName).replaceAll("'", "''")}'`)[0]?.values[0]?.[0];
      const where = /\bWHERE\b([\s\S]*)$/i.exec(String(sql ?? ""))?.[1];
      // An expression column ("*"): the whole row stands in for the entry.
      const selected = cols.includes("*") ? "*" : cols.join(", ");
      out.set(`${String(idxName)} (index)`, rowsOf(db, `SELECT ${key}, ${selected} FROM ${q}${where ? ` WHERE ${where}` : ""}`, key.split(",").length));
    }
  }
  return out;
}

function rowsOf(db: Db, sql: string, keyCols: number): Map<string, string> {
  const out = new Map<string, string>();
  const stmt = db.prepare(sql);
  try {
    while (stmt.step()) {
      const row = stmt.get().map((v) => (v instanceof Uint8Array ? `x'${Buffer.from(v).toString("hex")}'` : v));
      out.set(JSON.stringify(row.slice(0, keyCols)), JSON.stringify(row.slice(keyCols)));
    }
  } finally {
    stmt.free();
  }
  return out;
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
