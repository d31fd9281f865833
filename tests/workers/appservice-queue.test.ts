// The Appservice actor's queue: order, batching, txnIds, retries driven by the alarm,
// durability across restarts, deduplication. https://spec.matrix.org/v1.19/application-service-api/#pushing-events
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { MAX_RETRY_DELAY_MS } from "../../lib/appservice/transaction.ts";
import type { Appservice, EnqueueItem } from "../../party/appservice.ts";
import { appserviceActor } from "../../party/stubs.ts";
import { fakeAppservice, type FakeAppservice } from "./appservice-fake.ts";

let bridge: FakeAppservice;
beforeEach(() => {
  bridge = fakeAppservice("bridge.as.test");
});

/** The actor is named by the registration id, so every test uses the same one and drains it first. */
const actor = () => appserviceActor(env, "bridge");

let n = 0;
function events(count: number, tag = `t${++n}`): EnqueueItem[] {
  return Array.from({ length: count }, (_, i) => ({ kind: "event" as const, json: JSON.stringify({ event_id: `$${tag}-${i}`, i }), dedupe: `$${tag}-${i}` }));
}

/** Simulates the backoff running out, then fires the alarm as the runtime would. */
async function timePasses(): Promise<void> {
  await runInDurableObject(actor(), (_: Appservice, state) => {
    state.storage.sql.exec("UPDATE delivery SET next_ts = 0 WHERE id = 1");
  });
  await runDurableObjectAlarm(actor());
}

async function drainFirst(): Promise<void> {
  bridge.behaviour = "ok";
  await actor().kick();
  const s = await actor().status();
  expect(s.queued).toBe(0);
  bridge.requests = [];
  bridge.transactions = [];
  bridge.processed = [];
}

const ids = (evs: JsonObject[]) => evs.map((e) => e.event_id);

describe("[as: transactions] delivery", () => {
  it("[as: transactions] 250 queued events go out as 100 + 100 + 50, in order, with increasing txnIds and the hs_token", async () => {
    await drainFirst();
    bridge.behaviour = "down";
    const items = events(250, "order");
    expect(await actor().enqueue(items)).toBe(250);
    bridge.behaviour = "ok";
    await timePasses();
    await actor().flush();
    expect(bridge.transactions.map((t) => (t.body.events as unknown[]).length)).toEqual([100, 100, 50]);
    const txnIds = bridge.transactions.map((t) => Number(t.txnId));
    expect(txnIds[1]).toBe(txnIds[0]! + 1);
    expect(txnIds[2]).toBe(txnIds[1]! + 1);
    expect(ids(bridge.processed)).toEqual(items.map((i) => i.dedupe));
    const put = bridge.requests.find((r) => r.method === "PUT")!;
    expect(put.auth).toBe("Bearer hs-token-bridge");
    expect(put.path).toBe(`/base/_matrix/app/v1/transactions/${txnIds[0]}`);
    expect((await actor().status()).queued).toBe(0);
  });

  it("[as: transactions] an enqueued item is delivered without any further prompt", async () => {
    await drainFirst();
    await actor().enqueue(events(3, "prompt"));
    await actor().flush();
    expect(ids(bridge.processed)).toEqual(["$prompt-0", "$prompt-1", "$prompt-2"]);
  });

  it("[as: transactions] the same dedupe key (event ID) enqueued twice is delivered once", async () => {
    await drainFirst();
    bridge.behaviour = "down";
    const items = events(5, "dup");
    expect(await actor().enqueue(items)).toBe(5);
    expect(await actor().enqueue([items[2]!, items[4]!, ...events(1, "dupnew")])).toBe(1);
    bridge.behaviour = "ok";
    await timePasses();
    await actor().flush();
    expect(ids(bridge.processed)).toEqual(["$dup-0", "$dup-1", "$dup-2", "$dup-3", "$dup-4", "$dupnew-0"]);
  });

  it("[as: transactions] MSC2409/MSC4203 items travel under both names beside the events", async () => {
    await drainFirst();
    await actor().enqueue([
      { kind: "ephemeral", json: JSON.stringify({ type: "m.typing", room_id: "!r:x", content: { user_ids: ["@a:x"] } }) },
      { kind: "to_device", json: JSON.stringify({ type: "m.x", sender: "@a:x", to_user_id: "@_gh_1:x", to_device_id: "D", content: {} }) },
    ]);
    await actor().flush();
    const body = bridge.transactions.at(-1)!.body;
    expect(body.events).toEqual([]);
    expect(body.ephemeral).toEqual(body["de.sorunome.msc2409.ephemeral"]);
    expect((body.to_device as JsonObject[])[0]!.to_device_id).toBe("D");
    expect(body["de.sorunome.msc2409.to_device"]).toEqual(body.to_device);
  });
});

