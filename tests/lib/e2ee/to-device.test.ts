import { describe, expect, it } from "vitest";
import { checkEventType, MAX_TO_DEVICE_TARGETS, parseToDeviceMessages } from "../../../lib/e2ee/to-device.ts";
import type { JsonObject } from "../../../lib/json.ts";

describe("[e2ee: to-device] /sendToDevice body", () => {
  it("[cs: send-to-device] user → device (or *) → content", () => {
    const m = parseToDeviceMessages({ messages: { "@a:x": { D1: { k: 1 }, "*": { k: 2 } }, "@b:x": {} } });
    expect([...m.keys()]).toEqual(["@a:x"]); // users with no devices are dropped
    expect(m.get("@a:x")?.get("*")).toEqual({ k: 2 });
  });

  it("[cs: send-to-device] malformed bodies are refused with the right errcode", () => {
    const cases: Array<[JsonObject, string]> = [
      [{}, "M_MISSING_PARAM"],
      [{ messages: [] }, "M_BAD_JSON"],
      [{ messages: { "not-a-user": { D: {} } } }, "M_INVALID_PARAM"],
      [{ messages: { "@a:x": { D: "text" } } }, "M_BAD_JSON"],
      [{ messages: { "@a:x": { "": {} } } }, "M_INVALID_PARAM"],
    ];
    for (const [b, code] of cases) expect(() => parseToDeviceMessages(b), JSON.stringify(b)).toThrow(expect.objectContaining({ errcode: code }));
  });

  it("[cs: send-to-device] too many targets is 413 M_TOO_LARGE", () => {
    const devices: JsonObject = {};
    for (let i = 0; i <= MAX_TO_DEVICE_TARGETS; i++) devices[`D${i}`] = {};
    expect(() => parseToDeviceMessages({ messages: { "@a:x": devices } })).toThrow(expect.objectContaining({ errcode: "M_TOO_LARGE" }));
  });

  it("[cs: send-to-device] event types are bounded", () => {
    expect(checkEventType("m.room.encrypted")).toBe("m.room.encrypted");
    expect(() => checkEventType("")).toThrow();
    expect(() => checkEventType("x".repeat(300))).toThrow();
  });
});
