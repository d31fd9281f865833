// End-to-end encryption against the real server (npm start). Part 1: the endpoints over raw
// HTTP, every response checked against the spec's OpenAPI. Part 2: matrix-js-sdk 37.5.0 with
// its Rust crypto (matrix-sdk-crypto-wasm, in memory): encrypted messages both ways,
// cross-signing, key backup restored on a new device, a dehydrated device round trip.
import { LoggerLevel, Tracing } from "@matrix-org/matrix-sdk-crypto-wasm";
import {
  ClientEvent,
  createClient,
  type MatrixClient,
  MsgType,
  Preset,
  SyncState,
} from "matrix-js-sdk";
import type { GeneratedSecretStorageKey } from "matrix-js-sdk/lib/crypto-api/index.js";
import { type Logger, logger as sdkLogger } from "matrix-js-sdk/lib/logger.js";
import { afterAll, describe, expect, inject, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { FakeCrossSigning, FakeDevice } from "../lib/e2ee/client.ts";
import { findTemplate, specJson, validateErrorBody, validateResponse } from "./openapi.ts";

const base = inject("baseUrl");
const PASSWORD = "a sufficiently long password";
const V3 = "/_matrix/client/v3";
const DEHYDRATED = "/_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device";

interface Session {
  userId: string;
  deviceId: string;
  token: string;
}

/** A request whose response is validated against the spec (status included); returns status and body. */
async function api(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: JsonObject }> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const status = res.status;
  if (status === 401 && path.endsWith("/keys/device_signing/upload")) return { status, body: uiaChallenge(await res.json()) };
  return { status, body: (await specJson<JsonObject>(res, method, path)) ?? {} };
}

/**
 * A UIA challenge (spec: user-interactive authentication, 401 with flows/params/session),
 * which the endpoint's OpenAPI does not list among its responses.
 */
function uiaChallenge(body: unknown): JsonObject {
  const b = body as JsonObject;
  expect(Array.isArray(b.flows) && b.flows.every((f) => Array.isArray((f as JsonObject).stages))).toBe(true);
  expect(typeof b.session).toBe("string");
  expect(typeof b.params).toBe("object");
  if (b.errcode !== undefined) validateErrorBody(b);
  return b;
}

