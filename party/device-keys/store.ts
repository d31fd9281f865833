/**
 * The DeviceKeys actor's SQLite access: typed one/all/run, synchronous transactions and
 * named counters. Every module of the actor takes a Store, so each stays a set of plain
 * functions over SQL that one RPC method composes inside one transaction.
 */
export type Row = Record<string, SqlStorageValue>;

export class Store {
  constructor(
    readonly storage: DurableObjectStorage,
    /** The user ID this actor belongs to (its name). */
    readonly userId: string,
  ) {}

  run(query: string, ...args: SqlStorageValue[]): void {
    this.storage.sql.exec(query, ...args);
  }

  one<T extends Row>(query: string, ...args: SqlStorageValue[]): T | null {
    return this.storage.sql.exec<T>(query, ...args).toArray()[0] ?? null;
  }

  all<T extends Row>(query: string, ...args: SqlStorageValue[]): T[] {
    return this.storage.sql.exec<T>(query, ...args).toArray();
  }

  /** One synchronous transaction: no await can split what `body` reads from what it writes. */
  tx<T>(body: () => T): T {
    return this.storage.transactionSync(body);
  }

  /** Increments and returns a named counter (1 on first use). Positions are never reused. */
  bump(name: string): number {
    return this.one<{ value: number }>(
      "INSERT INTO counters (name, value) VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
      name,
    )!.value;
  }

  counter(name: string): number {
    return this.one<{ value: number }>("SELECT value FROM counters WHERE name = ?", name)?.value ?? 0;
  }
}
