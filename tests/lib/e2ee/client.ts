/**
 * A tiny stand-in for an E2EE client, for tests: real Ed25519 keys (lib/signing.ts, WebCrypto),
 * well-formed Curve25519 public keys (random bytes: the server never does Curve25519 maths),
 * and correctly signed device keys, one-time keys, fallback keys and cross-signing keys.
 * Runs in Node (lib and e2e tests) and in workerd (workers tests).
 */
import { encodeBase64 } from "../../../lib/base64.ts";
import type { JsonObject } from "../../../lib/json.ts";
import { Ed25519Key, signJson } from "../../../lib/signing.ts";

const random32 = () => encodeBase64(crypto.getRandomValues(new Uint8Array(32)));

/** An Ed25519 key whose key ID is `ed25519:<public key>`, as cross-signing keys are named. */
export async function keyNamedByItself(): Promise<Ed25519Key> {
  const seed = crypto.getRandomValues(new Uint8Array(32));
  const probe = await Ed25519Key.fromSeed(seed, "ed25519:probe");
  return Ed25519Key.fromSeed(seed, `ed25519:${probe.publicKeyBase64}`);
}

export class FakeDevice {
  #next = 0;
  private constructor(
    readonly userId: string,
    readonly deviceId: string,
    readonly key: Ed25519Key,
    readonly curve25519: string,
  ) {}

  static async create(userId: string, deviceId: string): Promise<FakeDevice> {
    return new FakeDevice(userId, deviceId, await Ed25519Key.generate(`ed25519:${deviceId}`), random32());
  }

  get ed25519(): string {
    return this.key.publicKeyBase64;
  }

  /** Signs as this device (`signatures[userId]["ed25519:<deviceId>"]`). */
  sign(obj: JsonObject): Promise<JsonObject> {
    return signJson(obj, this.userId, this.key);
  }

  /** Signed device keys; `extra` fields are added before signing. */
  deviceKeys(extra: JsonObject = {}): Promise<JsonObject> {
    return this.sign({
      user_id: this.userId,
      device_id: this.deviceId,
      algorithms: ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
      keys: { [`curve25519:${this.deviceId}`]: this.curve25519, [`ed25519:${this.deviceId}`]: this.ed25519 },
      ...extra,
    });
  }

  /** `n` signed_curve25519 one-time keys with fresh key IDs. */
  async oneTimeKeys(n: number): Promise<Record<string, JsonObject>> {
    const out: Record<string, JsonObject> = {};
    for (let i = 0; i < n; i++) out[`signed_curve25519:${this.#nextId()}`] = await this.sign({ key: random32() });
    return out;
  }

  /** One signed fallback key (`fallback: true`). */
  async fallbackKey(): Promise<Record<string, JsonObject>> {
    return { [`signed_curve25519:${this.#nextId()}`]: await this.sign({ key: random32(), fallback: true }) };
  }

  #nextId(): string {
    return `AAAA${(this.#next++).toString(36).padStart(4, "0")}${Math.random().toString(36).slice(2, 6)}`;
  }
}

/** A user's three cross-signing keys. */
export class FakeCrossSigning {
  private constructor(
    readonly userId: string,
    readonly master: Ed25519Key,
    readonly selfSigning: Ed25519Key,
    readonly userSigning: Ed25519Key,
  ) {}

  static async create(userId: string): Promise<FakeCrossSigning> {
    return new FakeCrossSigning(userId, await keyNamedByItself(), await keyNamedByItself(), await keyNamedByItself());
  }

  keyObject(usage: "master" | "self_signing" | "user_signing"): JsonObject {
    const key = usage === "master" ? this.master : usage === "self_signing" ? this.selfSigning : this.userSigning;
    return { user_id: this.userId, usage: [usage], keys: { [key.keyId]: key.publicKeyBase64 } };
  }

  /** The body of /keys/device_signing/upload: the master key, and the others signed by it. */
  async uploadBody(): Promise<JsonObject> {
    return {
      master_key: this.keyObject("master"),
      self_signing_key: await signJson(this.keyObject("self_signing"), this.userId, this.master),
      user_signing_key: await signJson(this.keyObject("user_signing"), this.userId, this.master),
    };
  }

  /** One of the user's own device keys, signed by the self-signing key. */
  signDevice(deviceKeys: JsonObject): Promise<JsonObject> {
    return signJson(deviceKeys, this.userId, this.selfSigning);
  }

  /** Another user's master key, signed by this user's user-signing key. */
  signUser(masterKey: JsonObject): Promise<JsonObject> {
    return signJson(masterKey, this.userId, this.userSigning);
  }
}
