import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { verifyJsonSignature } from "../../lib/signing.ts";
import type { JsonObject } from "../../lib/json.ts";
import { serverActor } from "../../party/stubs.ts";
import type { ServerActor } from "../../party/server.ts";

const SERVER_NAME = "localhost:8787";

describe("Server actor", () => {
  it("[keys: server] the signing key is generated once and persisted in SQLite", async () => {
    const stub = serverActor(env);
    const first = await stub.signingKey();
    expect(first.keyId).toMatch(/^ed25519:[A-Za-z0-9_]+$/);
    expect(first.seed.byteLength).toBe(32);
    const again = await stub.signingKey();
    expect(again.keyId).toBe(first.keyId);
    const rows = await runInDurableObject(stub, (_: ServerActor, state) =>
      state.storage.sql.exec<{ key_id: string; expired_ts: number | null }>("SELECT key_id, expired_ts FROM signing_keys").toArray(),
    );
    expect(rows).toEqual([{ key_id: first.keyId, expired_ts: null }]);
  });

  it("[keys: server] the key survives a restart of the actor (read back from storage)", async () => {
    const stub = serverActor(env);
    const { keyId, seed } = await stub.signingKey();
    // A fresh instance reading the same storage must find the same seed.
    const fromStorage = await runInDurableObject(stub, (_: ServerActor, state) =>
      state.storage.sql.exec<{ key_id: string; seed: ArrayBuffer }>("SELECT key_id, seed FROM signing_keys WHERE expired_ts IS NULL").one(),
    );
    expect(fromStorage.key_id).toBe(keyId);
    expect([...new Uint8Array(fromStorage.seed)]).toEqual([...seed]);
  });

  it("[keys: server] the key response is signed by the current key and valid for a day", async () => {
    const stub = serverActor(env);
    const now = Date.now();
    const body = (await stub.keyResponse(now)) as unknown as JsonObject;
    const { keyId } = await stub.signingKey();
    expect(body["server_name"]).toBe(SERVER_NAME);
    expect(body["valid_until_ts"]).toBe(now + 24 * 60 * 60 * 1000);
    expect(body["old_verify_keys"]).toEqual({});
    const verify = body["verify_keys"] as Record<string, { key: string }>;
    expect(Object.keys(verify)).toEqual([keyId]);
    expect(await verifyJsonSignature(body, SERVER_NAME, keyId, verify[keyId]!.key)).toBe(true);
    // Tampering breaks the signature: the check is real.
    expect(await verifyJsonSignature({ ...body, valid_until_ts: 1 }, SERVER_NAME, keyId, verify[keyId]!.key)).toBe(false);
  });

  it("[keys: server] rotation moves the old key to old_verify_keys with expired_ts", async () => {
    const stub = serverActor(env);
    const before = await stub.keyResponse();
    const oldId = Object.keys(before.verify_keys)[0]!;
    const oldKey = before.verify_keys[oldId]!.key;
    const rotatedAt = Date.now();
    const { keyId: newId, retired } = await stub.rotateKey(rotatedAt);
    expect(retired).toBe(oldId);
    expect(newId).not.toBe(oldId);
    const after = await stub.keyResponse();
    expect(Object.keys(after.verify_keys)).toEqual([newId]);
    expect(after.old_verify_keys).toEqual({ [oldId]: { key: oldKey, expired_ts: rotatedAt } });
    const body = after as unknown as JsonObject;
    expect(await verifyJsonSignature(body, SERVER_NAME, newId, after.verify_keys[newId]!.key)).toBe(true);
    // Signed by the current key only, not by the retired one.
    expect(Object.keys(after.signatures[SERVER_NAME]!)).toEqual([newId]);
    const rows = await runInDurableObject(stub, (_: ServerActor, state) =>
      state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM signing_keys WHERE expired_ts IS NULL").one(),
    );
    expect(rows.n).toBe(1);
  });

  it("[schema] migrations are recorded and applied once", async () => {
    const stub = serverActor(env);
    await stub.signingKey();
    const versions = await runInDurableObject(stub, (_: ServerActor, state) =>
      state.storage.sql.exec<{ version: number }>("SELECT version FROM _migrations ORDER BY version").toArray(),
    );
    expect(versions.map((v) => v.version)).toEqual([1]);
  });
});