describe("[as: transactions] retries", () => {
  it("[as: transactions] a failed transaction is retried with the same txnId and items; the alarm backs off exponentially up to the cap", async () => {
    await drainFirst();
    bridge.behaviour = "500";
    await actor().enqueue(events(3, "retry"));
    await actor().flush();
    const first = await actor().status();
    expect(first.inFlightTxnId).not.toBeNull();
    expect(first.failures).toBe(1);
    const delays: number[] = [];
    for (let i = 0; i < 11; i++) {
      await timePasses();
      const before = Date.now();
      const alarm = await runInDurableObject(actor(), (_: Appservice, state) => state.storage.getAlarm());
      const s = await actor().status();
      expect(s.inFlightTxnId).toBe(first.inFlightTxnId);
      delays.push(Math.round((alarm! - before) / 1000));
    }
    // Failures 2..12: 2 s, 4 s, … doubling, then capped at 5 minutes.
    expect(delays).toEqual([2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
    expect(MAX_RETRY_DELAY_MS).toBe(300_000);
    const putBodies = bridge.transactions.map((t) => JSON.stringify(t.body));
    expect(new Set(bridge.transactions.map((t) => t.txnId))).toEqual(new Set([String(first.inFlightTxnId)]));
    expect(new Set(putBodies).size).toBe(1);
    bridge.behaviour = "ok";
    await timePasses();
    await actor().flush();
    expect(ids(bridge.processed)).toEqual(["$retry-0", "$retry-1", "$retry-2"]);
    expect((await actor().status()).failures).toBe(0);
  });

  it("[as: transactions] an answer lost after processing: the retry carries the same txnId, so a deduplicating appservice sees each event once", async () => {
    await drainFirst();
    bridge.loseAnswers = 2;
    await actor().enqueue(events(4, "lost"));
    await actor().flush();
    await timePasses();
    await timePasses();
    await actor().flush();
    expect(bridge.transactions.length).toBe(3);
    expect(new Set(bridge.transactions.map((t) => t.txnId)).size).toBe(1);
    expect(ids(bridge.processed)).toEqual(["$lost-0", "$lost-1", "$lost-2", "$lost-3"]);
  });

  it("[as: transactions] down for many attempts while 1,000 events queue: after recovery all 1,000 arrive once, in order", async () => {
    await drainFirst();
    bridge.behaviour = "down";
    const all: EnqueueItem[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const items = events(100, `backlog${batch}`);
      all.push(...items);
      await actor().enqueue(items);
      await timePasses(); // another failed attempt each time
    }
    expect((await actor().status()).failures).toBeGreaterThanOrEqual(10);
    bridge.behaviour = "ok";
    await timePasses();
    await actor().flush();
    expect(ids(bridge.processed)).toEqual(all.map((i) => i.dedupe));
    const txnIds = [...new Set(bridge.transactions.map((t) => Number(t.txnId)))];
    expect(txnIds).toEqual([...txnIds].sort((a, b) => a - b));
    expect((await actor().status()).queued).toBe(0);
  });
});

describe("[as: transactions] durability", () => {
  it("[as: transactions] across a restart of the actor: the queue, the txnId in flight and the counter survive", async () => {
    await drainFirst();
    bridge.behaviour = "500";
    const items = events(120, "restart");
    await actor().enqueue(items);
    await actor().flush();
    const before = await actor().status();
    expect(before.inFlightTxnId).not.toBeNull();
    await runInDurableObject(actor(), (_: Appservice, state) => {
      try {
        state.abort("test restart");
      } catch {
        // abort throws inside the aborted object
      }
    }).catch(() => {});
    const after = await actor().status();
    expect(after.inFlightTxnId).toBe(before.inFlightTxnId);
    expect(after.queued).toBe(120);
    bridge.behaviour = "ok";
    await timePasses();
    await actor().flush();
    expect(bridge.transactions.filter((t) => t.txnId === String(before.inFlightTxnId)).length).toBeGreaterThanOrEqual(2);
    expect(ids(bridge.processed)).toEqual(items.map((i) => i.dedupe));
    expect((await actor().status()).nextTxnId).toBe(before.inFlightTxnId! + 2);
  });

  it("[as: registration] an appservice with url null gets no traffic; its queue is kept", async () => {
    const silent = appserviceActor(env, "silent");
    await silent.enqueue(events(2, "silent"));
    const s = await silent.flush();
    expect(s.queued).toBe(2);
    expect(s.inFlightTxnId).toBeNull();
  });
});
