// Ephemeral data and to-device messages for appservices: typing and receipts in rooms an
// appservice is interested in (receive_ephemeral / MSC2409), to-device messages for its
// users' devices (MSC4203), under the stable and the unstable transaction keys.
// https://spec.matrix.org/v1.19/application-service-api/#pushing-ephemeral-data
import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { appserviceActor } from "../../party/stubs.ts";
import { fakeAppservice, waitFor, type FakeAppservice } from "./appservice-fake.ts";
import { call, createRoom, enc, newUser, roomPath, SERVER_NAME, V3, type Reply } from "./room-helpers.ts";

let bridge: FakeAppservice;
let watcher: FakeAppservice;
beforeEach(() => {
  bridge = fakeAppservice("bridge.as.test");
  bridge.behaviour = "ok";
  watcher = fakeAppservice("watcher.as.test");
  watcher.behaviour = "ok";
});

async function asCall(method: string, path: string, body?: unknown, query: Record<string, string> = {}, token = "as-token-bridge"): Promise<Reply> {
  const qs = new URLSearchParams(query).toString();
  return call(method, qs ? `${path}?${qs}` : path, body, token);
}

let n = 0;
async function ghost(tag: string, login = false): Promise<{ userId: string; deviceId?: string; token?: string }> {
  const localpart = `_gh_${tag}${++n}x${Math.floor(Math.random() * 1e6)}`;
  const r = await asCall("POST", `${V3}/register`, { type: "m.login.application_service", username: localpart, inhibit_login: !login });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return { userId: r.body.user_id as string, deviceId: r.body.device_id as string | undefined, token: r.body.access_token as string | undefined };
}

const ofRoom = (list: JsonObject[], roomId: string, type: string) => list.filter((e) => e.room_id === roomId && e.type === type);

describe("[as: ephemeral] typing and receipts", () => {
  it("[as: ephemeral] typing and public receipts in a room with a joined ghost reach an appservice with push_ephemeral, with room_id, under both keys; private receipts do not", async () => {
    const alice = await newUser();
    const roomId = await createRoom(alice, { preset: "public_chat" });
    const g = await ghost("eph");
    expect((await asCall("POST", `${V3}/rooms/${enc(roomId)}/join`, {}, { user_id: g.userId })).status).toBe(200);
    const sent = await alice.ok("PUT", roomPath(roomId, "send/m.room.message/e1"), { msgtype: "m.text", body: "hi" });
    const eventId = sent.event_id as string;

    expect((await alice.call("PUT", roomPath(roomId, `typing/${enc(alice.userId)}`), { typing: true, timeout: 30_000 })).status).toBe(200);
    await waitFor(() => ofRoom(bridge.ephemeral, roomId, "m.typing").length > 0, "typing to reach the appservice");
    expect(ofRoom(bridge.ephemeral, roomId, "m.typing")[0]).toEqual({ type: "m.typing", room_id: roomId, content: { user_ids: [alice.userId] } });

    expect((await alice.call("PUT", roomPath(roomId, `typing/${enc(alice.userId)}`), { typing: false })).status).toBe(200);
    await waitFor(() => ofRoom(bridge.ephemeral, roomId, "m.typing").length > 1, "stopped typing to reach the appservice");
    expect(ofRoom(bridge.ephemeral, roomId, "m.typing")[1]!.content).toEqual({ user_ids: [] });

    expect((await alice.call("POST", roomPath(roomId, `receipt/m.read.private/${enc(eventId)}`), {})).status).toBe(200);
    expect((await alice.call("POST", roomPath(roomId, `receipt/m.read/${enc(eventId)}`), {})).status).toBe(200);
    await waitFor(() => ofRoom(bridge.ephemeral, roomId, "m.receipt").length > 0, "the receipt to reach the appservice");
    const receipts = ofRoom(bridge.ephemeral, roomId, "m.receipt");
    expect(receipts).toHaveLength(1);
    const r = receipts[0]!;
    expect(Object.keys(r.content as JsonObject)).toEqual([eventId]);
    expect(Object.keys((r.content as Record<string, JsonObject>)[eventId]!)).toEqual(["m.read"]);
    expect(typeof ((r.content as Record<string, Record<string, Record<string, JsonObject>>>)[eventId]!["m.read"]![alice.userId]!.ts)).toBe("number");

    // Every transaction that carried ephemeral data carried it under the MSC2409 key too.
    const withEphemeral = bridge.transactions.filter((t) => Array.isArray(t.body.ephemeral));
    expect(withEphemeral.length).toBeGreaterThan(0);
    for (const t of withEphemeral) expect(t.body["de.sorunome.msc2409.ephemeral"]).toEqual(t.body.ephemeral);
  });

  it("[as: ephemeral] a room the appservice has no interest in sends it nothing; an appservice without receive_ephemeral gets no ephemeral data", async () => {
    const alice = await newUser();
    const unrelated = await createRoom(alice, { preset: "public_chat" });
    expect((await alice.call("PUT", roomPath(unrelated, `typing/${enc(alice.userId)}`), { typing: true, timeout: 30_000 })).status).toBe(200);
    // The watcher (no ephemeral flag) is interested in this room through its joined user.
    const watched = await createRoom(alice, { preset: "public_chat" });
    const w = `@_watch_e${Date.now()}:${SERVER_NAME}`;
    expect((await asCall("POST", `${V3}/register`, { type: "m.login.application_service", username: w.slice(1, w.indexOf(":")), inhibit_login: true }, {}, "as-token-watcher")).status).toBe(200);
    expect((await asCall("POST", `${V3}/rooms/${enc(watched)}/join`, {}, { user_id: w }, "as-token-watcher")).status).toBe(200);
    expect((await alice.call("PUT", roomPath(watched, `typing/${enc(alice.userId)}`), { typing: true, timeout: 30_000 })).status).toBe(200);
    const marker = await alice.ok("PUT", roomPath(watched, "send/m.room.message/w1"), { msgtype: "m.text", body: "after typing" });
    await waitFor(() => watcher.processed.some((e) => e.event_id === marker.event_id), "the watcher to get the room's message");
    // A room the bridge is interested in, typed in after the others: once its typing has arrived, earlier ones would have too.
    const later = await createRoom(alice, { preset: "public_chat" });
    const g = await ghost("eph2");
    await asCall("POST", `${V3}/rooms/${enc(later)}/join`, {}, { user_id: g.userId });
    await alice.call("PUT", roomPath(later, `typing/${enc(alice.userId)}`), { typing: true, timeout: 30_000 });
    await waitFor(() => ofRoom(bridge.ephemeral, later, "m.typing").length > 0, "typing in the bridge's room");
    expect(bridge.ephemeral.filter((e) => e.room_id === unrelated || e.room_id === watched)).toEqual([]);
    expect(watcher.transactions.some((t) => t.body.ephemeral !== undefined || t.body["de.sorunome.msc2409.ephemeral"] !== undefined)).toBe(false);
  });
});

