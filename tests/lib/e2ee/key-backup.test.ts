import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type KeyBackupData,
  parseBackupVersionBody,
  parseKeyBackupData,
  parseRoomKeysUpload,
  roomKeysResponse,
  shouldReplaceBackupKey,
} from "../../../lib/e2ee/key-backup.ts";
import type { JsonObject } from "../../../lib/json.ts";

const key = (is_verified: boolean, first_message_index: number, forwarded_count: number, tag = "x"): KeyBackupData => ({
  is_verified,
  first_message_index,
  forwarded_count,
  session_data: { tag },
});

describe("[e2ee: key-backup] replacement rules", () => {
  it("[cs: server-side-key-backups] nothing stored: the upload is kept", () => {
    expect(shouldReplaceBackupKey(null, key(false, 9, 9))).toBe(true);
  });

  it("[cs: server-side-key-backups] different is_verified: keep the verified key", () => {
    expect(shouldReplaceBackupKey(key(false, 0, 0), key(true, 50, 50))).toBe(true);
    expect(shouldReplaceBackupKey(key(true, 50, 50), key(false, 0, 0))).toBe(false);
  });

  it("[cs: server-side-key-backups] same is_verified: keep the lower first_message_index", () => {
    expect(shouldReplaceBackupKey(key(true, 10, 0), key(true, 5, 9))).toBe(true);
    expect(shouldReplaceBackupKey(key(true, 5, 9), key(true, 10, 0))).toBe(false);
  });

  it("[cs: server-side-key-backups] same is_verified and index: keep the lower forwarded_count; all equal keeps the stored key", () => {
    expect(shouldReplaceBackupKey(key(false, 3, 2), key(false, 3, 1))).toBe(true);
    expect(shouldReplaceBackupKey(key(false, 3, 1), key(false, 3, 2))).toBe(false);
    expect(shouldReplaceBackupKey(key(false, 3, 1, "a"), key(false, 3, 1, "b"))).toBe(false);
  });

  it("[cs: server-side-key-backups] the rule is a strict order: uploading both in either order keeps the same key", () => {
    const arb = fc.record({ v: fc.boolean(), i: fc.nat(5), f: fc.nat(5) }).map((r) => key(r.v, r.i, r.f, JSON.stringify(r)));
    fc.assert(
      fc.property(arb, arb, (a, b) => {
        const keepAfter = (first: KeyBackupData, second: KeyBackupData) => (shouldReplaceBackupKey(first, second) ? second : first);
        const x = keepAfter(a, b);
        const y = keepAfter(b, a);
        // Either the same key wins, or the two are tied on every rule (then the first stored stays).
        const tied = a.is_verified === b.is_verified && a.first_message_index === b.first_message_index && a.forwarded_count === b.forwarded_count;
        expect(tied || x === y).toBe(true);
      }),
    );
  });
});

describe("[e2ee: key-backup] bodies", () => {
  it("[cs: server-side-key-backups] KeyBackupData is validated and extra fields dropped", () => {
    expect(parseKeyBackupData({ first_message_index: 1, forwarded_count: 0, is_verified: false, session_data: { a: 1 }, extra: 1 })).toEqual({
      first_message_index: 1,
      forwarded_count: 0,
      is_verified: false,
      session_data: { a: 1 },
    });
    const bad: JsonObject[] = [
      { first_message_index: -1, forwarded_count: 0, is_verified: false, session_data: {} },
      { first_message_index: 1.5, forwarded_count: 0, is_verified: false, session_data: {} },
      { first_message_index: 1, forwarded_count: 0, is_verified: "no", session_data: {} },
      { first_message_index: 1, forwarded_count: 0, is_verified: false, session_data: "x" },
      { first_message_index: 1, is_verified: false, session_data: {} },
    ];
    for (const b of bad) expect(() => parseKeyBackupData(b), JSON.stringify(b)).toThrow(expect.objectContaining({ errcode: "M_BAD_JSON" }));
  });

  it("[cs: server-side-key-backups] uploads at all three granularities flatten to room keys", () => {
    const d = { first_message_index: 0, forwarded_count: 0, is_verified: true, session_data: {} };
    expect(parseRoomKeysUpload(d, { level: "session", roomId: "!r:x", sessionId: "s" })).toEqual([{ roomId: "!r:x", sessionId: "s", data: d }]);
    expect(parseRoomKeysUpload({ sessions: { s1: d, s2: d } }, { level: "room", roomId: "!r:x" }).map((k) => k.sessionId)).toEqual(["s1", "s2"]);
    const all = parseRoomKeysUpload({ rooms: { "!a:x": { sessions: { s: d } }, "!b:x": { sessions: { t: d } } } }, { level: "all" });
    expect(all.map((k) => `${k.roomId}/${k.sessionId}`)).toEqual(["!a:x/s", "!b:x/t"]);
    expect(() => parseRoomKeysUpload({ rooms: { "!a:x": { sessions: [] } } }, { level: "all" })).toThrow(expect.objectContaining({ errcode: "M_BAD_JSON" }));
    expect(() => parseRoomKeysUpload({}, { level: "all" })).toThrow(expect.objectContaining({ errcode: "M_BAD_JSON" }));
  });

  it("[cs: server-side-key-backups] responses at all three granularities", () => {
    const d = key(true, 0, 0);
    const keys = [
      { roomId: "!a:x", sessionId: "s", data: d },
      { roomId: "!b:x", sessionId: "t", data: d },
    ];
    expect(roomKeysResponse(keys, { level: "all" })).toEqual({ rooms: { "!a:x": { sessions: { s: d } }, "!b:x": { sessions: { t: d } } } });
    expect(roomKeysResponse(keys.slice(0, 1), { level: "room", roomId: "!a:x" })).toEqual({ sessions: { s: d } });
    expect(roomKeysResponse([], { level: "room", roomId: "!a:x" })).toEqual({ sessions: {} });
    expect(roomKeysResponse(keys.slice(0, 1), { level: "session", roomId: "!a:x", sessionId: "s" })).toEqual(d);
    expect(() => roomKeysResponse([], { level: "session", roomId: "!a:x", sessionId: "s" })).toThrow(expect.objectContaining({ errcode: "M_NOT_FOUND" }));
  });

  it("[cs: server-side-key-backups] version bodies need algorithm and auth_data", () => {
    expect(parseBackupVersionBody({ algorithm: "m.megolm_backup.v1.curve25519-aes-sha2", auth_data: { public_key: "x" } })).toEqual({
      algorithm: "m.megolm_backup.v1.curve25519-aes-sha2",
      auth_data: { public_key: "x" },
    });
    expect(() => parseBackupVersionBody({ auth_data: {} })).toThrow(expect.objectContaining({ errcode: "M_MISSING_PARAM" }));
    expect(() => parseBackupVersionBody({ algorithm: "a" })).toThrow(expect.objectContaining({ errcode: "M_MISSING_PARAM" }));
    expect(() => parseBackupVersionBody({ algorithm: 1, auth_data: {} })).toThrow(expect.objectContaining({ errcode: "M_BAD_JSON" }));
    expect(() => parseBackupVersionBody({ algorithm: "a", auth_data: [] })).toThrow(expect.objectContaining({ errcode: "M_BAD_JSON" }));
    expect(parseBackupVersionBody({ algorithm: "a", auth_data: {}, version: "3" }).version).toBe("3");
  });
});
