/**
 * Ed25519 signing of JSON and events, via WebCrypto (Node 20 and workerd).
 * https://spec.matrix.org/v1.19/appendices/#signing-json
 * https://spec.matrix.org/v1.19/server-server-api/#signing-events
 */
import nacl from "tweetnacl";
import { decodeBase64, encodeBase64 } from "./base64.ts";
import { canonicalJsonBytes } from "./canonical-json.ts";
import { computeContentHash } from "./hashes.ts";
import { isJsonObject, type JsonObject } from "./json.ts";
import { redactEvent } from "./redaction.ts";
import type { RedactionRules, RoomVersionRules } from "./room-versions.ts";

const ED25519 = { name: "Ed25519" } as const;
/** PKCS#8 DER header for an Ed25519 private key; the 32-byte seed follows. */
const PKCS8_PREFIX = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);

type Bytes = Uint8Array<ArrayBuffer>;
/** WebCrypto's key type, named without DOM or node:crypto typings (lib runs in Node and workerd). */
type CryptoKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;
const bytes = (b: Uint8Array): Bytes => (b.buffer instanceof ArrayBuffer ? (b as Bytes) : new Uint8Array(b));

function base64UrlToBytes(s: string): Uint8Array {
  return decodeBase64(s.replace(/-/g, "+").replace(/_/g, "/"));
}

/** An Ed25519 signing key with its Matrix key ID (`ed25519:<version>`). */
export class Ed25519Key {
  private constructor(
    readonly keyId: string,
    /** The 32-byte private seed: what is stored to restore the key. */
    readonly seed: Uint8Array,
    readonly publicKey: Uint8Array,
    private readonly privateKey: CryptoKey,
  ) {}

  static async fromSeed(seed: Uint8Array, keyId: string): Promise<Ed25519Key> {
    if (seed.length !== 32) throw new Error(`an Ed25519 seed is 32 bytes, got ${seed.length}`);
    if (!keyId.startsWith("ed25519:")) throw new Error(`key ID ${keyId} is not an ed25519 key ID`);
    const pkcs8 = new Uint8Array(PKCS8_PREFIX.length + 32);
    pkcs8.set(PKCS8_PREFIX);
    pkcs8.set(seed, PKCS8_PREFIX.length);
    // extractable so the public key can be read from the JWK export.
    const privateKey = await crypto.subtle.importKey("pkcs8", pkcs8, ED25519, true, ["sign"]);
    let publicKey: Uint8Array;
    // Typed for both Node's and workerd's lib types (workerd's exportKey returns ArrayBuffer | JsonWebKey).
    const jwk = (await crypto.subtle.exportKey("jwk", privateKey).catch(() => undefined)) as { x?: string } | undefined;
    if (jwk?.x) publicKey = base64UrlToBytes(jwk.x);
    else publicKey = nacl.sign.keyPair.fromSeed(seed).publicKey; // runtimes without JWK export
    return new Ed25519Key(keyId, new Uint8Array(seed), publicKey, privateKey);
  }

  /** A fresh random key; the key ID defaults to `ed25519:` + 6 random URL-safe characters. */
  static async generate(keyId?: string): Promise<Ed25519Key> {
    const seed = crypto.getRandomValues(new Uint8Array(32));
    const id = keyId ?? "ed25519:" + encodeBase64(crypto.getRandomValues(new Uint8Array(6))).replace(/[+/]/g, "_").slice(0, 6);
    return Ed25519Key.fromSeed(seed, id);
  }

  get publicKeyBase64(): string {
    return encodeBase64(this.publicKey);
  }

  get seedBase64(): string {
    return encodeBase64(this.seed);
  }

  async sign(message: Uint8Array): Promise<Uint8Array> {
    return new Uint8Array(await crypto.subtle.sign(ED25519, this.privateKey, bytes(message)));
  }
}

/** Imported public keys, by base64: importing costs about as much as verifying. */
const publicKeyCache = new Map<string, CryptoKey>();
const PUBLIC_KEY_CACHE_SIZE = 1024;

async function importPublicKey(publicKeyBase64: string): Promise<CryptoKey | undefined> {
  const cached = publicKeyCache.get(publicKeyBase64);
  if (cached) return cached;
  let raw: Uint8Array;
  try {
    raw = decodeBase64(publicKeyBase64);
  } catch {
    return undefined;
  }
  if (raw.length !== 32) return undefined;
  const key = await crypto.subtle.importKey("raw", bytes(raw), ED25519, false, ["verify"]).catch(() => undefined);
  if (!key) return undefined;
  if (publicKeyCache.size >= PUBLIC_KEY_CACHE_SIZE) publicKeyCache.delete(publicKeyCache.keys().next().value!);
  publicKeyCache.set(publicKeyBase64, key);
  return key;
}