describe("[as: to-device] to-device messages for appservice users (MSC4203)", () => {
  it("[as: to-device] a message to a ghost's device goes to the appservice with to_user_id and to_device_id under both keys, once even when the sender retries", async () => {
    const alice = await newUser();
    const g = await ghost("td", true);
    expect(g.deviceId).toBeTruthy();
    const body = { messages: { [g.userId]: { [g.deviceId!]: { secret: "s1" } } } };
    expect((await alice.call("PUT", `${V3}/sendToDevice/m.test.secret/t1`, body)).status).toBe(200);
    expect((await alice.call("PUT", `${V3}/sendToDevice/m.test.secret/t1`, body)).status).toBe(200);
    // `*` reaches every device of the ghost.
    expect((await alice.call("PUT", `${V3}/sendToDevice/m.test.secret/t2`, { messages: { [g.userId]: { "*": { secret: "s2" } } } })).status).toBe(200);
    await waitFor(() => bridge.toDevice.filter((e) => e.to_user_id === g.userId).length >= 2, "the to-device messages to reach the appservice");
    await appserviceActor(env, "bridge").flush();
    const mine = bridge.toDevice.filter((e) => e.to_user_id === g.userId);
    expect(mine).toEqual([
      { type: "m.test.secret", sender: alice.userId, content: { secret: "s1" }, to_user_id: g.userId, to_device_id: g.deviceId },
      { type: "m.test.secret", sender: alice.userId, content: { secret: "s2" }, to_user_id: g.userId, to_device_id: g.deviceId },
    ]);
    for (const t of bridge.transactions.filter((t) => Array.isArray(t.body.to_device))) {
      expect(t.body["de.sorunome.msc2409.to_device"]).toEqual(t.body.to_device);
    }
  });

  it("[as: to-device] without MSC3202 the ghost's device inbox keeps the message too; with MSC3202 and an exclusive namespace the appservice alone gets it", async () => {
    const alice = await newUser();
    const g = await ghost("tdcopy", true);
    expect((await alice.call("PUT", `${V3}/sendToDevice/m.test.copy/c1`, { messages: { [g.userId]: { [g.deviceId!]: { n: 1 } } } })).status).toBe(200);
    const sync = await call("GET", `${V3}/sync?timeout=0`, undefined, g.token);
    expect((sync.body.to_device as { events: JsonObject[] }).events).toEqual([{ type: "m.test.copy", sender: alice.userId, content: { n: 1 } }]);

    const crypto = fakeAppservice("crypto.as.test");
    const localpart = `_cr_td${Date.now()}`;
    const reg = await asCall("POST", `${V3}/register`, { type: "m.login.application_service", username: localpart }, {}, "as-token-crypto");
    expect(reg.status).toBe(200);
    const c = { userId: reg.body.user_id as string, deviceId: reg.body.device_id as string, token: reg.body.access_token as string };
    expect((await alice.call("PUT", `${V3}/sendToDevice/m.test.only/o1`, { messages: { [c.userId]: { "*": { n: 2 } } } })).status).toBe(200);
    await waitFor(() => crypto.toDevice.length > 0, "the to-device message to reach the MSC3202 appservice");
    expect(crypto.toDevice).toEqual([{ type: "m.test.only", sender: alice.userId, content: { n: 2 }, to_user_id: c.userId, to_device_id: c.deviceId }]);
    const cs = await call("GET", `${V3}/sync?timeout=0`, undefined, c.token);
    expect((cs.body.to_device as { events: JsonObject[] } | undefined)?.events ?? []).toEqual([]);
  });

  it("[as: to-device] messages to ordinary users' devices do not go to appservices, and stay in their inbox", async () => {
    const alice = await newUser();
    const bob = await newUser();
    const whoami = await bob.ok("GET", `${V3}/account/whoami`);
    expect((await alice.call("PUT", `${V3}/sendToDevice/m.test.plain/p1`, { messages: { [bob.userId]: { [whoami.device_id as string]: { x: 1 } } } })).status).toBe(200);
    const sync = await bob.ok("GET", `${V3}/sync?timeout=0`);
    expect((sync.to_device as { events: JsonObject[] }).events).toEqual([{ type: "m.test.plain", sender: alice.userId, content: { x: 1 } }]);
    await appserviceActor(env, "bridge").flush();
    expect(bridge.toDevice.some((e) => e.to_user_id === bob.userId)).toBe(false);
  });
});
