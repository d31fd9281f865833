/**
 * Appservices written with the real bridge SDKs against the real server (`npm start` with
 * PARLEY_APPSERVICES): matrix-bot-sdk 0.7.1's `Appservice` and matrix-appservice-bridge
 * 10.3.3's `Bridge`, each with its own HTTP listener on 127.0.0.1 and its own registration
 * file. A ghost registers, joins, posts (masquerading, and `ts` massaging through the
 * SDK's request method); the SDK receives the room's events, typing and receipts in
 * transactions; ping works as each SDK does it.
 *
 * Both SDKs require @matrix-org/matrix-sdk-crypto-nodejs, whose native binary cannot be
 * downloaded here: no-native-crypto.ts resolves it to a stand-in that throws on any use
 * (nothing here uses encryption), see docs/appservices.md.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { withoutNativeCrypto } from "./no-native-crypto.ts";
import { startServer, type RunningServer } from "./setup.ts";

withoutNativeCrypto();
const botSdk = await import("matrix-bot-sdk");
const bridgeSdk = await import("matrix-appservice-bridge");

type Json = Record<string, unknown>;
const V3 = "/_matrix/client/v3";

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.on("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let server: RunningServer;
let dir: string;
let base = "";
let aliceToken = "";
let aliceId = "";

async function api(method: string, path: string, body?: unknown, token = aliceToken): Promise<Json> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as Json;
  expect(res.status, `${method} ${path}: ${JSON.stringify(json)}`).toBe(200);
  return json;
}

// ---- matrix-bot-sdk 0.7.1 -----------------------------------------------------------------

const BS = { id: "botsdk", as: "e2e-botsdk-as-token-0123", hs: "e2e-botsdk-hs-token-4567", sender: "_bs_bot", port: 0 };
let appservice: InstanceType<typeof botSdk.Appservice>;
const bsEvents: Json[] = [];
const bsEphemeral: Json[] = [];

function botSdkRegistration(): Json {
  return {
    id: BS.id,
    url: `http://127.0.0.1:${BS.port}`,
    as_token: BS.as,
    hs_token: BS.hs,
    sender_localpart: BS.sender,
    rate_limited: false,
    "de.sorunome.msc2409.push_ephemeral": true,
    namespaces: { users: [{ regex: "@_bs_.*", exclusive: true }], aliases: [], rooms: [] },
  };
}

// ---- matrix-appservice-bridge 10.3.3 ------------------------------------------------------

const MB = { id: "mabridge", as: "e2e-mab-as-token-0123", hs: "e2e-mab-hs-token-4567", sender: "_mb_bot", port: 0 };
let bridge: InstanceType<typeof bridgeSdk.Bridge>;
const mbEvents: Json[] = [];
const mbEphemeral: Json[] = [];

beforeAll(async () => {
  BS.port = await freePort();
  MB.port = await freePort();
  dir = mkdtempSync(join(tmpdir(), "parley-as-sdks-"));
  writeFileSync(join(dir, "botsdk.yaml"), stringify(botSdkRegistration()));
  // matrix-appservice-bridge writes its own registration file, as a bridge's --generate-registration does.
  const reg = new bridgeSdk.AppServiceRegistration(`http://127.0.0.1:${MB.port}`);
  reg.setId(MB.id);
  reg.setAppServiceToken(MB.as);
  reg.setHomeserverToken(MB.hs);
  reg.setSenderLocalpart(MB.sender);
  reg.setRateLimited(false);
  reg.addRegexPattern("users", "@_mb_.*", true);
  reg.pushEphemeral = true;
  reg.outputAsYaml(join(dir, "mabridge.yaml"));

  server = await startServer({ env: { PARLEY_APPSERVICES: dir } });
  base = server.baseUrl;

  botSdk.LogService.setLevel(botSdk.LogLevel.ERROR);
  appservice = new botSdk.Appservice({
    port: BS.port,
    bindAddress: "127.0.0.1",
    homeserverName: server.serverName,
    homeserverUrl: base,
    registration: botSdkRegistration() as unknown as ConstructorParameters<typeof botSdk.Appservice>[0]["registration"],
    storage: new botSdk.MemoryStorageProvider(),
  });
  appservice.on("room.event", (roomId: string, event: Json) => bsEvents.push({ ...event, room_id: event.room_id ?? roomId }));
  appservice.on("ephemeral.event", (event: Json) => bsEphemeral.push(event));
  await appservice.begin();

  bridgeSdk.Logger.configure({ console: "error" });
  bridge = new bridgeSdk.Bridge({
    homeserverUrl: base,
    domain: server.serverName,
    registration: bridgeSdk.AppServiceRegistration.fromObject({
      id: MB.id,
      url: `http://127.0.0.1:${MB.port}`,
      as_token: MB.as,
      hs_token: MB.hs,
      sender_localpart: MB.sender,
      rate_limited: false,
      "de.sorunome.msc2409.push_ephemeral": true,
      namespaces: { users: [{ regex: "@_mb_.*", exclusive: true }], aliases: [], rooms: [] },
    }),
    disableStores: true,
    disableContext: true,
    // Hand the Bridge its own ghosts' events too (by default it drops them as echoes).
    suppressEcho: false,
    controller: {
      onUserQuery: () => ({}),
      onEvent: (request) => void mbEvents.push(request.getData() as unknown as Json),
      onEphemeralEvent: (request) => void mbEphemeral.push(request.getData() as unknown as Json),
    },
  });
  await bridge.initialise();
  await bridge.listen(MB.port, "127.0.0.1");

  const alice = await api("POST", `${V3}/register`, { username: `alice${Date.now()}`, password: "correct horse battery", auth: { type: "m.login.dummy" } }, "");
  aliceToken = alice.access_token as string;
  aliceId = alice.user_id as string;
}, 120_000);

afterAll(async () => {
  appservice?.stop();
  await bridge?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("[as] matrix-bot-sdk 0.7.1 Appservice against Parley", () => {
  it("[as: identity assertion] a ghost registers, joins and posts through an Intent (with ts massaging); the Appservice receives the room's events", async () => {
    const roomId = (await api("POST", `${V3}/createRoom`, { preset: "public_chat" })).room_id as string;
    const ghostId = `@_bs_alice:${server.serverName}`;
    const intent = appservice.getIntentForUserId(ghostId);
    await intent.ensureRegistered();
    await intent.joinRoom(roomId);
    const first = await intent.sendText(roomId, "hello from matrix-bot-sdk");
    // ts massaging through the SDK's request method (the intent's client adds user_id itself).
    const massaged = (await intent.underlyingClient.doRequest(
      "PUT",
      `${V3}/rooms/${encodeURIComponent(roomId)}/send/m.room.message/bs-ts-1`,
      { ts: 1_600_000_000_000 },
      { msgtype: "m.text", body: "from the past" },
    )) as Json;
    const fromAlice = await api("PUT", `${V3}/rooms/${encodeURIComponent(roomId)}/send/m.room.message/a1`, { msgtype: "m.text", body: "hi ghost" });

    await until(() => [first, massaged.event_id, fromAlice.event_id].every((id) => bsEvents.some((e) => e.event_id === id)), "the Appservice to receive the messages");
    const inRoom = bsEvents.filter((e) => e.room_id === roomId);
    expect(inRoom.find((e) => e.type === "m.room.member" && e.state_key === ghostId)).toMatchObject({ sender: ghostId, content: { membership: "join" } });
    expect(inRoom.find((e) => e.event_id === first)).toMatchObject({ sender: ghostId, content: { body: "hello from matrix-bot-sdk" } });
    expect(inRoom.find((e) => e.event_id === massaged.event_id)).toMatchObject({ sender: ghostId, origin_server_ts: 1_600_000_000_000 });
    expect(inRoom.find((e) => e.event_id === fromAlice.event_id)).toMatchObject({ sender: aliceId, content: { body: "hi ghost" } });
    // The ghost's own messages, as the homeserver stored them.
    const stored = await api("GET", `${V3}/rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(massaged.event_id as string)}`);
    expect(stored.origin_server_ts).toBe(1_600_000_000_000);

    // Typing and a read receipt from alice reach the Appservice as ephemeral events.
    await api("PUT", `${V3}/rooms/${encodeURIComponent(roomId)}/typing/${encodeURIComponent(aliceId)}`, { typing: true, timeout: 20_000 });
    await api("POST", `${V3}/rooms/${encodeURIComponent(roomId)}/receipt/m.read/${encodeURIComponent(first)}`, {});
    await until(
      () => bsEphemeral.some((e) => e.type === "m.typing" && e.room_id === roomId) && bsEphemeral.some((e) => e.type === "m.receipt" && e.room_id === roomId),
      "typing and the receipt at the Appservice",
    );
    expect(bsEphemeral.find((e) => e.type === "m.typing" && e.room_id === roomId)!.content).toEqual({ user_ids: [aliceId] });
    const receipt = bsEphemeral.find((e) => e.type === "m.receipt" && e.room_id === roomId)!;
    expect(Object.keys(((receipt.content as Record<string, Record<string, Json>>)[first]!["m.read"])!)).toEqual([aliceId]);
  });

  it("[as: ping] the homeserver's ping reaches the Appservice's listener; matrix-bot-sdk 0.7.1 has no /ping route, which Parley reports as 502 M_BAD_STATUS with its 404", async () => {
    const res = await fetch(`${base}/_matrix/client/v1/appservice/${BS.id}/ping`, {
      method: "POST",
      headers: { Authorization: `Bearer ${BS.as}`, "Content-Type": "application/json" },
      body: JSON.stringify({ transaction_id: "bs-ping" }),
    });
    const body = (await res.json()) as Json;
    expect(res.status).toBe(502);
    expect(body).toMatchObject({ errcode: "M_BAD_STATUS", status: 404 });
  });
});

describe("[as] matrix-appservice-bridge 10.3.3 Bridge against Parley", () => {
  it("[as: identity assertion] a ghost registers, joins and posts through an Intent (with ts massaging); the Bridge receives the room's events, typing and receipts; its self-ping through the room works", async () => {
    const roomId = (await api("POST", `${V3}/createRoom`, { preset: "public_chat" })).room_id as string;
    const ghostId = `@_mb_bob:${server.serverName}`;
    const intent = bridge.getIntent(ghostId);
    await intent.ensureRegistered();
    await intent.join(roomId);
    const sent = await intent.sendText(roomId, "hello from matrix-appservice-bridge");
    const massaged = (await intent.matrixClient.doRequest(
      "PUT",
      `${V3}/rooms/${encodeURIComponent(roomId)}/send/m.room.message/mb-ts-1`,
      { ts: 1_600_000_001_000 },
      { msgtype: "m.text", body: "bridged late" },
    )) as Json;
    const fromAlice = await api("PUT", `${V3}/rooms/${encodeURIComponent(roomId)}/send/m.room.message/a2`, { msgtype: "m.text", body: "hi bridge" });

    await until(() => [sent.event_id, massaged.event_id, fromAlice.event_id].every((id) => mbEvents.some((e) => e.event_id === id)), "the Bridge to receive the messages");
    expect(mbEvents.find((e) => e.event_id === sent.event_id)).toMatchObject({ room_id: roomId, sender: ghostId, content: { body: "hello from matrix-appservice-bridge" } });
    expect(mbEvents.find((e) => e.event_id === massaged.event_id)).toMatchObject({ sender: ghostId, origin_server_ts: 1_600_000_001_000 });
    expect(mbEvents.find((e) => e.event_id === fromAlice.event_id)).toMatchObject({ sender: aliceId });
    expect(mbEvents.some((e) => e.type === "m.room.member" && e.state_key === ghostId && (e.content as Json).membership === "join")).toBe(true);

    await api("PUT", `${V3}/rooms/${encodeURIComponent(roomId)}/typing/${encodeURIComponent(aliceId)}`, { typing: true, timeout: 20_000 });
    await api("POST", `${V3}/rooms/${encodeURIComponent(roomId)}/receipt/m.read/${encodeURIComponent(sent.event_id)}`, {});
    await until(
      () => mbEphemeral.some((e) => e.type === "m.typing" && e.room_id === roomId) && mbEphemeral.some((e) => e.type === "m.receipt" && e.room_id === roomId),
      "typing and the receipt at the Bridge",
    );
    expect(mbEphemeral.find((e) => e.type === "m.typing" && e.room_id === roomId)!.content).toEqual({ user_ids: [aliceId] });

    // The Bridge's ping: its bot sends a ping event into the room and waits for it in a transaction.
    await bridge.getIntent().join(roomId);
    const delay = await bridge.pingAppserviceRoute(roomId, 20_000);
    expect(delay).toBeGreaterThanOrEqual(0);
  });
});
