/**
 * VoIP: TURN server credentials for calls.
 * https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3voipturnserver
 *
 * With a shared secret the credentials follow the TURN REST API convention that coturn's
 * `use-auth-secret` checks and Synapse's `turn_shared_secret` produces: the username is
 * `<expiry unix seconds>:<user ID>`, the password the standard (padded) base64 of
 * HMAC-SHA1(secret, username). With no TURN server configured the answer is `{}`, as
 * Synapse answers; clients (matrix-js-sdk) then call without a relay.
 */
import type { TurnConfig } from "../env.ts";
import { authenticate } from "./auth.ts";
import { json } from "./http.ts";
import type { EdgeRequest } from "./router.ts";

export interface TurnCredentials {
  username: string;
  password: string;
  uris: string[];
  ttl: number;
}

/** Credentials for `userId` valid until now + ttl (time-limited when minted from the secret). */
export async function turnCredentials(turn: TurnConfig, userId: string, nowMs: number): Promise<TurnCredentials> {
  const c = turn.credentials;
  if ("username" in c) return { username: c.username, password: c.password, uris: turn.uris, ttl: turn.ttlSeconds };
  const expiry = Math.floor(nowMs / 1000) + turn.ttlSeconds;
  const username = `${expiry}:${userId}`;
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(c.sharedSecret), { name: "HMAC", hash: "SHA-1" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(username)));
  let binary = "";
  for (const b of mac) binary += String.fromCharCode(b);
  return { username, password: btoa(binary), uris: turn.uris, ttl: turn.ttlSeconds };
}

// GET /_matrix/client/v3/voip/turnServer
export async function turnServer(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const turn = r.config.turn;
  if (!turn) return json({});
  return json({ ...(await turnCredentials(turn, me.userId, Date.now())) });
}
