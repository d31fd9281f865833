// Push end to end: the real server (npm start) driven by matrix-js-sdk 37.5.0 —
// notification counts in /sync (room.getUnreadNotificationCount), cleared by a read
// receipt; /notifications; a pusher delivering to a local push gateway (node:http on
// loopback, PUSH_ALLOW_INSECURE_GATEWAYS) and removed when the gateway rejects it.
// Every response the SDK receives is validated against the spec's OpenAPI.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, inject, it } from "vitest";
import { type MatrixClient, Method, NotificationCountType, Preset } from "matrix-js-sdk";
import { sdkHarness, start } from "./sdk.ts";
import { startServer, type RunningServer } from "./setup.ts";

const { register: registerOn } = sdkHarness({ stopClients: true });
/** Registers on the suite's server or on a server this file started itself. */
const register = (baseUrl: string, tag: string) => registerOn(tag, undefined, { baseUrl });

async function until<T>(probe: () => T | undefined | Promise<T | undefined>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 50));
  }
}

type Counts = { notification_count: number; highlight_count: number };
async function serverCounts(c: MatrixClient, roomId: string): Promise<Counts | undefined> {
  const s = await c.http.authedRequest<{ rooms?: { join?: Record<string, { unread_notifications?: Counts }> } }>(Method.Get, "/sync");
  return s.rooms?.join?.[roomId]?.unread_notifications;
}

describe("[e2e: push] matrix-js-sdk against Parley", () => {
  const baseUrl = inject("baseUrl");

  it("[push: counts] a mention is a highlight for the mentioned user only; a receipt clears it (getUnreadNotificationCount)", async () => {
    const alice = await register(baseUrl, "pa");
    const bob = await register(baseUrl, "pb");
    const carol = await register(baseUrl, "pc");
    const { room_id: roomId } = await alice.client.createRoom({ preset: Preset.PublicChat });
    await bob.client.joinRoom(roomId);
    await carol.client.joinRoom(roomId);
    await start(bob.client);

    const { event_id } = await alice.client.sendMessage(roomId, { msgtype: "m.text", body: `hi ${bob.userId}`, "m.mentions": { user_ids: [bob.userId] } } as never);
    const room = await until(() => bob.client.getRoom(roomId) ?? undefined);
    await until(() => (room.getUnreadNotificationCount(NotificationCountType.Highlight) === 1 ? true : undefined));
    expect(room.getUnreadNotificationCount(NotificationCountType.Total)).toBe(1);
    expect(await serverCounts(carol.client, roomId)).toEqual({ notification_count: 1, highlight_count: 0 });
    expect(await serverCounts(alice.client, roomId)).toEqual({ notification_count: 0, highlight_count: 0 });

    const ev = await until(() => room.findEventById(event_id) ?? undefined);
    await bob.client.sendReadReceipt(ev);
    expect(await serverCounts(bob.client, roomId)).toEqual({ notification_count: 0, highlight_count: 0 });
    await until(() => (room.getUnreadNotificationCount(NotificationCountType.Total) === 0 ? true : undefined));

    const list = await carol.client.http.authedRequest<{ notifications: Array<{ event: { event_id: string }; read: boolean }> }>(Method.Get, "/notifications");
    expect(list.notifications.map((x) => x.event.event_id)).toContain(event_id);
  });

  describe("pusher delivery to a local push gateway", () => {
    let server: RunningServer;
    let gateway: Server;
    const seen: Array<{ notification: Record<string, any> }> = [];
    let reject: string[] = [];

    afterAll(async () => {
      await server?.stop();
      await new Promise((r) => gateway?.close(r));
    });

    it("[push: gateway] a pusher receives the notification; a rejected pushkey removes it", { timeout: 180_000 }, async () => {
      gateway = createServer((req, res) => {
        let body = "";
        req.on("data", (c) => (body += c));
        req.on("end", () => {
          if (req.url === "/_matrix/push/v1/notify") seen.push(JSON.parse(body));
          res.setHeader("content-type", "application/json");
          res.end(JSON.stringify({ rejected: reject }));
        });
      });
      await new Promise<void>((r) => gateway.listen(0, "127.0.0.1", r));
      const url = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}/_matrix/push/v1/notify`;
      server = await startServer({ env: { PUSH_ALLOW_INSECURE_GATEWAYS: "true" } });

      const alice = await register(server.baseUrl, "ga");
      const bob = await register(server.baseUrl, "gb");
      const { room_id: roomId } = await alice.client.createRoom({ preset: Preset.PublicChat, name: "Gateway room" });
      await bob.client.joinRoom(roomId);
      await bob.client.setPusher({
        kind: "http",
        app_id: "org.parley.e2e",
        pushkey: "bob-key",
        app_display_name: "E2E",
        device_display_name: "Laptop",
        lang: "en",
        data: { url },
      } as never);
      const { event_id } = await alice.client.sendTextMessage(roomId, "push me");
      const got = await until(() => seen.find((s) => s.notification.event_id === event_id));
      expect(got.notification).toMatchObject({
        event_id,
        room_id: roomId,
        type: "m.room.message",
        sender: alice.userId,
        room_name: "Gateway room",
        counts: { unread: 1 },
        devices: [{ app_id: "org.parley.e2e", pushkey: "bob-key" }],
      });

      reject = ["bob-key"];
      await alice.client.sendTextMessage(roomId, "to a dead key");
      await until(async () => ((await bob.client.getPushers()).pushers.length === 0 ? true : undefined));
    });
  });
});
