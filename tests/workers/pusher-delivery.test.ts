// Pusher delivery (party/room/push.ts → room outbox → User.pushNotify, party/push/deliver.ts):
// a notifying event reaches the user's HTTP push gateway with the spec body; a rejected
// pushkey removes the pusher; a failing gateway is retried by the room's outbox.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Room } from "../../party/room.ts";
import { roomActor } from "../../party/stubs.ts";
import type { JsonObject } from "../../lib/json.ts";
import { fakeAppservice, waitFor, type SeenRequest } from "./appservice-fake.ts";
import { createRoom, enc, newUser, roomPath, roomSql, sendMessage, V3, type TestUser } from "./room-helpers.ts";

const NOTIFY = "/_matrix/push/v1/notify";

function gateway(host: string, answer: (req: SeenRequest) => Response = () => Response.json({ rejected: [] })) {
  const fake = fakeAppservice(host);
  const seen: JsonObject[] = [];
  fake.handlers.set(NOTIFY, (req) => {
    seen.push(req.body!.notification as JsonObject);
    return answer(req);
  });
  return { fake, seen };
}

async function setPusher(u: TestUser, host: string, pushkey: string, extra: JsonObject = {}): Promise<void> {
  await u.ok("POST", `${V3}/pushers/set`, {
    kind: "http",
    app_id: "org.parley.test",
    pushkey,
    app_display_name: "Test",
    device_display_name: "Phone",
    lang: "en",
    data: { url: `https://${host}${NOTIFY}`, ...extra },
  });
}

async function pair(tag: string): Promise<{ alice: TestUser; bob: TestUser; roomId: string }> {
  const [alice, bob] = await Promise.all([newUser(`${tag}a`), newUser(`${tag}b`)]);
  const roomId = await createRoom(alice, { preset: "public_chat", name: "Push room" });
  await bob.ok("POST", `${V3}/join/${enc(roomId)}`, {});
  return { alice, bob, roomId };
}

