// Simplified sliding sync (MSC4186) against the real server (npm start), driven by
// matrix-js-sdk 37.5.0's own SlidingSync class through startClient({ slidingSync }): it
// speaks POST /_matrix/client/unstable/org.matrix.simplified_msc3575/sync (pos and
// timeout in the query, lists with ranges, the to_device/account_data/typing/receipts
// extensions). The endpoint is not in the spec's OpenAPI, so its responses are checked
// by the SDK's processing and the assertions here; every other response the clients get
// is validated against the OpenAPI as in the other e2e tests.
import { describe, expect, inject, it } from "vitest";
import { ClientEvent, createClient, EventType, type MatrixClient, type MatrixEvent } from "matrix-js-sdk";
import { SlidingSync, type MSC3575List } from "matrix-js-sdk/lib/sliding-sync.js";
import { findTemplate, validateResponse } from "./openapi.ts";
import { sdkHarness, start } from "./sdk.ts";

const SSS_PATH = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync";
const h = sdkHarness({ stopClients: true, ignoredErrors: ["SlidingSync"] });

/** Until `check` holds (the sync loop delivers asynchronously). */
async function eventually(check: () => boolean, what: string, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A client for the sliding sync loop: spec responses validated, the unstable endpoint's checked for shape. */
function slidingClient(of: MatrixClient, problems: string[], bodies: unknown[]): MatrixClient {
  const fetchFn: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    const method = (init?.method ?? "GET").toUpperCase();
    const text = await res.clone().text();
    try {
      if (url.pathname === SSS_PATH) {
        const body = JSON.parse(text) as Record<string, unknown>;
        if (res.status !== 200 || typeof body.pos !== "string") throw new Error(`${res.status} ${text.slice(0, 200)}`);
        bodies.push(body);
      } else {
        validateResponse(method, findTemplate(method, url.pathname), res.status, text ? JSON.parse(text) : null);
        h.countValidated();
      }
    } catch (e) {
      problems.push(`${method} ${url.pathname}: ${(e as Error).message}`);
    }
    return res;
  };
  return createClient({ baseUrl: inject("baseUrl"), accessToken: of.getAccessToken()!, userId: of.getUserId()!, deviceId: of.getDeviceId()!, fetchFn, logger: h.logger });
}

const bodyOf = (e: MatrixEvent) => e.getContent().body as string | undefined;
const messages = (c: MatrixClient, roomId: string) =>
  (c.getRoom(roomId)?.getLiveTimeline().getEvents() ?? []).filter((e) => e.getType() === "m.room.message").map(bodyOf);

describe("simplified sliding sync with matrix-js-sdk", () => {
  it("[sliding: e2e] SlidingSync lists the most recent rooms, brings an older room into the window, delivers extensions once", async () => {
    const alice = await h.register("sssa");
    const bob = await h.register("sssb");
    // Three rooms, oldest first; bob is in the oldest.
    const oldest = (await alice.client.createRoom({ name: "oldest", preset: "public_chat" as never })).room_id;
    await bob.client.joinRoom(oldest);
    await alice.client.sendTextMessage(oldest, "old news");
    const middle = (await alice.client.createRoom({ name: "middle" })).room_id;
    await alice.client.sendTextMessage(middle, "middle news");
    await new Promise((r) => setTimeout(r, 5));
    const newest = (await alice.client.createRoom({ name: "newest" })).room_id;
    await alice.client.sendTextMessage(newest, "fresh news");

    const problems: string[] = [];
    const bodies: unknown[] = [];
    const c = slidingClient(alice.client, problems, bodies);
    const list: MSC3575List = { ranges: [[0, 1]], timeline_limit: 5, required_state: [["*", "*"]] };
    const sliding = new SlidingSync(inject("baseUrl"), new Map([["all", list]]), { timeline_limit: 5, required_state: [["*", "*"]] }, c, 2_000);
    const toDevice: MatrixEvent[] = [];
    c.on(ClientEvent.ToDeviceEvent, (e) => void toDevice.push(e));
    try {
      await start(c, { slidingSync: sliding });
      await eventually(() => c.getRoom(newest) !== null && c.getRoom(middle) !== null, "the two most recent rooms");
      expect(sliding.getListData("all")?.joinedCount).toBe(3);
      expect(c.getRoom(oldest)).toBeNull(); // outside the range
      expect(c.getRoom(newest)!.name).toBe("newest");
      expect(messages(c, newest)).toEqual(["fresh news"]);

      // Bob writes in the oldest room: it moves to the top and into the window.
      await bob.client.sendTextMessage(oldest, "bob is back");
      await eventually(() => messages(c, oldest).includes("bob is back"), "the older room entering the window");
      expect(c.getRoom(oldest)!.name).toBe("oldest");
      expect(c.getRoom(oldest)!.getJoinedMemberCount()).toBe(2);

      // Extensions: a to-device message, global account data, typing — each delivered once.
      await bob.client.sendToDevice("org.example.ping", new Map([[alice.userId, new Map([[alice.client.getDeviceId()!, { n: 1 }]])]]));
      await alice.client.setAccountData("org.example.setting" as never, { on: true } as never);
      await bob.client.sendTyping(oldest, true, 20_000);
      await eventually(() => toDevice.some((e) => e.getType() === "org.example.ping"), "the to-device message");
      await eventually(() => c.getAccountData("org.example.setting" as never)?.getContent().on === true, "the account data");
      await eventually(() => c.getRoom(oldest)?.getMember(bob.userId)?.typing === true, "bob typing");
      // Let a few more responses pass: nothing is delivered twice.
      await alice.client.sendTextMessage(newest, "one more");
      await eventually(() => messages(c, newest).includes("one more"), "a later message");
      expect(toDevice.filter((e) => e.getType() === "org.example.ping")).toHaveLength(1);
      const responses = bodies as Array<{ extensions?: { to_device?: { events?: unknown[] }; account_data?: { global?: Array<{ type: string }> } } }>;
      const pings = responses.flatMap((b) => b.extensions?.to_device?.events ?? []);
      expect(pings).toHaveLength(1);
      const settings = responses.flatMap((b) => b.extensions?.account_data?.global ?? []).filter((e) => e.type === "org.example.setting");
      expect(settings).toHaveLength(1);
      expect(messages(c, newest).filter((b) => b === "fresh news")).toHaveLength(1);
      expect(c.getRoom(middle)!.getLiveTimeline().getEvents().filter((e) => e.getType() === EventType.RoomMessage).map(bodyOf)).toEqual(["middle news"]);
    } finally {
      sliding.stop();
      c.stopClient();
    }
    expect(problems).toEqual([]);
  }, 60_000);
});