/** The unstable MSC3814 endpoints are not in the spec: errors must still be standard error bodies. */
async function unstable(method: string, path: string, body: unknown, token: string): Promise<{ status: number; body: JsonObject }> {
  const res = await fetch(base + path, { method, headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = (await res.json()) as JsonObject;
  if (res.status >= 400) validateErrorBody(json);
  return { status: res.status, body: json };
}

let n = 0;
async function register(tag: string): Promise<Session> {
  const username = `${tag}${Date.now().toString(36)}${++n}`;
  const first = await api("POST", `${V3}/register`, { username, password: PASSWORD });
  const done = await api("POST", `${V3}/register`, { username, password: PASSWORD, auth: { type: "m.login.dummy", session: first.body.session } });
  expect(done.status).toBe(200);
  return { userId: done.body.user_id as string, deviceId: done.body.device_id as string, token: done.body.access_token as string };
}

async function login(userId: string): Promise<Session> {
  const r = await api("POST", `${V3}/login`, { type: "m.login.password", identifier: { type: "m.id.user", user: userId }, password: PASSWORD });
  expect(r.status).toBe(200);
  return { userId, deviceId: r.body.device_id as string, token: r.body.access_token as string };
}

describe("[e2e: keys] key upload, query, claim", () => {
  it("[cs: keys/upload] upload, query and claim round trip", async () => {
    const alice = await register("ka");
    const bob = await register("kb");
    const dev = await FakeDevice.create(bob.userId, bob.deviceId);
    const otks = await dev.oneTimeKeys(3);
    const fallback = await dev.fallbackKey();
    const up = await api("POST", `${V3}/keys/upload`, { device_keys: await dev.deviceKeys(), one_time_keys: otks, fallback_keys: fallback }, bob.token);
    expect(up).toEqual({ status: 200, body: { one_time_key_counts: { signed_curve25519: 3 } } });

    const q = await api("POST", `${V3}/keys/query`, { device_keys: { [bob.userId]: [] }, timeout: 10_000 }, alice.token);
    expect(q.status).toBe(200);
    expect(((q.body.device_keys as JsonObject)[bob.userId] as JsonObject)[bob.deviceId]).toMatchObject(await dev.deviceKeys());

    const claimed: string[] = [];
    for (let i = 0; i < 4; i++) {
      const c = await api("POST", `${V3}/keys/claim`, { one_time_keys: { [bob.userId]: { [bob.deviceId]: "signed_curve25519" } } }, alice.token);
      expect(c.status).toBe(200);
      claimed.push(...Object.keys(((c.body.one_time_keys as JsonObject)[bob.userId] as JsonObject)[bob.deviceId] as JsonObject));
    }
    expect(claimed.slice(0, 3).sort()).toEqual(Object.keys(otks).sort());
    expect(claimed[3]).toBe(Object.keys(fallback)[0]);
  });

  it("[cs: keys/upload] bad input: foreign signature, mismatched IDs, malformed keys, oversized", async () => {
    const s = await register("kbad");
    const dev = await FakeDevice.create(s.userId, s.deviceId);
    const impostor = await FakeDevice.create(s.userId, s.deviceId);
    const forged = await impostor.sign({ ...(await dev.deviceKeys()), signatures: {} });
    expect((await api("POST", `${V3}/keys/upload`, { device_keys: forged }, s.token)).body.errcode).toBe("M_INVALID_SIGNATURE");
    const other = await FakeDevice.create(s.userId, "SOMEONEELSE");
    expect((await api("POST", `${V3}/keys/upload`, { device_keys: await other.deviceKeys() }, s.token)).body.errcode).toBe("M_INVALID_PARAM");
    expect((await api("POST", `${V3}/keys/upload`, { one_time_keys: { "curve25519:x": "short" } }, s.token)).body.errcode).toBe("M_INVALID_PARAM");
    const big = await api("POST", `${V3}/keys/upload`, { one_time_keys: { "org.example:x": { key: "x".repeat(2 * 1024 * 1024), signatures: {} } } }, s.token);
    expect(big.status).toBe(413);
    const counts = await api("POST", `${V3}/keys/upload`, {}, s.token);
    expect(counts.body).toEqual({ one_time_key_counts: { signed_curve25519: 0 } });
  });

  it("[cs: keys/changes] a new device's keys show up in /keys/changes", async () => {
    const alice = await register("kc");
    const phone = await login(alice.userId);
    const before = await api("GET", `${V3}/keys/changes?from=0&to=0`, undefined, alice.token);
    expect(before.status).toBe(200);
    const dev = await FakeDevice.create(phone.userId, phone.deviceId);
    await api("POST", `${V3}/keys/upload`, { device_keys: await dev.deviceKeys() }, phone.token);
    const after = await api("GET", `${V3}/keys/changes?from=0&to=0`, undefined, alice.token);
    expect(after.body.changed).toEqual([alice.userId]);
  });
});

describe("[e2e: keys] cross-signing", () => {
  it("[cs: cross-signing] bootstrap without UIA, replacement behind UIA, signatures with per-key failures", async () => {
    const alice = await register("xa");
    const bob = await register("xb");
    const dev = await FakeDevice.create(alice.userId, alice.deviceId);
    await api("POST", `${V3}/keys/upload`, { device_keys: await dev.deviceKeys() }, alice.token);
    const acs = await FakeCrossSigning.create(alice.userId);
    expect(await api("POST", `${V3}/keys/device_signing/upload`, await acs.uploadBody(), alice.token)).toEqual({ status: 200, body: {} });
    const bcs = await FakeCrossSigning.create(bob.userId);
    await api("POST", `${V3}/keys/device_signing/upload`, await bcs.uploadBody(), bob.token);

    const replace = await FakeCrossSigning.create(alice.userId);
    const challenge = await api("POST", `${V3}/keys/device_signing/upload`, await replace.uploadBody(), alice.token);
    expect(challenge.status).toBe(401);
    expect(challenge.body.flows).toEqual([{ stages: ["m.login.password"] }]);

    const sigs = await api(
      "POST",
      `${V3}/keys/signatures/upload`,
      {
        [alice.userId]: { [alice.deviceId]: await acs.signDevice(await dev.deviceKeys()), [acs.master.publicKeyBase64]: await replace.signDevice(acs.keyObject("master")) },
        [bob.userId]: { [bcs.master.publicKeyBase64]: await acs.signUser(bcs.keyObject("master")) },
      },
      alice.token,
    );
    expect(sigs.status).toBe(200);
    expect(Object.keys((sigs.body.failures as JsonObject)[alice.userId] as JsonObject)).toEqual([acs.master.publicKeyBase64]);
    expect(sigs.body.failures).not.toHaveProperty(bob.userId);

    const q = await api("POST", `${V3}/keys/query`, { device_keys: { [alice.userId]: [], [bob.userId]: [] } }, alice.token);
    expect(Object.keys(q.body.master_keys as JsonObject).sort()).toEqual([alice.userId, bob.userId].sort());
    expect(Object.keys(q.body.user_signing_keys as JsonObject)).toEqual([alice.userId]);
  });
});

describe("[e2e: keys] to-device and key backup", () => {
  it("[cs: send-to-device] sendToDevice is idempotent per txnId and validated", async () => {
    const alice = await register("ta");
    const bob = await register("tb");
    const body = { messages: { [bob.userId]: { "*": { hello: true } } } };
    expect(await api("PUT", `${V3}/sendToDevice/m.test/txn1`, body, alice.token)).toEqual({ status: 200, body: {} });
    expect(await api("PUT", `${V3}/sendToDevice/m.test/txn1`, body, alice.token)).toEqual({ status: 200, body: {} });
    expect((await api("PUT", `${V3}/sendToDevice/m.test/txn2`, { messages: { nobody: {} } }, alice.token)).status).toBe(400);
  });

  it("[cs: server-side-key-backups] versions and keys with etag, count and the replacement rules", async () => {
    const s = await register("bk");
    const created = await api("POST", `${V3}/room_keys/version`, { algorithm: "m.megolm_backup.v1.curve25519-aes-sha2", auth_data: { public_key: "abc" } }, s.token);
    const version = created.body.version as string;
    const data = (v: boolean, i: number) => ({ first_message_index: i, forwarded_count: 0, is_verified: v, session_data: { ciphertext: `${v}${i}` } });
    const put = await api("PUT", `${V3}/room_keys/keys/!room:x/sess?version=${version}`, data(false, 5), s.token);
    expect(put.body).toEqual({ etag: "1", count: 1 });
    await api("PUT", `${V3}/room_keys/keys/!room:x?version=${version}`, { sessions: { sess: data(false, 9) } }, s.token);
    expect((await api("GET", `${V3}/room_keys/keys/!room:x/sess?version=${version}`, undefined, s.token)).body).toEqual(data(false, 5));
    await api("PUT", `${V3}/room_keys/keys?version=${version}`, { rooms: { "!room:x": { sessions: { sess: data(true, 9) } } } }, s.token);
    expect((await api("GET", `${V3}/room_keys/keys?version=${version}`, undefined, s.token)).body).toEqual({ rooms: { "!room:x": { sessions: { sess: data(true, 9) } } } });
    const info = await api("GET", `${V3}/room_keys/version`, undefined, s.token);
    expect(info.body).toMatchObject({ version, count: 1, etag: "2" });
    await api("POST", `${V3}/room_keys/version`, { algorithm: "m.megolm_backup.v1.curve25519-aes-sha2", auth_data: {} }, s.token);
    const wrong = await api("PUT", `${V3}/room_keys/keys/!room:x/sess?version=${version}`, data(true, 0), s.token);
    expect(wrong.status).toBe(403);
    expect(wrong.body.errcode).toBe("M_WRONG_ROOM_KEYS_VERSION");
    expect(await api("DELETE", `${V3}/room_keys/version/${version}`, undefined, s.token)).toEqual({ status: 200, body: {} });
  });

  it("[msc3814] dehydrated device: upload, fetch, events, delete", async () => {
    const alice = await register("dh");
    const bob = await register("dhb");
    const d = await FakeDevice.create(alice.userId, "DEHYDRATEDDEVICE");
    expect((await unstable("GET", DEHYDRATED, undefined, alice.token)).status).toBe(404);
    const put = await unstable("PUT", DEHYDRATED, { device_id: d.deviceId, device_data: { algorithm: "x" }, device_keys: await d.deviceKeys(), one_time_keys: await d.oneTimeKeys(2) }, alice.token);
    expect(put).toEqual({ status: 200, body: { device_id: d.deviceId } });
    await api("PUT", `${V3}/sendToDevice/m.test/dh1`, { messages: { [alice.userId]: { [d.deviceId]: { x: 1 } } } }, bob.token);
    const ev = await unstable("POST", `${DEHYDRATED}/${d.deviceId}/events`, {}, alice.token);
    expect(ev.body.events).toEqual([{ sender: bob.userId, type: "m.test", content: { x: 1 } }]);
    const end = await unstable("POST", `${DEHYDRATED}/${d.deviceId}/events`, { next_batch: ev.body.next_batch }, alice.token);
    expect(end.body.events).toEqual([]);
    expect((await unstable("DELETE", DEHYDRATED, undefined, alice.token)).body).toEqual({ device_id: d.deviceId });
  });
});

// ---- Part 2: matrix-js-sdk with Rust crypto ------------------------------------------------

/** Every response the SDK receives, checked against the spec; unstable (MSC) endpoints only for error shape. */
let problems: string[] = [];
const validatingFetch: typeof fetch = async (input, init) => {
  const res = await fetch(input, init);
  const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
  const method = (init?.method ?? (input instanceof Request ? input.method : "GET")).toUpperCase();
  try {
    const text = await res.clone().text();
    const body: unknown = text ? JSON.parse(text) : null;
    if (url.pathname.includes("/unstable/")) {
      if (res.status >= 400) validateErrorBody(body);
    } else if (res.status === 401 && url.pathname.endsWith("/keys/device_signing/upload")) {
      uiaChallenge(body);
    } else {
      validateResponse(method, findTemplate(method, url.pathname), res.status, body);
    }
  } catch (e) {
    problems.push(`${method} ${url.pathname}: ${(e as Error).message}`);
  }
  return res;
};

const quiet: Logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, getChild: () => quiet };
// The SDK's global logger reports expected states (undecryptable history before a restore) loudly.
(sdkLogger as unknown as { setLevel(level: string): void }).setLevel("silent");

/** The secret-storage key the user "types in" on each of their devices. */
let recoveryKey: GeneratedSecretStorageKey | undefined;
const cryptoCallbacks = {
  getSecretStorageKey: async ({ keys }: { keys: Record<string, unknown> }): Promise<[string, Uint8Array]> => [Object.keys(keys)[0]!, recoveryKey!.privateKey],
};

const running: MatrixClient[] = [];
afterAll(() => {
  for (const c of running.splice(0)) c.stopClient();
});

function sdkClient(userId: string, deviceId: string, accessToken: string): MatrixClient {
  return createClient({ baseUrl: base, fetchFn: validatingFetch, logger: quiet, userId, deviceId, accessToken, cryptoCallbacks });
}

/** Rust crypto in memory (useIndexedDB: false works under Node 20), then the sync loop. */
async function startWithCrypto(s: Session): Promise<MatrixClient> {
  const c = sdkClient(s.userId, s.deviceId, s.token);
  await c.initRustCrypto({ useIndexedDB: false });
  new Tracing(LoggerLevel.Error).turnOn(); // the SDK turns Rust tracing on at Debug
  const ready = new Promise<void>((resolve, reject) => {
    const onSync = (state: SyncState) => {
      if (state === SyncState.Prepared || state === SyncState.Syncing) {
        c.off(ClientEvent.Sync, onSync);
        resolve();
      } else if (state === SyncState.Error) reject(new Error("sync error"));
    };
    c.on(ClientEvent.Sync, onSync);
  });
  await c.startClient({ initialSyncLimit: 20 });
  await ready;
  running.push(c);
  return c;
}

async function until<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, what: string, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The decrypted body of a message, once the client has decrypted it. */
function clearBody(c: MatrixClient, roomId: string, eventId: string): string | undefined {
  const ev = c.getRoom(roomId)?.findEventById(eventId);
  if (!ev || !ev.isEncrypted() || ev.isDecryptionFailure() || ev.getType() !== "m.room.message") return undefined;
  return ev.getContent().body as string;
}

describe("[e2e: e2ee] matrix-js-sdk with Rust crypto", () => {
  const state: { alice?: Session; bob?: Session; aliceClient?: MatrixClient; bobClient?: MatrixClient; roomId?: string; sent: string[] } = { sent: [] };

  it("[e2ee: cross-signing, megolm] cross-signing and secret storage bootstrap; two users in an encrypted room decrypt each other's messages", async () => {
    problems = [];
    const alice = (state.alice = await register("ea"));
    const bob = (state.bob = await register("eb"));
    const a = (state.aliceClient = await startWithCrypto(alice));
    const b = (state.bobClient = await startWithCrypto(bob));
    const crypto = a.getCrypto()!;
    await crypto.bootstrapCrossSigning({
      authUploadDeviceSigningKeys: async (makeRequest) => {
        await makeRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: alice.userId }, password: PASSWORD } as never);
      },
    });
    expect(await crypto.isCrossSigningReady()).toBe(true);
    recoveryKey = await crypto.createRecoveryKeyFromPassphrase();
    await crypto.bootstrapSecretStorage({ createSecretStorageKey: async () => recoveryKey!, setupNewKeyBackup: true });
    expect(await crypto.isSecretStorageReady()).toBe(true);
    // Bob sees Alice's cross-signing identity through /keys/query.
    expect(await b.getCrypto()!.userHasCrossSigningKeys(alice.userId, true)).toBe(true);

    const { room_id: roomId } = await a.createRoom({
      preset: Preset.PrivateChat,
      invite: [bob.userId],
      initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }],
    });
    state.roomId = roomId;
    await until(() => b.getRoom(roomId)?.getMyMembership() === "invite", "bob's invite");
    await b.joinRoom(roomId);
    await until(() => a.getRoom(roomId)?.getMember(bob.userId)?.membership === "join", "alice sees bob join");

    const m1 = await a.sendMessage(roomId, { msgtype: MsgType.Text, body: "hello bob, this is secret" });
    expect(await until(() => clearBody(b, roomId, m1.event_id), "bob decrypting")).toBe("hello bob, this is secret");
    const m2 = await b.sendMessage(roomId, { msgtype: MsgType.Text, body: "hello alice, secret too" });
    expect(await until(() => clearBody(a, roomId, m2.event_id), "alice decrypting")).toBe("hello alice, secret too");
    state.sent.push(m1.event_id, m2.event_id);
    // Bob, who now tracks Alice, has her device as signed by her self-signing key.
    expect((await b.getCrypto()!.getDeviceVerificationStatus(alice.userId, alice.deviceId))?.signedByOwner).toBe(true);
    // What went over the wire was ciphertext.
    const raw = await api("GET", `${V3}/rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(m1.event_id)}`, undefined, bob.token);
    expect(raw.body.type).toBe("m.room.encrypted");
    expect(JSON.stringify(raw.body)).not.toContain("hello bob");
    expect(problems).toEqual([]);
  }, 120_000);

  it("[e2ee: key-backup] keys are backed up and restored on a new device, which then decrypts the history", async () => {
    problems = [];
    const { alice, roomId } = state;
    const info = await until(async () => {
      const r = await api("GET", `${V3}/room_keys/version`, undefined, alice!.token);
      return r.status === 200 && (r.body.count as number) >= 2 ? r.body : undefined;
    }, "both sessions in the backup");
    expect(info.algorithm).toBe("m.megolm_backup.v1.curve25519-aes-sha2");
    const phone = await startWithCrypto(await login(alice!.userId));
    const crypto = phone.getCrypto()!;
    await crypto.loadSessionBackupPrivateKeyFromSecretStorage();
    const restored = await crypto.restoreKeyBackup();
    expect(restored.imported).toBeGreaterThanOrEqual(2);
    expect(await until(() => clearBody(phone, roomId!, state.sent[0]!), "old message 1 on the new device")).toBe("hello bob, this is secret");
    expect(await until(() => clearBody(phone, roomId!, state.sent[1]!), "old message 2 on the new device")).toBe("hello alice, secret too");
    phone.stopClient();
    expect(problems).toEqual([]);
  }, 120_000);

  it("[msc3814] a dehydrated device receives room keys while the user has no device, and a new device rehydrates it", async () => {
    problems = [];
    const { alice, aliceClient, bobClient, roomId } = state;
    const crypto = aliceClient!.getCrypto()!;
    expect(await crypto.isDehydrationSupported()).toBe(true);
    await crypto.startDehydration({ createNewKey: true });
    const dehydrated = await unstable("GET", DEHYDRATED, undefined, alice!.token);
    expect(dehydrated.status).toBe(200);
    const dehydratedId = dehydrated.body.device_id as string;
    // Bob learns about the new device (device_lists.changed through /sync).
    await until(async () => (await bobClient!.getCrypto()!.getUserDeviceInfo([alice!.userId], true)).get(alice!.userId)?.has(dehydratedId), "bob sees the dehydrated device");

    // Every real device of Alice logs out; Bob starts a new Megolm session and writes.
    for (const c of running.filter((c) => c.getUserId() === alice!.userId)) c.stopClient();
    const devices = (await api("GET", `${V3}/devices`, undefined, alice!.token)).body.devices as JsonObject[];
    const real = devices.map((d) => d.device_id as string).filter((id) => id !== dehydratedId && id !== alice!.deviceId);
    for (const id of real) {
      const c = await api("POST", `${V3}/delete_devices`, { devices: [id] }, alice!.token);
      await api("POST", `${V3}/delete_devices`, { devices: [id], auth: { type: "m.login.password", identifier: { type: "m.id.user", user: alice!.userId }, password: PASSWORD, session: c.body.session } }, alice!.token);
    }
    await api("POST", `${V3}/logout`, {}, alice!.token);
    await bobClient!.getCrypto()!.forceDiscardSession(roomId!);
    const m3 = await bobClient!.sendMessage(roomId!, { msgtype: MsgType.Text, body: "while you were away" });

    // A new device: cross-signing keys from secret storage, then rehydration.
    const laptop = await startWithCrypto(await login(alice!.userId));
    const c3 = laptop.getCrypto()!;
    expect(await c3.userHasCrossSigningKeys(alice!.userId, true)).toBe(true);
    await c3.bootstrapCrossSigning({});
    let progress: [number, number] = [0, 0];
    laptop.on("dehydration.RehydrationProgress" as never, ((keys: number, events: number) => (progress = [keys, events])) as never);
    await c3.startDehydration();
    expect(progress[0]).toBeGreaterThanOrEqual(1); // room keys received by the dehydrated device
    expect(await until(() => clearBody(laptop, roomId!, m3.event_id), "the new device decrypting")).toBe("while you were away");
    // startDehydration replaced the dehydrated device with a fresh one.
    expect((await unstable("GET", DEHYDRATED, undefined, (laptop.getAccessToken() as string))).body.device_id).not.toBe(dehydratedId);
    expect(problems).toEqual([]);
  }, 180_000);
});
