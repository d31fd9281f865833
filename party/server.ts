/**
 * Server actor: the singleton that owns the server's signing keys (and, later,
 * registration tokens, the appservice registry and server-wide settings).
 *
 * The Ed25519 key is generated the first time the actor starts and persisted as
 * its 32-byte seed in SQLite, so it survives restarts. `rotateKey()` retires the
 * current key into `old_verify_keys` (with its `expired_ts`) and makes a new one.
 * https://spec.matrix.org/v1.19/server-server-api/#retrieving-server-keys
 */
import { Server } from "partyserver";
import type { JsonObject } from "../lib/json.ts";
import { Ed25519Key, signJson } from "../lib/signing.ts";
import { type Env, loadConfig } from "./env.ts";
import { migrateOnStart } from "./migrations.ts";
import schema from "../schema/server.sql";

/** How long a fetched key response may be cached by other servers. */
export const KEY_VALIDITY_MS = 24 * 60 * 60 * 1000;

interface KeyRow extends Record<string, SqlStorageValue> {
  key_id: string;
  seed: ArrayBuffer;
  created_ts: number;
  expired_ts: number | null;
}

/** The signed key document (spec: Server Keys). */
export interface ServerKeys {
  server_name: string;
  verify_keys: Record<string, { key: string }>;
  old_verify_keys: Record<string, { key: string; expired_ts: number }>;
  valid_until_ts: number;
  signatures: Record<string, Record<string, string>>;
}

export interface SigningKeyInfo {
  keyId: string;
  /** The 32-byte seed, for actors that sign with the server key (rooms, later federation). */
  seed: Uint8Array;
}

