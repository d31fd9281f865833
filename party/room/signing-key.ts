/**
 * The server's Ed25519 signing key for actors that sign events (rooms, and users
 * building a create event). The Server actor owns it; this caches it per isolate so
 * the write path does not call another actor per event. Re-read after a while so a
 * rotated key takes over without a restart.
 */
import { Ed25519Key } from "../../lib/signing.ts";
import type { Env } from "../env.ts";
import { serverActor } from "../stubs.ts";

const TTL_MS = 10 * 60 * 1000;
let cached: { key: Promise<Ed25519Key>; at: number } | undefined;

export function serverSigningKey(env: Env, now = Date.now()): Promise<Ed25519Key> {
  if (!cached || now - cached.at > TTL_MS) {
    const key = serverActor(env)
      .signingKey()
      .then((k) => Ed25519Key.fromSeed(new Uint8Array(k.seed), k.keyId));
    cached = { key, at: now };
    // A failed fetch must not stay cached.
    key.catch(() => {
      if (cached?.key === key) cached = undefined;
    });
  }
  return cached.key;
}
