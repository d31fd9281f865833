// Transaction bodies, URLs and the retry policy.
import { describe, expect, it } from "vitest";
import { MAX_RETRY_DELAY_MS, retryDelayMs, transactionAccepted, transactionBody, transactionUrl } from "../../../lib/appservice/transaction.ts";

describe("[as: transactions] body", () => {
  it("[as: transactions] events in queue order; no ephemeral or to_device keys when there are none", () => {
    const body = transactionBody([
      { kind: "event", json: { event_id: "$1" } },
      { kind: "event", json: { event_id: "$2" } },
    ]);
    expect(body).toEqual({ events: [{ event_id: "$1" }, { event_id: "$2" }] });
  });

  it("[as: MSC2409/MSC4203] ephemeral and to-device data under the stable and the unstable names", () => {
    const body = transactionBody([
      { kind: "ephemeral", json: { type: "m.typing", room_id: "!r:x", content: { user_ids: [] } } },
      { kind: "event", json: { event_id: "$1" } },
      { kind: "to_device", json: { type: "m.room_key_request", to_user_id: "@_b:x", to_device_id: "D", sender: "@a:x", content: {} } },
    ]);
    expect(body.events).toEqual([{ event_id: "$1" }]);
    expect(body.ephemeral).toEqual([{ type: "m.typing", room_id: "!r:x", content: { user_ids: [] } }]);
    expect(body["de.sorunome.msc2409.ephemeral"]).toEqual(body.ephemeral);
    expect((body.to_device as unknown[])[0]).toMatchObject({ to_user_id: "@_b:x", to_device_id: "D" });
    expect(body["de.sorunome.msc2409.to_device"]).toEqual(body.to_device);
  });

  it("[as: MSC3202] key counts per user and device, the newest item per device winning; absent when there are none", () => {
    const body = transactionBody([
      { kind: "device_keys", json: { user_id: "@_b:x", device_id: "D1", one_time_keys_count: { signed_curve25519: 5 }, unused_fallback_key_types: ["signed_curve25519"] } },
      { kind: "event", json: { event_id: "$1" } },
      { kind: "device_keys", json: { user_id: "@_b:x", device_id: "__proto__", one_time_keys_count: { signed_curve25519: 1 }, unused_fallback_key_types: [] } },
      { kind: "device_keys", json: { user_id: "@_b:x", device_id: "D1", one_time_keys_count: { signed_curve25519: 4 }, unused_fallback_key_types: [] } },
    ]);
    expect(body.events).toEqual([{ event_id: "$1" }]);
    expect(JSON.parse(JSON.stringify(body["org.matrix.msc3202.device_one_time_keys_count"]))).toEqual({
      "@_b:x": { D1: { signed_curve25519: 4 }, ["__proto__"]: { signed_curve25519: 1 } },
    });
    expect(JSON.stringify(body["org.matrix.msc3202.device_unused_fallback_key_types"])).toBe('{"@_b:x":{"D1":[],"__proto__":[]}}');
    expect(transactionBody([{ kind: "event", json: { event_id: "$2" } }])).toEqual({ events: [{ event_id: "$2" }] });
  });

  it("[as: MSC3202] device-list changes: each user once, in order, with an empty left", () => {
    const body = transactionBody([
      { kind: "device_list", json: { changed: "@a:x" } },
      { kind: "device_list", json: { changed: "@b:x" } },
      { kind: "device_list", json: { changed: "@a:x" } },
    ]);
    expect(body).toEqual({ events: [], "org.matrix.msc3202.device_lists": { changed: ["@a:x", "@b:x"], left: [] } });
  });

  it("[as: transactions] URL under the appservice's base URL", () => {
    expect(transactionUrl("http://127.0.0.1:9000/base", 7)).toBe("http://127.0.0.1:9000/base/_matrix/app/v1/transactions/7");
  });

  it("[as: transactions] only 2xx acknowledges a transaction", () => {
    expect(transactionAccepted(200)).toBe(true);
    expect(transactionAccepted(204)).toBe(true);
    for (const s of [301, 400, 401, 403, 404, 500, 502]) expect(transactionAccepted(s), String(s)).toBe(false);
  });
});

describe("[as: transactions] retry backoff", () => {
  it("[as: transactions] doubles from 1 s and is capped at 5 minutes", () => {
    expect([1, 2, 3, 4, 5].map(retryDelayMs)).toEqual([1000, 2000, 4000, 8000, 16000]);
    expect(retryDelayMs(9)).toBe(256_000);
    expect(retryDelayMs(10)).toBe(MAX_RETRY_DELAY_MS);
    expect(retryDelayMs(1000)).toBe(MAX_RETRY_DELAY_MS);
    expect(MAX_RETRY_DELAY_MS).toBe(300_000);
  });
});
