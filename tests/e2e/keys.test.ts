// End-to-end encryption against the real server (npm start). Part 1: the endpoints over raw
// HTTP, every response checked against the spec's OpenAPI. Part 2: matrix-js-sdk with its
// Rust crypto (see keys-sdk.test.ts).
import { describe, expect, inject, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { FakeCrossSigning, FakeDevice } from "../lib/e2ee/client.ts";
import { specJson, validateErrorBody } from "./openapi.ts";

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
