/**
 * Discovery: what this server is and what it supports.
 * https://spec.matrix.org/v1.19/client-server-api/#server-discovery
 * https://spec.matrix.org/v1.19/client-server-api/#capabilities-negotiation
 */
import type { JsonObject } from "../../lib/json.ts";
import { creatableRoomVersions, DEFAULT_ROOM_VERSION } from "../../lib/room-versions.ts";
import { authenticate } from "./auth.ts";
import { json } from "./http.ts";
import type { EdgeRequest } from "./router.ts";

/**
 * Spec versions advertised by /versions. A version is a promise that every
 * endpoint and behaviour it requires works. Every client-server operation of v1.1
 * through v1.19 is served (docs/endpoints.md) except those the spec lets a server
 * without the feature leave out — OAuth 2.0 server metadata, SSO login, a policy
 * server — which answer 404 M_UNRECOGNIZED. The r0 versions are not listed: their
 * `/r0/` paths are not served. Federation is a separate API and not promised here.
 */
export const SPEC_VERSIONS: readonly string[] = Array.from({ length: 19 }, (_, i) => `v1.${i + 1}`);

/** Unstable features (MSCs) that work end to end. */
export const UNSTABLE_FEATURES: Readonly<Record<string, boolean>> = {
  // Simplified sliding sync (MSC4186), party/edge/sync.ts; tests/e2e/sliding-sync.test.ts.
  "org.matrix.simplified_msc3575": true,
};

/**
 * Account features as /capabilities reports them; each is true only when its
 * endpoints work (the accounts work flips them as it lands).
 */
export const ACCOUNT_CAPABILITIES = {
  changePassword: true,
  setDisplayname: true,
  setAvatarUrl: true,
  getLoginToken: true,
} as const;

// GET /_matrix/client/versions
export function versions(): Response {
  return json({ versions: [...SPEC_VERSIONS], unstable_features: { ...UNSTABLE_FEATURES } });
}

// GET /.well-known/matrix/client
export function wellKnownClient(req: EdgeRequest): Response {
  return json({ "m.homeserver": { base_url: req.config.publicBaseUrl } });
}

// GET /.well-known/matrix/server
export function wellKnownServer(req: EdgeRequest): Response {
  // Delegation for federation: the host this Worker answers on (PUBLIC_BASEURL),
  // with its port spelled out. Workers serve only standard ports, so without the
  // explicit port other servers would try 8448 and fail.
  const base = new URL(req.config.publicBaseUrl);
  const port = base.port || (base.protocol === "https:" ? "443" : "80");
  return json({ "m.server": `${base.hostname}:${port}` });
}

// GET /_matrix/client/v3/capabilities
export async function capabilities(req: EdgeRequest): Promise<Response> {
  const me = await authenticate(req);
  const available: JsonObject = {};
  for (const v of creatableRoomVersions()) available[v.id] = v.stable ? "stable" : "unstable";
  return json({
    capabilities: {
      "m.change_password": { enabled: ACCOUNT_CAPABILITIES.changePassword },
      "m.room_versions": { default: DEFAULT_ROOM_VERSION, available },
      "m.set_displayname": { enabled: ACCOUNT_CAPABILITIES.setDisplayname },
      "m.set_avatar_url": { enabled: ACCOUNT_CAPABILITIES.setAvatarUrl },
      "m.3pid_changes": { enabled: false },
      "m.get_login_token": { enabled: ACCOUNT_CAPABILITIES.getLoginToken },
      // Server admins may lock and suspend (party/edge/restrictions.ts); omitted for everyone else, as the spec asks.
      ...(me.admin ? { "m.account_moderation": { lock: true, suspend: true } } : {}),
    },
  });
}
