// Device masquerading by appservices (MSC4326, from MSC3202): `device_id` /
// `org.matrix.msc3202.device_id` next to `user_id` on as_token requests.
// https://github.com/matrix-org/matrix-spec-proposals/pull/4326
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { appserviceActor, deviceKeysActor } from "../../party/stubs.ts";
import { fakeAppservice, waitFor } from "./appservice-fake.ts";
import { FakeDevice } from "../lib/e2ee/client.ts";
import { call, createRoom, enc, expectError, newUser, SERVER_NAME, V3, type Reply } from "./room-helpers.ts";

const AS_TOKEN = "as-token-bridge";

async function asCall(method: string, path: string, body: unknown, query: Record<string, string>, token = AS_TOKEN): Promise<Reply> {
  return call(method, `${path}?${new URLSearchParams(query)}`, body, token);
}

let n = 0;
/** A ghost logged in once through m.login.application_service: it has one device. */
async function ghostWithDevice(): Promise<{ userId: string; deviceId: string }> {
  const r = await asCall("POST", `${V3}/register`, { type: "m.login.application_service", username: `_gh_dev${++n}x${Math.floor(Math.random() * 1e6)}` }, {});
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return { userId: r.body.user_id as string, deviceId: r.body.device_id as string };
}

describe("[as: device masquerading] device_id with user_id (MSC4326)", () => {
  it("[as: device masquerading] an existing device of the asserted user is the request's device (whoami, keys/upload), under both parameter names", async () => {
    const g = await ghostWithDevice();
    const who = await asCall("GET", `${V3}/account/whoami`, undefined, { user_id: g.userId, device_id: g.deviceId });
    expect(who.status).toBe(200);
    expect(who.body).toEqual({ user_id: g.userId, device_id: g.deviceId, is_guest: false });
    const unstable = await asCall("GET", `${V3}/account/whoami`, undefined, { user_id: g.userId, "org.matrix.msc3202.device_id": g.deviceId });
    expect(unstable.body).toEqual({ user_id: g.userId, device_id: g.deviceId, is_guest: false });
    // Keys uploaded as the masqueraded device are that device's keys.
    const dev = await FakeDevice.create(g.userId, g.deviceId);
    const up = await asCall("POST", `${V3}/keys/upload`, { device_keys: await dev.deviceKeys(), one_time_keys: await dev.oneTimeKeys(3) }, { user_id: g.userId, device_id: g.deviceId });
    expect(up.status, JSON.stringify(up.body)).toBe(200);
    expect(up.body).toEqual({ one_time_key_counts: { signed_curve25519: 3 } });
    expect(await deviceKeysActor(env, g.userId).oneTimeKeyCounts(g.deviceId)).toEqual({ signed_curve25519: 3 });
  });

  it("[as: device masquerading] a device the user does not have is 400 M_UNKNOWN_DEVICE (the unstable parameter: ORG.MATRIX.MSC4326.M_UNKNOWN_DEVICE)", async () => {
    const g = await ghostWithDevice();
    const other = await ghostWithDevice();
    expectError(await asCall("GET", `${V3}/account/whoami`, undefined, { user_id: g.userId, device_id: other.deviceId }), 400, "M_UNKNOWN_DEVICE");
    expectError(await asCall("GET", `${V3}/account/whoami`, undefined, { user_id: g.userId, "org.matrix.msc3202.device_id": "NOSUCHDEV" }), 400, "ORG.MATRIX.MSC4326.M_UNKNOWN_DEVICE");
    // Without user_id the device is looked up on the appservice's sender, which has none.
    expectError(await asCall("GET", `${V3}/account/whoami`, undefined, { device_id: g.deviceId }), 400, "M_UNKNOWN_DEVICE");
    // Outside the namespace the user_id check comes first.
    const alice = await newUser();
    expectError(await asCall("GET", `${V3}/account/whoami`, undefined, { user_id: alice.userId, device_id: "X" }), 403, "M_FORBIDDEN");
  });

  it("[as: device masquerading] device_id on an ordinary user's request is ignored, as user_id is", async () => {
    const alice = await newUser();
    const who = await call("GET", `${V3}/account/whoami?device_id=SOMETHINGELSE&user_id=${encodeURIComponent(`@_gh_x:${SERVER_NAME}`)}`, undefined, alice.token);
    expect(who.status).toBe(200);
    expect(who.body.user_id).toBe(alice.userId);
    expect(who.body.device_id).toBe(alice.deviceId);
  });
});