describe("[push: gateway] delivery to HTTP pushers", () => {
  it("[push: gateway/notify] a message reaches the member's gateway with the spec's fields; the sender's own is not pushed", async () => {
    const { alice, bob, roomId } = await pair("pd1");
    const { seen } = gateway("gw1.push.test");
    await setPusher(bob, "gw1.push.test", "bobkey", { custom: "x" });
    // A room joined after the pusher was set learns about it too.
    const later = await createRoom(alice, { preset: "public_chat" });
    await bob.ok("POST", `${V3}/join/${enc(later)}`, {});
    await waitFor(async () => (await roomSql<{ user_id: string }>(later, "SELECT user_id FROM push_members")).length === 1, "the join hand-over");
    await setPusher(alice, "gw1.push.test", "alicekey");
    const { event_id } = (await sendMessage(alice, roomId, "ping")).body as { event_id: string };
    await waitFor(() => seen.some((n) => n.event_id === event_id), "bob's notification");
    const n = seen.find((x) => x.event_id === event_id)!;
    expect(n).toMatchObject({
      event_id,
      room_id: roomId,
      type: "m.room.message",
      sender: alice.userId,
      room_name: "Push room",
      prio: "low",
      counts: { unread: 1 },
      content: { msgtype: "m.text", body: "ping" },
    });
    const devices = n.devices as JsonObject[];
    expect(devices).toHaveLength(1);
    expect(devices[0]).toMatchObject({ app_id: "org.parley.test", pushkey: "bobkey", data: { custom: "x" } });
    expect(typeof devices[0]!.pushkey_ts).toBe("number");
    expect((devices[0]!.data as JsonObject).url).toBeUndefined();
    // Alice's pusher got nothing for her own message.
    await new Promise((r) => setTimeout(r, 200));
    expect(seen.filter((x) => (x.devices as JsonObject[]).some((d) => d.pushkey === "alicekey"))).toEqual([]);
  });

  it("[push: gateway/highlight] a mention is sent with prio high and the highlight tweak; event_id_only omits content", async () => {
    const { alice, bob, roomId } = await pair("pd2");
    const { seen } = gateway("gw2.push.test");
    await setPusher(bob, "gw2.push.test", "k2", { format: "event_id_only" });
    const r = await alice.ok("PUT", roomPath(roomId, `send/m.room.message/h${Date.now()}`), {
      msgtype: "m.text",
      body: "look",
      "m.mentions": { user_ids: [bob.userId] },
    });
    await waitFor(() => seen.some((n) => n.event_id === r.event_id), "highlight notification");
    const n = seen.find((x) => x.event_id === r.event_id)!;
    expect(n.prio).toBe("high");
    expect(n.content).toBeUndefined();
    expect(n.sender).toBeUndefined();
    expect((n.devices as JsonObject[])[0]!.tweaks).toMatchObject({ highlight: true });
  });

  it("[push: gateway/rejected] a pushkey the gateway rejects is removed", async () => {
    const { alice, bob, roomId } = await pair("pd3");
    const { seen } = gateway("gw3.push.test", () => Response.json({ rejected: ["dead"] }));
    await setPusher(bob, "gw3.push.test", "dead");
    await sendMessage(alice, roomId, "to a dead key");
    await waitFor(() => seen.length > 0, "the gateway call");
    await waitFor(async () => ((await bob.ok("GET", `${V3}/pushers`)).pushers as unknown[]).length === 0, "pusher removal");
  });

  it("[push: gateway/retry] a gateway that fails is retried until it answers", async () => {
    const { alice, bob, roomId } = await pair("pd4");
    let fail = 1;
    const { seen } = gateway("gw4.push.test", () => (fail-- > 0 ? new Response("busy", { status: 503 }) : Response.json({ rejected: [] })));
    await setPusher(bob, "gw4.push.test", "k4");
    const { event_id } = (await sendMessage(alice, roomId, "again")).body as { event_id: string };
    // First attempt fails; the outbox retries after ~1 s of backoff.
    await waitFor(() => seen.filter((n) => n.event_id === event_id).length >= 2, "the retry", 8_000);
  });

  it("[push: gateway/durable] push notices are written by the event's own commit (a crash after it cannot lose them)", async () => {
    const { alice, bob, roomId } = await pair("pd6");
    gateway("gw6.push.test");
    const commitRows = () => runInDurableObject(roomActor(env, roomId), (room: Room) => room.lastCommitStats()!.rowsWritten);
    await sendMessage(alice, roomId, "before any pusher");
    const without = await commitRows();
    await setPusher(bob, "gw6.push.test", "k6d");
    await sendMessage(alice, roomId, "with bob's pusher");
    const withNotice = await commitRows();
    // The notice row for bob (and its index entries) counted in the same commit.
    expect(withNotice).toBeGreaterThan(without);
  });

  it("[push: gateway/members] a user whose pushers are all gone is not pushed to (and the room forgets them)", async () => {
    const { alice, bob, roomId } = await pair("pd5");
    const { seen } = gateway("gw5.push.test");
    const members = async () => (await roomSql<{ user_id: string }>(roomId, "SELECT user_id FROM push_members")).map((r) => r.user_id);
    await setPusher(bob, "gw5.push.test", "k5");
    expect(await members()).toEqual([bob.userId]);
    await setPusher(bob, "gw5.push.test", "k6"); // a second pusher: no change, no write
    await bob.ok("POST", `${V3}/pushers/set`, { kind: null, app_id: "org.parley.test", pushkey: "k5" });
    expect(await members()).toEqual([bob.userId]);
    await bob.ok("POST", `${V3}/pushers/set`, { kind: null, app_id: "org.parley.test", pushkey: "k6" });
    expect(await members()).toEqual([]);
    await sendMessage(alice, roomId, "nobody listens");
    await new Promise((r) => setTimeout(r, 300));
    expect(seen).toEqual([]);
  });
});
