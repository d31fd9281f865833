import { describe, expect, it } from "vitest";
import { parseDeviceKeys, verifyDeviceKeys } from "../../../lib/e2ee/device-keys.ts";
import { isPublicKey, isSignature, parseKeyId, signedContent, withSignatures } from "../../../lib/e2ee/key-json.ts";
import { MatrixError } from "../../../lib/errors.ts";
import type { JsonObject, JsonValue } from "../../../lib/json.ts";
import { FakeDevice } from "./client.ts";

const ALICE = "@alice:example.org";
const owner = { userId: ALICE, deviceId: "DEV1" };

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

describe("[e2ee: key-json] key IDs, keys and signatures", () => {
  it("[e2ee: key-algorithms] public keys are 32 bytes of unpadded base64", () => {
    expect(isPublicKey("3C5BFWi2Y8MaVvjM8M22DBmh24PmgR0nPvJOIArzgyI")).toBe(true);
    expect(isPublicKey("3C5BFWi2Y8MaVvjM8M22DBmh24PmgR0nPvJOIArzgyI=")).toBe(false); // padded
    expect(isPublicKey("3C5BFWi2Y8MaVvjM8M22DBmh24PmgR0nPvJOIArzgy")).toBe(false); // 31.5 bytes
    expect(isPublicKey("3C5BFWi2Y8MaVvjM8M22DBmh24PmgR0nPvJOIArzg!I")).toBe(false);
    expect(isPublicKey(42)).toBe(false);
    expect(isSignature("dSO80A01XiigH3uBiDVx/EjzaoycHcjq9lfQX0uWsqxl2giMIiSPR8a4d291W1ihKJL/a+myXS367WT6NAIcBA")).toBe(true);
    expect(isSignature("dSO80A01")).toBe(false);
  });

  it("[e2ee: key-algorithms] key IDs split at the first colon", () => {
    expect(parseKeyId("signed_curve25519:AAAAHQ")).toEqual({ algorithm: "signed_curve25519", id: "AAAAHQ" });
    expect(parseKeyId("ed25519:a:b")).toEqual({ algorithm: "ed25519", id: "a:b" });
    expect(parseKeyId(":x")).toBeNull();
    expect(parseKeyId("x:")).toBeNull();
    expect(parseKeyId("nocolon")).toBeNull();
    expect(parseKeyId(`a:${"x".repeat(300)}`)).toBeNull();
  });

  it("[appendices: signing-json] signed content ignores signatures and unsigned only", () => {
    const a = { b: 1, a: 2, signatures: { x: { y: "z" } }, unsigned: { n: 1 } };
    expect(signedContent(a)).toBe('{"a":2,"b":1}');
    expect(signedContent({ a: 2, b: 1 })).toBe(signedContent(a));
    const merged = withSignatures(a as JsonObject, { x: { k: "s" }, w: { k: "t" } });
    expect(merged.signatures).toEqual({ x: { y: "z", k: "s" }, w: { k: "t" } });
  });
});

describe("[e2ee: device-keys] /keys/upload device_keys", () => {
  it("[e2ee: device-keys] a self-signed object for the caller's device is accepted", async () => {
    const dev = await FakeDevice.create(ALICE, "DEV1");
    const parsed = parseDeviceKeys(await dev.deviceKeys(), owner);
    expect(parsed.ed25519).toBe(dev.ed25519);
    expect(parsed.curve25519).toBe(dev.curve25519);
    await expect(verifyDeviceKeys(parsed)).resolves.toBeUndefined();
  });

  it("[e2ee: device-keys] the client's unsigned field is dropped; unknown signed fields are kept", async () => {
    const dev = await FakeDevice.create(ALICE, "DEV1");
    const keys = { ...(await dev.deviceKeys({ dehydrated: true })), unsigned: { device_display_name: "spoof" } };
    const parsed = parseDeviceKeys(keys, owner);
    expect(parsed.json).not.toHaveProperty("unsigned");
    expect(parsed.json.dehydrated).toBe(true);
    await verifyDeviceKeys(parsed);
  });

  it("[e2ee: device-keys] user_id or device_id not the caller's → M_INVALID_PARAM", async () => {
    const other = await FakeDevice.create("@mallory:example.org", "DEV1");
    expect(errcodeOf(() => parseDeviceKeys(undefined, owner))).toBe("M_BAD_JSON");
    expect(errcodeOf(() => parseDeviceKeys("keys" as JsonValue, owner))).toBe("M_BAD_JSON");
    const wrongUser = await other.deviceKeys();
    expect(errcodeOf(() => parseDeviceKeys(wrongUser, owner))).toBe("M_INVALID_PARAM");
    const dev2 = await FakeDevice.create(ALICE, "DEV2");
    const wrongDevice = await dev2.deviceKeys();
    expect(errcodeOf(() => parseDeviceKeys(wrongDevice, owner))).toBe("M_INVALID_PARAM");
  });

  it("[e2ee: device-keys] key IDs must name the device; keys must be 32-byte base64", async () => {
    const dev = await FakeDevice.create(ALICE, "DEV1");
    const base = await dev.deviceKeys();
    const keys = base.keys as JsonObject;
    const variants: Array<[JsonObject, string]> = [
      [{ ...base, keys: { ...keys, "curve25519:OTHER": dev.curve25519 } }, "M_INVALID_PARAM"],
      [{ ...base, keys: { ...keys, "curve25519:DEV1": "short" } }, "M_INVALID_PARAM"],
      [{ ...base, keys: { ...keys, "ed25519:DEV1": dev.ed25519 + "=" } }, "M_INVALID_PARAM"],
      [{ ...base, keys: { "curve25519:DEV1": dev.curve25519 } }, "M_INVALID_PARAM"], // no ed25519
      [{ ...base, keys: { ...keys, "curve25519:DEV1": 5 } }, "M_BAD_JSON"],
      [{ ...base, algorithms: "m.megolm.v1.aes-sha2" }, "M_BAD_JSON"],
      [{ ...base, signatures: [] }, "M_BAD_JSON"],
      [{ ...base, keys: [] }, "M_BAD_JSON"],
    ];
    for (const [v, code] of variants) expect(errcodeOf(() => parseDeviceKeys(v, owner)), JSON.stringify(v)).toBe(code);
  });

  it("[e2ee: device-keys] signed by someone else, tampered or unsigned → M_INVALID_SIGNATURE", async () => {
    const dev = await FakeDevice.create(ALICE, "DEV1");
    const impostor = await FakeDevice.create(ALICE, "DEV1");
    // The impostor signs keys that name dev's ed25519 key.
    const forged = await impostor.sign({ ...(await dev.deviceKeys()), signatures: {} });
    expect(await rejects(verifyDeviceKeys(parseDeviceKeys(forged, owner)))).toBe("M_INVALID_SIGNATURE");
    const tampered = { ...(await dev.deviceKeys()), algorithms: ["m.olm.v1.curve25519-aes-sha2"] };
    expect(await rejects(verifyDeviceKeys(parseDeviceKeys(tampered, owner)))).toBe("M_INVALID_SIGNATURE");
    const unsigned = { ...(await dev.deviceKeys()), signatures: {} };
    expect(await rejects(verifyDeviceKeys(parseDeviceKeys(unsigned, owner)))).toBe("M_INVALID_SIGNATURE");
  });
});