describe("[as: MSC3202] key counts in transactions", () => {
  it("[as: MSC3202] an MSC3202 appservice gets its users' one-time-key counts and unused fallback key types after upload and after a claim", async () => {
    const crypto = fakeAppservice("crypto.as.test");
    crypto.behaviour = "ok";
    const reg = await call("POST", `${V3}/register`, { type: "m.login.application_service", username: `_cr_keys${++n}x${Math.floor(Math.random() * 1e6)}` }, "as-token-crypto");
    expect(reg.status, JSON.stringify(reg.body)).toBe(200);
    const g = { userId: reg.body.user_id as string, deviceId: reg.body.device_id as string };
    const dev = await FakeDevice.create(g.userId, g.deviceId);
    const up = await call(
      "POST",
      `${V3}/keys/upload?${new URLSearchParams({ user_id: g.userId, device_id: g.deviceId })}`,
      { device_keys: await dev.deviceKeys(), one_time_keys: await dev.oneTimeKeys(3), fallback_keys: await dev.fallbackKey() },
      "as-token-crypto",
    );
    expect(up.status, JSON.stringify(up.body)).toBe(200);
    const countsSeen = () =>
      crypto.transactions
        .map((t) => (t.body["org.matrix.msc3202.device_one_time_keys_count"] as Record<string, Record<string, JsonObject>> | undefined)?.[g.userId]?.[g.deviceId])
        .filter((c) => c !== undefined);
    await waitFor(() => countsSeen().length > 0, "the key counts to reach the appservice");
    expect(countsSeen().at(-1)).toEqual({ signed_curve25519: 3 });
    const withCounts = crypto.transactions.find((t) => t.body["org.matrix.msc3202.device_one_time_keys_count"] !== undefined)!;
    expect(withCounts.body["org.matrix.msc3202.device_unused_fallback_key_types"]).toEqual({ [g.userId]: { [g.deviceId]: ["signed_curve25519"] } });

    const alice = await newUser();
    const claim = await alice.call("POST", `${V3}/keys/claim`, { one_time_keys: { [g.userId]: { [g.deviceId]: "signed_curve25519" } } });
    expect(claim.status).toBe(200);
    await waitFor(() => JSON.stringify(countsSeen().at(-1)) === JSON.stringify({ signed_curve25519: 2 }), "the count after the claim");
  });

  it("[as: MSC3202] a member of a room shared with the appservice's user changes devices: device_lists.changed names them", async () => {
    const crypto = fakeAppservice("crypto.as.test");
    crypto.behaviour = "ok";
    const alice = await newUser();
    const roomId = await createRoom(alice, { preset: "public_chat" });
    const reg = await call("POST", `${V3}/register`, { type: "m.login.application_service", username: `_cr_dl${++n}x${Math.floor(Math.random() * 1e6)}`, inhibit_login: true }, "as-token-crypto");
    const ghost = reg.body.user_id as string;
    const join = await call("POST", `${V3}/rooms/${enc(roomId)}/join?user_id=${enc(ghost)}`, {}, "as-token-crypto");
    expect(join.status, JSON.stringify(join.body)).toBe(200);
    // Alice's device gets keys: a device-list change, which her rooms record.
    const dev = await FakeDevice.create(alice.userId, alice.deviceId);
    expect((await alice.call("POST", `${V3}/keys/upload`, { device_keys: await dev.deviceKeys() })).status).toBe(200);
    await deviceKeysActor(env, alice.userId).flushOutbox();
    const changed = () => crypto.transactions.flatMap((t) => ((t.body["org.matrix.msc3202.device_lists"] as { changed: string[] } | undefined)?.changed ?? []));
    await waitFor(() => changed().includes(alice.userId), "device_lists.changed to name alice");
    const withLists = crypto.transactions.find((t) => t.body["org.matrix.msc3202.device_lists"] !== undefined)!;
    expect(withLists.body["org.matrix.msc3202.device_lists"]).toMatchObject({ left: [] });
  });

  it("[as: MSC3202] appservices without org.matrix.msc3202 get no key counts", async () => {
    const bridge = fakeAppservice("bridge.as.test");
    bridge.behaviour = "ok";
    const g = await ghostWithDevice();
    const dev = await FakeDevice.create(g.userId, g.deviceId);
    const up = await asCall("POST", `${V3}/keys/upload`, { device_keys: await dev.deviceKeys(), one_time_keys: await dev.oneTimeKeys(2) }, { user_id: g.userId, device_id: g.deviceId });
    expect(up.status).toBe(200);
    await appserviceActor(env, "bridge").flush();
    expect(bridge.transactions.some((t) => t.body["org.matrix.msc3202.device_one_time_keys_count"] !== undefined)).toBe(false);
  });
});
