import { defineConfig } from "vitest/config";

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
    ],
  },
});
