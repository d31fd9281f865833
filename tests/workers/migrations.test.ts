// Append-only actor migrations (party/migrations.ts) on a real Durable Object's SQLite.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { applyMigrations, parseMigrations } from "../../party/migrations.ts";
import type { Room } from "../../party/room.ts";
import { roomActor } from "../../party/stubs.ts";

const V1 = "-- migration 1: a\nCREATE TABLE a (x INTEGER);\nCREATE TABLE b (y TEXT);\n";
const V2 = V1 + "-- migration 2: c\nCREATE TABLE c (z INTEGER);\n";

describe("[schema] actor migrations", () => {
  it("[schema] parse: numbered steps, headers with descriptions, comments before the first step", () => {
    const steps = parseMigrations("-- a file comment\n\n" + V2);
    expect(steps.map((s) => [s.version, s.description])).toEqual([
      [1, "a"],
      [2, "c"],
    ]);
    expect(steps[0]!.sql).toContain("CREATE TABLE b");
  });

  it("[schema] parse: gaps, reordering and SQL before the first header are errors", () => {
    expect(() => parseMigrations("-- migration 2: x\nSELECT 1;\n")).toThrow(/out of order/);
    expect(() => parseMigrations("-- migration 1\nSELECT 1;\n-- migration 1\nSELECT 1;\n")).toThrow(/out of order/);
    expect(() => parseMigrations("CREATE TABLE x (y);\n-- migration 1\n")).toThrow(/before the first/);
  });

  it("[schema] apply: new steps run once, in order; already-applied steps are skipped", async () => {
    // A room actor is a fresh SQLite database with an empty schema.
    const stub = roomActor(env, `!migrations-${crypto.randomUUID()}`);
    await runInDurableObject(stub, (_: Room, state) => {
      expect(applyMigrations(state.storage, V1)).toBe(1);
      state.storage.sql.exec("INSERT INTO a (x) VALUES (1)");
      expect(applyMigrations(state.storage, V1)).toBe(1);
      expect(applyMigrations(state.storage, V2)).toBe(2);
      const tables = state.storage.sql
        .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('a','b','c') ORDER BY name")
        .toArray()
        .map((r) => r.name);
      expect(tables).toEqual(["a", "b", "c"]);
      expect(state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM a").one().n).toBe(1);
    });
  });

  it("[schema] apply: a failing step rolls back entirely and is not recorded", async () => {
    const stub = roomActor(env, `!migrations-${crypto.randomUUID()}`);
    await runInDurableObject(stub, (_: Room, state) => {
      applyMigrations(state.storage, V1);
      const broken = V1 + "-- migration 2: half\nCREATE TABLE d (x);\nCREATE TABLE a (dup);\n";
      expect(() => applyMigrations(state.storage, broken)).toThrow();
      const d = state.storage.sql.exec("SELECT name FROM sqlite_master WHERE name = 'd'").toArray();
      expect(d).toEqual([]);
      expect(state.storage.sql.exec<{ v: number }>("SELECT MAX(version) AS v FROM _migrations").one().v).toBe(1);
    });
  });

  it("[schema] apply: storage newer than the code is refused", async () => {
    const stub = roomActor(env, `!migrations-${crypto.randomUUID()}`);
    await runInDurableObject(stub, (_: Room, state) => {
      applyMigrations(state.storage, V2);
      expect(() => applyMigrations(state.storage, V1)).toThrow(/knows only 1/);
    });
  });
});

describe("[schema] D1 (schema/d1)", () => {
  it("[schema] the cross-room index tables exist after the migrations npm start applies", async () => {
    const { results } = await env.DB.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('room_aliases','room_directory','user_directory','room_directory_fts','user_directory_fts') ORDER BY name",
    ).all<{ name: string }>();
    expect(results.map((r) => r.name)).toEqual([
      "room_aliases",
      "room_directory",
      "room_directory_fts",
      "user_directory",
      "user_directory_fts",
    ]);
    // Full-text search works (D1 ships FTS5); since 0002 the index follows user_directory by trigger.
    await env.DB.prepare("INSERT INTO user_directory (user_id, display_name, updated_ts) VALUES (?, ?, ?)")
      .bind("@alice:x", "Alice Liddell", Date.now())
      .run();
    const hit = await env.DB.prepare("SELECT user_id FROM user_directory_fts WHERE user_directory_fts MATCH ?").bind("liddell").first<{ user_id: string }>();
    expect(hit?.user_id).toBe("@alice:x");
  });
});
