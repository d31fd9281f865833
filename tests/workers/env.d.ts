// `env` from cloudflare:test / cloudflare:workers is Parley's Env plus test-only bindings.
import type { Env } from "../../party/env.ts";

declare global {
  namespace Cloudflare {
    interface Env extends ParleyTestEnv {}
  }
}

interface ParleyTestEnv extends Env {
  TEST_D1_MIGRATIONS: import("cloudflare:test").D1Migration[];
}
