// Notification counts in /sync v2 (party/room/push.ts, party/push/sync-counts.ts):
// counted lazily for the syncing user with their push rules, cleared by read receipts.
import { describe, expect, it } from "vitest";
import { env } from "cloudflare:test";
import type { JsonObject } from "../../lib/json.ts";
import { roomActor } from "../../party/stubs.ts";
import { createRoom, enc, newUser, roomPath, sendMessage, V3, type TestUser } from "./room-helpers.ts";

type Counts = { notification_count: number; highlight_count: number };

async function sync(u: TestUser, query: Record<string, string> = {}): Promise<JsonObject & { next_batch: string; rooms?: { join?: Record<string, any> } }> {
  return (await u.ok("GET", `${V3}/sync?${new URLSearchParams(query)}`)) as never;
}

async function counts(u: TestUser, roomId: string): Promise<Counts | undefined> {
  return (await sync(u)).rooms?.join?.[roomId]?.unread_notifications;
}

async function threeMembers(): Promise<{ alice: TestUser; bob: TestUser; carol: TestUser; roomId: string }> {
  const [alice, bob, carol] = await Promise.all([newUser("pa"), newUser("pb"), newUser("pc")]);
  const roomId = await createRoom(alice, { preset: "public_chat" });
  await bob.ok("POST", `${V3}/join/${enc(roomId)}`, {});
  await carol.ok("POST", `${V3}/join/${enc(roomId)}`, {});
  return { alice, bob, carol, roomId };
}

async function mention(from: TestUser, roomId: string, who: TestUser): Promise<string> {
  const r = await from.ok("PUT", roomPath(roomId, `send/m.room.message/m${Date.now()}${Math.random()}`), {
    msgtype: "m.text",
    body: `hey ${who.userId}`,
    "m.mentions": { user_ids: [who.userId] },
  });
  return r.event_id as string;
}

describe("[push: counts] unread_notifications in /sync", () => {
  it("[push: counts/is_user_mention] a mention produces highlight_count 1 for the mentioned user only", async () => {
    const { alice, bob, carol, roomId } = await threeMembers();
    await mention(alice, roomId, bob);
    expect(await counts(bob, roomId)).toEqual({ notification_count: 1, highlight_count: 1 });
    expect(await counts(carol, roomId)).toEqual({ notification_count: 1, highlight_count: 0 });
  });

  it("[push: counts/.m.rule.message] a plain message counts for the others, never for the sender", async () => {
    const { alice, bob, carol, roomId } = await threeMembers();
    expect((await sendMessage(alice, roomId, "plain")).status).toBe(200);
    expect(await counts(bob, roomId)).toEqual({ notification_count: 1, highlight_count: 0 });
    expect(await counts(carol, roomId)).toEqual({ notification_count: 1, highlight_count: 0 });
    expect(await counts(alice, roomId)).toEqual({ notification_count: 0, highlight_count: 0 });
  });

  it("[push: counts/receipts] a read receipt clears the count; later messages count again; an incremental sync carries it", async () => {
    const { alice, bob, roomId } = await threeMembers();
    await sendMessage(alice, roomId, "one");
    const eventId = await mention(alice, roomId, bob);
    const first = await sync(bob);
    expect(first.rooms!.join![roomId].unread_notifications).toEqual({ notification_count: 2, highlight_count: 1 });
    await bob.ok("POST", roomPath(roomId, `receipt/m.read/${enc(eventId)}`), {});
    const inc = await sync(bob, { since: first.next_batch, timeout: "0" });
    expect(inc.rooms?.join?.[roomId]?.unread_notifications).toEqual({ notification_count: 0, highlight_count: 0 });
    await sendMessage(alice, roomId, "two");
    expect(await counts(bob, roomId)).toEqual({ notification_count: 1, highlight_count: 0 });
  });

  it("[push: counts/incremental] later messages are counted on from the memo; a redaction or a state change recounts", async () => {
    const { alice, bob, roomId } = await threeMembers();
    const stats = () => roomActor(env, roomId).unreadCountStats();
    for (const body of ["a", "b", "c"]) await sendMessage(alice, roomId, body);
    expect(await counts(bob, roomId)).toEqual({ notification_count: 3, highlight_count: 0 });
    const s0 = await stats();
    await sendMessage(alice, roomId, "d");
    const redactMe = (await sendMessage(alice, roomId, "e")).body as { event_id: string };
    await mention(alice, roomId, bob);
    expect(await counts(bob, roomId)).toEqual({ notification_count: 6, highlight_count: 1 });
    const s1 = await stats();
    expect(s1.scans).toBe(s0.scans);
    expect(s1.increments).toBeGreaterThan(s0.increments);
    // A redaction removes a counted event: counted again, not on.
    await alice.ok("PUT", roomPath(roomId, `redact/${enc(redactMe.event_id)}/r${Date.now()}`), {});
    expect(await counts(bob, roomId)).toEqual({ notification_count: 5, highlight_count: 1 });
    const s2 = await stats();
    expect(s2.scans).toBe(s1.scans + 1);
    // A state change (what the rules read — member count, names, power levels — lives there) recounts too.
    await alice.ok("PUT", roomPath(roomId, "state/m.room.topic/"), { topic: "counting" });
    await sendMessage(alice, roomId, "f");
    expect(await counts(bob, roomId)).toEqual({ notification_count: 6, highlight_count: 1 });
    expect((await stats()).scans).toBe(s2.scans + 1);
  });

  it("[push: counts/receipts] m.read.private clears the count too", async () => {
    const { alice, bob, roomId } = await threeMembers();
    const { event_id } = (await sendMessage(alice, roomId, "secret")).body as { event_id: string };
    expect(await counts(bob, roomId)).toEqual({ notification_count: 1, highlight_count: 0 });
    await bob.ok("POST", roomPath(roomId, `receipt/m.read.private/${enc(event_id)}`), {});
    expect(await counts(bob, roomId)).toEqual({ notification_count: 0, highlight_count: 0 });
  });

  it("[push: counts/pushrules] the user's own rules decide: a room rule with no actions silences the room", async () => {
    const { alice, bob, roomId } = await threeMembers();
    await bob.ok("PUT", `${V3}/pushrules/global/room/${enc(roomId)}`, { actions: [] });
    await mention(alice, roomId, bob); // is_user_mention is an override: still highlights
    await sendMessage(alice, roomId, "quiet");
    expect(await counts(bob, roomId)).toEqual({ notification_count: 1, highlight_count: 1 });
  });

  it("[push: counts/threads] unread_thread_notifications splits thread replies out when the filter asks", async () => {
    const { alice, bob, roomId } = await threeMembers();
    const { event_id: root } = (await sendMessage(alice, roomId, "root")).body as { event_id: string };
    await alice.ok("PUT", roomPath(roomId, `send/m.room.message/th${Date.now()}`), {
      msgtype: "m.text",
      body: "in thread",
      "m.relates_to": { rel_type: "m.thread", event_id: root },
    });
    const filter = JSON.stringify({ room: { timeline: { unread_thread_notifications: true } } });
    const s = await sync(bob, { filter });
    const room = s.rooms!.join![roomId];
    expect(room.unread_notifications).toEqual({ notification_count: 1, highlight_count: 0 });
    expect(room.unread_thread_notifications).toEqual({ [root]: { notification_count: 1, highlight_count: 0 } });
    // Without the filter flag, the thread reply counts in the room total.
    expect(await counts(bob, roomId)).toEqual({ notification_count: 2, highlight_count: 0 });
  });
});

