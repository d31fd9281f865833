import { describe, expect, it } from "vitest";
import { MAX_KEYS_PER_UPLOAD, mustBeSigned, parseUploadedKeys, verifyUploadedKeys } from "../../../lib/e2ee/one-time-keys.ts";
import { MatrixError } from "../../../lib/errors.ts";
import type { JsonObject, JsonValue } from "../../../lib/json.ts";
import { FakeDevice } from "./client.ts";

const ALICE = "@alice:example.org";
const CURVE = "zKbLg+NrIjpnagy+pIY6uPL4ZwEG2v+8F9lmgsnlZzs";

function errcodeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof MatrixError) return e.errcode;
    throw e;
  }
  return "none";
}

async function rejects(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof MatrixError) return e.errcode;
    throw e;
  }
  return "none";
}

describe("[e2ee: one-time-keys] parsing", () => {
  it("[e2ee: one-time-keys] absent map is no keys; signed and unsigned forms are accepted", async () => {
    const dev = await FakeDevice.create(ALICE, "DEV1");
    expect(parseUploadedKeys(undefined, "one_time_keys")).toEqual([]);
    const keys = { ...(await dev.oneTimeKeys(2)), "curve25519:AAAAAQ": CURVE, "org.example.other:x": { key: "opaque", signatures: {} } };
    const parsed = parseUploadedKeys(keys, "one_time_keys");
    expect(parsed.map((k) => k.algorithm).sort()).toEqual(["curve25519", "org.example.other", "signed_curve25519", "signed_curve25519"]);
    // Stored form is canonical JSON of the uploaded value.
    const one = parsed.find((k) => k.keyId === "curve25519:AAAAAQ")!;
    expect(one.json).toBe(JSON.stringify(CURVE));
  });

  it("[e2ee: key-algorithms] malformed curve25519 values and key IDs are refused", () => {
    const cases: Array<[JsonValue, string]> = [
      [{ "curve25519:A": "not base64!" }, "M_INVALID_PARAM"],
      [{ "curve25519:A": CURVE + "=" }, "M_INVALID_PARAM"],
      [{ "signed_curve25519:A": { key: "AAAA", signatures: {} } }, "M_INVALID_PARAM"],
      [{ "signed_curve25519:A": CURVE }, "M_BAD_JSON"], // a signed algorithm needs a key object
      [{ "signed_curve25519:A": { key: CURVE } }, "M_BAD_JSON"], // no signatures
      [{ "signed_curve25519:A": { key: CURVE, signatures: {}, fallback: "yes" } }, "M_BAD_JSON"],
      [{ nocolon: CURVE }, "M_INVALID_PARAM"],
      [{ "curve25519:A": 7 }, "M_BAD_JSON"],
      [[], "M_BAD_JSON"],
    ];
    for (const [v, code] of cases) expect(errcodeOf(() => parseUploadedKeys(v, "one_time_keys")), JSON.stringify(v)).toBe(code);
  });

  it("[e2ee: one-time-keys] oversized uploads are 413 M_TOO_LARGE", () => {
    const many: JsonObject = {};
    for (let i = 0; i <= MAX_KEYS_PER_UPLOAD; i++) many[`curve25519:${i}`] = CURVE;
    expect(errcodeOf(() => parseUploadedKeys(many, "one_time_keys"))).toBe("M_TOO_LARGE");
    const huge = { "org.example:x": { key: "x".repeat(5000), signatures: {} } };
    expect(errcodeOf(() => parseUploadedKeys(huge, "one_time_keys"))).toBe("M_TOO_LARGE");
  });

  it("[e2ee: fallback-keys] at most one fallback key per algorithm", async () => {
    const dev = await FakeDevice.create(ALICE, "DEV1");
    const two = { ...(await dev.fallbackKey()), ...(await dev.fallbackKey()) };
    expect(errcodeOf(() => parseUploadedKeys(two, "fallback_keys"))).toBe("M_INVALID_PARAM");
    // The same two keys are fine as one-time keys.
    expect(parseUploadedKeys(two, "one_time_keys")).toHaveLength(2);
  });
});

describe("[e2ee: one-time-keys] signatures", () => {
  it("[e2ee: key-algorithms] signed_curve25519 keys signed by the device verify", async () => {
    const dev = await FakeDevice.create(ALICE, "DEV1");
    const keys = parseUploadedKeys({ ...(await dev.oneTimeKeys(3)), ...(await dev.fallbackKey()) }, "one_time_keys");
    await expect(verifyUploadedKeys(keys, ALICE, "DEV1", dev.ed25519)).resolves.toBeUndefined();
    expect(mustBeSigned("signed_curve25519")).toBe(true);
    expect(mustBeSigned("curve25519")).toBe(false);
  });

  it("[e2ee: key-algorithms] a key signed by another device, tampered or with no device keys → M_INVALID_SIGNATURE", async () => {
    const dev = await FakeDevice.create(ALICE, "DEV1");
    const other = await FakeDevice.create(ALICE, "DEV1");
    const foreign = parseUploadedKeys(await other.oneTimeKeys(1), "one_time_keys");
    expect(await rejects(verifyUploadedKeys(foreign, ALICE, "DEV1", dev.ed25519))).toBe("M_INVALID_SIGNATURE");
    const mine = await dev.oneTimeKeys(1);
    const [id, obj] = Object.entries(mine)[0]!;
    const tampered = parseUploadedKeys({ [id]: { ...obj, key: CURVE } }, "one_time_keys");
    expect(await rejects(verifyUploadedKeys(tampered, ALICE, "DEV1", dev.ed25519))).toBe("M_INVALID_SIGNATURE");
    const good = parseUploadedKeys(mine, "one_time_keys");
    expect(await rejects(verifyUploadedKeys(good, ALICE, "DEV1", undefined))).toBe("M_INVALID_SIGNATURE");
    // Signed for another user ID.
    expect(await rejects(verifyUploadedKeys(good, "@bob:example.org", "DEV1", dev.ed25519))).toBe("M_INVALID_SIGNATURE");
    // Unsigned algorithms need no device keys.
    await expect(verifyUploadedKeys(parseUploadedKeys({ "curve25519:A": CURVE }, "one_time_keys"), ALICE, "DEV1", undefined)).resolves.toBeUndefined();
  });
});