/** Verifies a detached Ed25519 signature; false on any malformed input. */
export async function verifyEd25519(publicKeyBase64: string, message: Uint8Array, signatureBase64: string): Promise<boolean> {
  const key = await importPublicKey(publicKeyBase64);
  if (!key) return false;
  let sig: Uint8Array;
  try {
    sig = decodeBase64(signatureBase64);
  } catch {
    return false;
  }
  if (sig.length !== 64) return false;
  return crypto.subtle.verify(ED25519, key, bytes(sig), bytes(message)).catch(() => false);
}

/** The bytes a JSON signature covers: canonical JSON without `signatures` and `unsigned`. */
export function signingInput(obj: JsonObject): Uint8Array {
  const copy: JsonObject = {};
  for (const k of Object.keys(obj)) {
    if (k === "signatures" || k === "unsigned") continue;
    Object.defineProperty(copy, k, { value: obj[k], writable: true, enumerable: true, configurable: true });
  }
  return canonicalJsonBytes(copy);
}

function addSignature(obj: JsonObject, serverName: string, keyId: string, sig: string): JsonObject {
  const existing = isJsonObject(obj.signatures) ? obj.signatures : {};
  const forServer = isJsonObject(existing[serverName]) ? existing[serverName] : {};
  return { ...obj, signatures: { ...existing, [serverName]: { ...forServer, [keyId]: sig } } };
}

/** Signs a JSON object; returns a copy with the signature added to any existing ones. */
export async function signJson(obj: JsonObject, serverName: string, key: Ed25519Key): Promise<JsonObject> {
  const sig = encodeBase64(await key.sign(signingInput(obj)));
  return addSignature(obj, serverName, key.keyId, sig);
}

/** The signature `signatures[serverName][keyId]`, if it is a string. */
export function getSignature(obj: JsonObject, serverName: string, keyId: string): string | undefined {
  const sigs = obj.signatures;
  if (!isJsonObject(sigs)) return undefined;
  const forServer = sigs[serverName];
  if (!isJsonObject(forServer)) return undefined;
  const sig = forServer[keyId];
  return typeof sig === "string" ? sig : undefined;
}

/** True when `obj` carries a valid signature by serverName's keyId. */
export async function verifyJsonSignature(obj: JsonObject, serverName: string, keyId: string, publicKeyBase64: string): Promise<boolean> {
  const sig = getSignature(obj, serverName, keyId);
  if (sig === undefined) return false;
  let input: Uint8Array;
  try {
    input = signingInput(obj);
  } catch {
    return false; // not canonical-JSON-serialisable, so it cannot carry a valid signature
  }
  return verifyEd25519(publicKeyBase64, input, sig);
}

/**
 * Synchronous verification with tweetnacl. WebCrypto is async only, and the auth rules
 * must check third-party-invite signatures (m.room.member `third_party_invite.signed`)
 * inside synchronous state resolution, so this one path cannot use WebCrypto.
 */
export function verifyJsonSignatureSync(obj: JsonObject, serverName: string, keyId: string, publicKeyBase64: string): boolean {
  const sig = getSignature(obj, serverName, keyId);
  if (sig === undefined) return false;
  try {
    const pk = decodeBase64(publicKeyBase64);
    const s = decodeBase64(sig);
    if (pk.length !== 32 || s.length !== 64) return false;
    return nacl.sign.detached.verify(signingInput(obj), s, pk);
  } catch {
    return false;
  }
}

/** Signs an event: the signature covers the redacted event. Returns a copy with it added. */
export async function signEvent(
  eventJson: JsonObject,
  serverName: string,
  key: Ed25519Key,
  rules: RedactionRules | RoomVersionRules,
): Promise<JsonObject> {
  const sig = encodeBase64(await key.sign(signingInput(redactEvent(eventJson, rules))));
  return addSignature(eventJson, serverName, key.keyId, sig);
}

/** Adds the content hash (`hashes.sha256`) then the signature, in that order as the spec requires. */
export async function hashAndSignEvent(
  eventJson: JsonObject,
  serverName: string,
  key: Ed25519Key,
  rules: RedactionRules | RoomVersionRules,
): Promise<JsonObject> {
  const hashes = isJsonObject(eventJson.hashes) ? eventJson.hashes : {};
  const hashed = { ...eventJson, hashes: { ...hashes, sha256: await computeContentHash(eventJson) } };
  return signEvent(hashed, serverName, key, rules);
}

/** Verifies an event signature (over the redacted form) by serverName's keyId. */
export async function verifyEventSignature(
  eventJson: JsonObject,
  serverName: string,
  keyId: string,
  publicKeyBase64: string,
  rules: RedactionRules | RoomVersionRules,
): Promise<boolean> {
  return verifyJsonSignature(redactEvent(eventJson, rules), serverName, keyId, publicKeyBase64);
}
