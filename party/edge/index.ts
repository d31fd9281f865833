/**
 * The Worker entry: the route table, and the actor classes wrangler binds.
 * Handlers live one file per endpoint group; each is headed by its method and path.
 */
import type { Env } from "../env.ts";
import * as discovery from "./discovery.ts";
import * as keys from "./keys-server.ts";
import { Router } from "./router.ts";

export { ServerActor } from "../server.ts";
export { User } from "../user.ts";
export { Room } from "../room.ts";
export { DeviceKeys } from "../device-keys.ts";
export { RateLimiter } from "../rate-limiter.ts";

export const router = new Router()
  // Discovery
  .get("/.well-known/matrix/client", discovery.wellKnownClient)
  .get("/.well-known/matrix/server", discovery.wellKnownServer)
  .get("/_matrix/client/versions", discovery.versions)
  .get("/_matrix/client/v3/capabilities", discovery.capabilities)
  // Server keys (federation)
  .get("/_matrix/key/v2/server", keys.serverKeys);

export default {
  fetch(request, env, ctx) {
    return router.handle(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;
