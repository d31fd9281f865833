// POST /pushers/set validation. https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3pushersset
import { describe, expect, it } from "vitest";
import { MatrixError } from "../../../lib/errors.ts";
import type { JsonObject } from "../../../lib/json.ts";
import { parsePusherSet } from "../../../lib/push/pusher.ts";

const strict = { allowInsecureGateways: false };
const valid: JsonObject = {
  kind: "http",
  app_id: "com.example.app.ios",
  pushkey: "APA91bHPRgkF3JUikC4ENAHEeMrd41Zxv3hVZjC9KtT8OvPVGJ",
  app_display_name: "Mat Rix",
  device_display_name: "iPhone 9",
  profile_tag: "xxyyzz",
  lang: "en",
  data: { url: "https://push.example.com/_matrix/push/v1/notify", format: "event_id_only", custom: { k: 1 } },
};

function err(body: JsonObject, policy = strict) {
  try {
    parsePusherSet(body, policy);
  } catch (e) {
    if (e instanceof MatrixError) return { errcode: e.errcode, status: e.status, message: e.message };
    throw e;
  }
  throw new Error("expected a MatrixError");
}

describe("[push: pushers/set]", () => {
  it("[push: pushers/set] the spec's example is accepted, data (custom keys too) kept whole", () => {
    const change = parsePusherSet(valid, strict);
    expect(change).toEqual({
      remove: false,
      append: false,
      pusher: {
        kind: "http",
        app_id: valid.app_id,
        pushkey: valid.pushkey,
        app_display_name: "Mat Rix",
        device_display_name: "iPhone 9",
        profile_tag: "xxyyzz",
        lang: "en",
        data: valid.data,
      },
    });
  });

  it("[push: pushers/set] kind null deletes and needs only app_id and pushkey", () => {
    expect(parsePusherSet({ kind: null, app_id: "a", pushkey: "k" }, strict)).toEqual({ remove: true, app_id: "a", pushkey: "k" });
    expect(err({ kind: null, app_id: "a" })).toMatchObject({ errcode: "M_MISSING_PARAM", status: 400 });
  });

  it("[push: pushers/set] missing fields are named in one M_MISSING_PARAM", () => {
    const { lang, data, ...rest } = valid;
    void lang;
    void data;
    expect(err(rest)).toEqual({ errcode: "M_MISSING_PARAM", status: 400, message: "Missing parameters: lang, data" });
    expect(err({ app_id: "a", pushkey: "k" })).toMatchObject({ errcode: "M_MISSING_PARAM", message: "Missing parameters: kind" });
  });

  it("[push: pushers/set] lengths: pushkey at most 512 bytes, app_id at most 64 characters", () => {
    expect(err({ ...valid, pushkey: "é".repeat(257) })).toMatchObject({ errcode: "M_INVALID_PARAM" });
    expect(parsePusherSet({ ...valid, pushkey: "k".repeat(512) }, strict).remove).toBe(false);
    expect(err({ ...valid, app_id: "a".repeat(65) })).toMatchObject({ errcode: "M_INVALID_PARAM" });
    expect(parsePusherSet({ ...valid, app_id: "a".repeat(64) }, strict).remove).toBe(false);
  });

  it("[push: pushers/set] only http pushers; wrong types are M_BAD_JSON", () => {
    expect(err({ ...valid, kind: "email" })).toMatchObject({ errcode: "M_INVALID_PARAM" });
    expect(err({ ...valid, kind: 3 })).toMatchObject({ errcode: "M_BAD_JSON" });
    expect(err({ ...valid, data: "x" })).toMatchObject({ errcode: "M_BAD_JSON" });
    expect(err({ ...valid, lang: 1 })).toMatchObject({ errcode: "M_BAD_JSON" });
    expect(err({ ...valid, append: "yes" })).toMatchObject({ errcode: "M_BAD_JSON" });
    expect(parsePusherSet({ ...valid, append: true }, strict)).toMatchObject({ append: true });
  });

  it("[push: PusherData.url] an https URL with the path /_matrix/push/v1/notify", () => {
    const withUrl = (url: unknown) => ({ ...valid, data: { url } as JsonObject });
    expect(err({ ...valid, data: {} })).toMatchObject({ errcode: "M_MISSING_PARAM" });
    expect(err(withUrl(5))).toMatchObject({ errcode: "M_BAD_JSON" });
    expect(err(withUrl("push.example.com/_matrix/push/v1/notify"))).toMatchObject({ errcode: "M_INVALID_PARAM" });
    expect(err(withUrl("https://push.example.com/notify"))).toMatchObject({ errcode: "M_INVALID_PARAM" });
    expect(err(withUrl("http://push.example.com/_matrix/push/v1/notify"))).toMatchObject({ errcode: "M_INVALID_PARAM" });
    expect(err(withUrl("ftp://push.example.com/_matrix/push/v1/notify"), { allowInsecureGateways: true })).toMatchObject({ errcode: "M_INVALID_PARAM" });
    expect(parsePusherSet(withUrl("http://127.0.0.1:9/_matrix/push/v1/notify"), { allowInsecureGateways: true }).remove).toBe(false);
  });

  it("[push: PusherData.format] only event_id_only when present", () => {
    expect(err({ ...valid, data: { url: "https://p.example/_matrix/push/v1/notify", format: "full" } })).toMatchObject({ errcode: "M_INVALID_PARAM" });
  });
});
