// Server-side key backup through the edge: versions, keys at all three granularities, the
// replacement rules, etag and count, wrong versions.
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { call, expectError, expectOk, register, type Session, V3 } from "./keys-helpers.ts";

const ALG = "m.megolm_backup.v1.curve25519-aes-sha2";
const key = (is_verified: boolean, first_message_index: number, forwarded_count: number, tag: string): JsonObject => ({
  is_verified,
  first_message_index,
  forwarded_count,
  session_data: { ephemeral: tag, ciphertext: tag, mac: tag },
});

async function newVersion(s: Session, auth_data: JsonObject = { public_key: "pk" }): Promise<string> {
  return expectOk(await call("POST", `${V3}/room_keys/version`, { algorithm: ALG, auth_data }, s.token)).version as string;
}

const K = (path: string, version: string) => `${V3}/room_keys/keys${path}?version=${encodeURIComponent(version)}`;

describe("[cs: server-side-key-backups] /room_keys/version", () => {
  it("[cs: room_keys/version] create, get latest and by version, update auth_data, delete", async () => {
    const s = await register();
    expectError(await call("GET", `${V3}/room_keys/version`, undefined, s.token), 404, "M_NOT_FOUND");
    const v1 = await newVersion(s);
    const v2 = await newVersion(s, { public_key: "pk2" });
    expect(Number(v2)).toBeGreaterThan(Number(v1));
    expect(expectOk(await call("GET", `${V3}/room_keys/version`, undefined, s.token))).toEqual({
      version: v2,
      algorithm: ALG,
      auth_data: { public_key: "pk2" },
      etag: "0",
      count: 0,
    });
    expect(expectOk(await call("GET", `${V3}/room_keys/version/${v1}`, undefined, s.token)).auth_data).toEqual({ public_key: "pk" });
    expectOk(await call("PUT", `${V3}/room_keys/version/${v1}`, { algorithm: ALG, auth_data: { public_key: "pk", signatures: {} }, version: v1 }, s.token));
    expect(expectOk(await call("GET", `${V3}/room_keys/version/${v1}`, undefined, s.token)).auth_data).toEqual({ public_key: "pk", signatures: {} });
    expectError(await call("PUT", `${V3}/room_keys/version/${v1}`, { algorithm: "other", auth_data: {} }, s.token), 400, "M_INVALID_PARAM");
    expectError(await call("PUT", `${V3}/room_keys/version/${v1}`, { algorithm: ALG, auth_data: {}, version: v2 }, s.token), 400, "M_INVALID_PARAM");
    expectError(await call("PUT", `${V3}/room_keys/version/999`, { algorithm: ALG, auth_data: {} }, s.token), 404, "M_NOT_FOUND");
    // Deleting the latest makes the previous one current; deleting again succeeds; never-created is 404.
    expectOk(await call("DELETE", `${V3}/room_keys/version/${v2}`, undefined, s.token));
    expectOk(await call("DELETE", `${V3}/room_keys/version/${v2}`, undefined, s.token));
    expectError(await call("GET", `${V3}/room_keys/version/${v2}`, undefined, s.token), 404, "M_NOT_FOUND");
    expect(expectOk(await call("GET", `${V3}/room_keys/version`, undefined, s.token)).version).toBe(v1);
    expectError(await call("DELETE", `${V3}/room_keys/version/12345`, undefined, s.token), 404, "M_NOT_FOUND");
    expectError(await call("GET", `${V3}/room_keys/version/notanumber`, undefined, s.token), 404, "M_NOT_FOUND");
    // A version number is never reused.
    expect(Number(await newVersion(s))).toBeGreaterThan(Number(v2));
  });

  it("[cs: room_keys/version] bad bodies", async () => {
    const s = await register();
    expectError(await call("POST", `${V3}/room_keys/version`, { auth_data: {} }, s.token), 400, "M_MISSING_PARAM");
    expectError(await call("POST", `${V3}/room_keys/version`, { algorithm: ALG, auth_data: "x" }, s.token), 400, "M_BAD_JSON");
    expectError(await call("POST", `${V3}/room_keys/version`, { algorithm: ALG }, s.token), 400, "M_MISSING_PARAM");
  });

  it("[cs: room_keys/version] backups are per user", async () => {
    const a = await register();
    const b = await register();
    await newVersion(a);
    expectError(await call("GET", `${V3}/room_keys/version`, undefined, b.token), 404, "M_NOT_FOUND");
  });
});