describe("[push: notifications] GET /notifications", () => {
  it("[push: notifications] lists notifying events newest first across rooms, with read flags, only=highlight and pagination", async () => {
    const { alice, bob, roomId } = await threeMembers();
    const other = await createRoom(alice, { preset: "public_chat" });
    await bob.ok("POST", `${V3}/join/${enc(other)}`, {});
    const first = (await sendMessage(alice, roomId, "first")).body.event_id as string;
    await new Promise((r) => setTimeout(r, 5));
    const hl = await mention(alice, other, bob);
    await new Promise((r) => setTimeout(r, 5));
    const last = (await sendMessage(alice, roomId, "last")).body.event_id as string;
    await bob.ok("POST", roomPath(roomId, `receipt/m.read/${enc(first)}`), {});

    const all = (await bob.ok("GET", `${V3}/notifications`)) as { notifications: any[]; next_token?: string };
    expect(all.notifications.map((n) => n.event.event_id)).toEqual([last, hl, first]);
    expect(all.notifications.map((n) => n.read)).toEqual([false, false, true]);
    expect(all.notifications[1].room_id).toBe(other);
    expect(all.notifications[1].actions).toContainEqual({ set_tweak: "highlight" });
    expect(typeof all.notifications[0].ts).toBe("number");
    expect(all.next_token).toBeUndefined();

    const highlights = (await bob.ok("GET", `${V3}/notifications?only=highlight`)) as { notifications: any[] };
    expect(highlights.notifications.map((n) => n.event.event_id)).toEqual([hl]);

    const p1 = (await bob.ok("GET", `${V3}/notifications?limit=2`)) as { notifications: any[]; next_token?: string };
    expect(p1.notifications.map((n) => n.event.event_id)).toEqual([last, hl]);
    expect(p1.next_token).toBeDefined();
    const p2 = (await bob.ok("GET", `${V3}/notifications?limit=2&from=${p1.next_token}`)) as { notifications: any[]; next_token?: string };
    expect(p2.notifications.map((n) => n.event.event_id)).toEqual([first]);

    // The sender's own messages are not notifications for them.
    expect(((await alice.ok("GET", `${V3}/notifications`)) as { notifications: any[] }).notifications).toEqual([]);
    expect((await bob.call("GET", `${V3}/notifications?from=nope`)).body.errcode).toBe("M_INVALID_PARAM");
  });
});
