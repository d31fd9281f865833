// Runs before each workers test file: D1 gets the same migrations `npm start` applies.
import { applyD1Migrations, env } from "cloudflare:test";

if (!env.TEST_D1_MIGRATIONS) throw new Error("vitest.config.ts must bind TEST_D1_MIGRATIONS");
await applyD1Migrations(env.DB, env.TEST_D1_MIGRATIONS);