describe("[cs: server-side-key-backups] /room_keys/keys", () => {
  it("[cs: room_keys/keys] all three granularities with etag and count", async () => {
    const s = await register();
    const v = await newVersion(s);
    const a = expectOk(await call("PUT", K("/!r1:x/s1", v), key(false, 0, 0, "a"), s.token));
    expect(a).toEqual({ etag: "1", count: 1 });
    const b = expectOk(await call("PUT", K("/!r1:x", v), { sessions: { s2: key(false, 0, 0, "b"), s3: key(false, 0, 0, "c") } }, s.token));
    expect(b).toEqual({ etag: "2", count: 3 });
    const c = expectOk(await call("PUT", K("", v), { rooms: { "!r2:x": { sessions: { s1: key(true, 0, 0, "d") } } } }, s.token));
    expect(c).toEqual({ etag: "3", count: 4 });
    expect(expectOk(await call("GET", K("/!r1:x/s1", v), undefined, s.token))).toEqual(key(false, 0, 0, "a"));
    expect(Object.keys(expectOk(await call("GET", K("/!r1:x", v), undefined, s.token)).sessions as JsonObject).sort()).toEqual(["s1", "s2", "s3"]);
    expect(expectOk(await call("GET", K("/!nokeys:x", v), undefined, s.token))).toEqual({ sessions: {} });
    const all = expectOk(await call("GET", K("", v), undefined, s.token));
    expect(Object.keys(all.rooms as JsonObject).sort()).toEqual(["!r1:x", "!r2:x"]);
    expectError(await call("GET", K("/!r1:x/nope", v), undefined, s.token), 404, "M_NOT_FOUND");
    const info = expectOk(await call("GET", `${V3}/room_keys/version`, undefined, s.token));
    expect({ etag: info.etag, count: info.count }).toEqual({ etag: "3", count: 4 });
    // Deletes at each granularity.
    expect(expectOk(await call("DELETE", K("/!r1:x/s1", v), undefined, s.token))).toEqual({ etag: "4", count: 3 });
    expect(expectOk(await call("DELETE", K("/!r1:x", v), undefined, s.token))).toEqual({ etag: "5", count: 1 });
    expect(expectOk(await call("DELETE", K("/!r1:x", v), undefined, s.token))).toEqual({ etag: "5", count: 1 }); // nothing left there
    expect(expectOk(await call("DELETE", K("", v), undefined, s.token))).toEqual({ etag: "6", count: 0 });
  });

  it("[cs: room_keys/keys] replacement rules: verified, then lower first_message_index, then lower forwarded_count", async () => {
    const s = await register();
    const v = await newVersion(s);
    const path = K("/!r:x/sess", v);
    const put = async (k: JsonObject) => expectOk(await call("PUT", path, k, s.token));
    const get = async () => expectOk(await call("GET", path, undefined, s.token));
    await put(key(false, 5, 2, "first"));
    // Unverified with a better index replaces an unverified one.
    await put(key(false, 3, 9, "better-index"));
    expect(await get()).toEqual(key(false, 3, 9, "better-index"));
    // A worse index does not replace, and the etag does not move.
    const before = await put(key(false, 4, 0, "worse-index"));
    expect(await get()).toEqual(key(false, 3, 9, "better-index"));
    expect((await put(key(false, 4, 0, "worse-index"))).etag).toBe(before.etag);
    // Same index: lower forwarded_count wins.
    await put(key(false, 3, 1, "fewer-forwards"));
    expect(await get()).toEqual(key(false, 3, 1, "fewer-forwards"));
    // Verified beats unverified whatever the index...
    await put(key(true, 50, 50, "verified"));
    expect(await get()).toEqual(key(true, 50, 50, "verified"));
    // ...and an unverified key never replaces a verified one.
    await put(key(false, 0, 0, "unverified-best"));
    expect(await get()).toEqual(key(true, 50, 50, "verified"));
    // All equal: the stored key stays.
    await put(key(true, 50, 50, "tie"));
    expect(await get()).toEqual(key(true, 50, 50, "verified"));
    expect((await get()).session_data).toEqual({ ephemeral: "verified", ciphertext: "verified", mac: "verified" });
  });

  it("[cs: room_keys/keys] uploads to a version that is not current are 403 M_WRONG_ROOM_KEYS_VERSION with current_version", async () => {
    const s = await register();
    expectError(await call("PUT", K("/!r:x/s", "1"), key(false, 0, 0, "x"), s.token), 404, "M_NOT_FOUND");
    const v1 = await newVersion(s);
    const v2 = await newVersion(s);
    const r = await call("PUT", K("/!r:x/s", v1), key(false, 0, 0, "x"), s.token);
    expectError(r, 403, "M_WRONG_ROOM_KEYS_VERSION");
    expect(r.body.current_version).toBe(v2);
    expectError(await call("PUT", K("/!r:x/s", "garbage"), key(false, 0, 0, "x"), s.token), 403, "M_WRONG_ROOM_KEYS_VERSION");
    // Reading an older live version is allowed; a deleted one is 404.
    expect(expectOk(await call("GET", K("", v1), undefined, s.token))).toEqual({ rooms: {} });
    expectOk(await call("DELETE", `${V3}/room_keys/version/${v1}`, undefined, s.token));
    expectError(await call("GET", K("", v1), undefined, s.token), 404, "M_NOT_FOUND");
    expectError(await call("GET", `${V3}/room_keys/keys`, undefined, s.token), 400, "M_MISSING_PARAM");
  });

  it("[cs: room_keys/keys] deleting a version deletes its keys", async () => {
    const s = await register();
    const v = await newVersion(s);
    expectOk(await call("PUT", K("/!r:x/s", v), key(false, 0, 0, "x"), s.token));
    expectOk(await call("DELETE", `${V3}/room_keys/version/${v}`, undefined, s.token));
    const v2 = await newVersion(s);
    expect(expectOk(await call("GET", K("", v2), undefined, s.token))).toEqual({ rooms: {} });
  });

  it("[cs: room_keys/keys] bad key data is refused and nothing is stored", async () => {
    const s = await register();
    const v = await newVersion(s);
    const bad = { rooms: { "!r:x": { sessions: { good: key(false, 0, 0, "g"), bad: { ...key(false, 0, 0, "b"), first_message_index: -1 } } } } };
    expectError(await call("PUT", K("", v), bad, s.token), 400, "M_BAD_JSON");
    expectError(await call("PUT", K("/!r:x/s", v), { session_data: {} }, s.token), 400, "M_BAD_JSON");
    expect(expectOk(await call("GET", `${V3}/room_keys/version`, undefined, s.token)).count).toBe(0);
  });
});
