// `env` from cloudflare:test / cloudflare:workers is Parley's Env plus test-only bindings.
import type { D1Migration } from "cloudflare:test";
import type { Env as ParleyEnv } from "../../party/env.ts";

declare global {
  namespace Cloudflare {
    interface Env extends ParleyEnv {
      /** vitest.config.ts: the D1 migrations, applied by tests/workers/setup.ts. Optional so Parley's Env still satisfies Cloudflare.Env. */
      TEST_D1_MIGRATIONS?: D1Migration[];
    }
  }
}
