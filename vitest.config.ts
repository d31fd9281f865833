import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import type { Plugin } from "vite";
import { readFileSync } from "node:fs";
import { defineConfig } from "vitest/config";

/** Schema files are imported as text, as wrangler's `[[rules]] type = "Text"` does in the real build. */
function sqlAsText(): Plugin {
  return {
    name: "parley-sql-as-text",
    transform(code, id) {
      if (id.endsWith(".sql")) return { code: `export default ${JSON.stringify(code)};`, map: null };
    },
  };
}

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "lib",
          include: ["tests/lib/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        // Actors and the edge Worker inside workerd, with wrangler.toml's bindings.
        plugins: [
          sqlAsText(),
          cloudflareTest(async () => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                TEST_D1_MIGRATIONS: await readD1Migrations("./schema/d1"),
                // Tests exercise the limiter directly; endpoint tests must not trip it.
                RATE_LIMITS_ENABLED: "false",
                REGISTRATION_MODE: "open",
                REGISTRATION_SHARED_SECRET: "test-shared-secret",
                // Appservices of tests/workers/appservice-*.test.ts (their HTTP is stubbed there).
                APPSERVICE_REGISTRATIONS: readFileSync("./tests/workers/appservice-registrations.json", "utf8"),
              },
            },
          })),
        ],
        test: {
          name: "workers",
          include: ["tests/workers/**/*.test.ts"],
          setupFiles: ["tests/workers/setup.ts"],
        },
      },
      {
        // The real server, started as the README says, driven over HTTP.
        test: {
          name: "e2e",
          include: ["tests/e2e/**/*.test.ts"],
          environment: "node",
          globalSetup: ["tests/e2e/setup.ts"],
          testTimeout: 30_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