export class ServerActor extends Server<Env> {
  #current: Ed25519Key | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    migrateOnStart(ctx, schema);
  }

  /** The current signing key, generated and stored on first use. */
  async signingKey(): Promise<SigningKeyInfo> {
    const key = await this.#currentKey();
    return { keyId: key.keyId, seed: key.seed };
  }

  /**
   * The body of `GET /_matrix/key/v2/server`: every key this server has signed
   * with, the current ones under verify_keys and retired ones under
   * old_verify_keys, signed by every current key.
   */
  async keyResponse(now = Date.now()): Promise<ServerKeys> {
    const current = await this.#currentKey();
    const verifyKeys: JsonObject = { [current.keyId]: { key: current.publicKeyBase64 } };
    const oldVerifyKeys: JsonObject = {};
    for (const row of this.#rows().filter((r) => r.expired_ts !== null)) {
      const old = await Ed25519Key.fromSeed(new Uint8Array(row.seed), row.key_id);
      oldVerifyKeys[row.key_id] = { key: old.publicKeyBase64, expired_ts: row.expired_ts! };
    }
    const serverName = loadConfig(this.env).serverName;
    const body: JsonObject = {
      server_name: serverName,
      verify_keys: verifyKeys,
      old_verify_keys: oldVerifyKeys,
      valid_until_ts: now + KEY_VALIDITY_MS,
    };
    return (await signJson(body, serverName, current)) as unknown as ServerKeys;
  }

  /** Retires the current key (expired now) and makes a new current key. Returns the new key's ID. */
  async rotateKey(now = Date.now()): Promise<{ keyId: string; retired: string | null }> {
    const fresh = await generateKey();
    // Synchronous from here: no other request can interleave with the swap.
    const previous = this.#rows().find((r) => r.expired_ts === null)?.key_id ?? null;
    this.ctx.storage.transactionSync(() => {
      this.ctx.storage.sql.exec("UPDATE signing_keys SET expired_ts = ? WHERE expired_ts IS NULL", now);
      this.#insert(fresh, now);
    });
    this.#current = fresh;
    return { keyId: fresh.keyId, retired: previous };
  }

  // ---- registration tokens (REGISTRATION_MODE=token; used by party/user.ts) ----
  // https://spec.matrix.org/v1.19/client-server-api/#token-authenticated-registration

  /** A token is valid while it has not expired and has uses left. */
  async registrationTokenValid(token: string, now = Date.now()): Promise<boolean> {
    const row = this.ctx.storage.sql
      .exec<{ uses_allowed: number | null; completed: number; expiry_time: number | null }>(
        "SELECT uses_allowed, completed, expiry_time FROM registration_tokens WHERE token = ?",
        token,
      )
      .toArray()[0];
    if (!row) return false;
    if (row.expiry_time !== null && row.expiry_time <= now) return false;
    return row.uses_allowed === null || row.completed < row.uses_allowed;
  }

  /** Counts one completed registration against the token; false if it was no longer valid. */
  async useRegistrationToken(token: string, now = Date.now()): Promise<boolean> {
    // One statement: the check and the increment cannot interleave with another use.
    const used = this.ctx.storage.sql
      .exec(
        "UPDATE registration_tokens SET completed = completed + 1 WHERE token = ? " +
          "AND (expiry_time IS NULL OR expiry_time > ?) AND (uses_allowed IS NULL OR completed < uses_allowed) RETURNING token",
        token,
        now,
      )
      .toArray();
    return used.length === 1;
  }

  /** Creates a registration token (operators, tests). Returns the token. */
  async createRegistrationToken(p: { token?: string; usesAllowed?: number | null; expiryTime?: number | null } = {}): Promise<string> {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-";
    const token = p.token ?? [...crypto.getRandomValues(new Uint8Array(16))].map((b) => alphabet[b % 64]).join("");
    this.ctx.storage.sql.exec(
      "INSERT INTO registration_tokens (token, uses_allowed, expiry_time) VALUES (?, ?, ?)",
      token,
      p.usesAllowed ?? null,
      p.expiryTime ?? null,
    );
    return token;
  }

  // ---- shared-secret admin registration nonces (used by party/edge/admin.ts) ----
  // Kept in memory like Synapse does: they live for a minute, and losing them when the
  // actor is evicted only makes the client fetch a new one.
  #adminNonces = new Map<string, number>();

  /** A fresh single-use nonce for `/_synapse/admin/v1/register`, valid for `ttlMs`. */
  async adminRegisterNonce(ttlMs = 60_000, now = Date.now()): Promise<string> {
    for (const [n, exp] of this.#adminNonces) if (exp <= now) this.#adminNonces.delete(n);
    const nonce = [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
    this.#adminNonces.set(nonce, now + ttlMs);
    return nonce;
  }

  /** Uses up a nonce: true once for a nonce that was issued and has not expired. */
  async consumeAdminRegisterNonce(nonce: string, now = Date.now()): Promise<boolean> {
    const exp = this.#adminNonces.get(nonce);
    this.#adminNonces.delete(nonce);
    return exp !== undefined && exp > now;
  }

  async #currentKey(): Promise<Ed25519Key> {
    if (this.#current) return this.#current;
    const row = this.#rows().find((r) => r.expired_ts === null);
    if (row) {
      this.#current = await Ed25519Key.fromSeed(new Uint8Array(row.seed), row.key_id);
      return this.#current;
    }
    const fresh = await generateKey();
    // Another call may have created the key while this one awaited the generation.
    const again = this.#rows().find((r) => r.expired_ts === null);
    if (again) {
      this.#current = await Ed25519Key.fromSeed(new Uint8Array(again.seed), again.key_id);
      return this.#current;
    }
    this.#insert(fresh, Date.now());
    this.#current = fresh;
    return fresh;
  }

  #rows(): KeyRow[] {
    return this.ctx.storage.sql
      .exec<KeyRow>("SELECT key_id, seed, created_ts, expired_ts FROM signing_keys ORDER BY created_ts")
      .toArray();
  }

  #insert(key: Ed25519Key, now: number): void {
    this.ctx.storage.sql.exec(
      "INSERT INTO signing_keys (key_id, seed, created_ts, expired_ts) VALUES (?, ?, ?, NULL)",
      key.keyId,
      key.seed,
      now,
    );
  }
}

/** A new key with a random version: `ed25519:` + 8 characters of [A-Za-z0-9]. */
async function generateKey(): Promise<Ed25519Key> {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  const version = [...bytes].map((b) => alphabet[b % alphabet.length]).join("");
  const seed = crypto.getRandomValues(new Uint8Array(32));
  return Ed25519Key.fromSeed(seed, `ed25519:${version}`);
}
