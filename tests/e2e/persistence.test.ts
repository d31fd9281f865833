// State survives a restart of `npm start`: the same data directory gives the same server key.
import { describe, expect, it } from "vitest";
import { startServer } from "./setup.ts";

describe("[e2e: persistence]", () => {
  it("[ss: keys] the signing key generated on first start is the key after a restart", { timeout: 180_000 }, async () => {
    const first = await startServer();
    let keysBefore: unknown;
    try {
      keysBefore = ((await (await fetch(`${first.baseUrl}/_matrix/key/v2/server`)).json()) as { verify_keys: unknown }).verify_keys;
    } finally {
      await first.stop({ keepData: true });
    }
    const second = await startServer({ dataDir: first.dataDir });
    try {
      const after = (await (await fetch(`${second.baseUrl}/_matrix/key/v2/server`)).json()) as { verify_keys: unknown };
      expect(after.verify_keys).toEqual(keysBefore);
    } finally {
      await second.stop();
    }
  });
});
