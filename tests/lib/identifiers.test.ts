import { describe, expect, it } from "vitest";
import {
  isValidEventId,
  isValidLocalpart,
  isValidRoomAlias,
  isValidRoomId,
  isValidServerName,
  isValidUserId,
  parseUserId,
  serverNameOf,
} from "../../lib/identifiers.ts";
import { roomVersionRules } from "../../lib/room-versions.ts";

const fmt = (v: string) => roomVersionRules(v)!.eventFormat;
const HASH_URL = "acR1l0raoZnm60CBwAVgqbZqoO_mYU81xysh1u7XcJk";
const HASH_STD = "acR1l0raoZnm60CBwAVgqbZqoO/mYU81xysh1u7XcJk";

describe("identifier grammar", () => {
  it("[appendices: server-name] valid server names", () => {
    for (const n of ["matrix.org", "matrix.org:8888", "1.2.3.4", "1.2.3.4:1234", "[1234:5678::abcd]", "[1234:5678::abcd]:5678", "localhost", "a-b.c", "[::1]"]) {
      expect(isValidServerName(n), n).toBe(true);
    }
  });
  it("[appendices: server-name] invalid server names", () => {
    for (const n of ["", "matrix.org:", "matrix.org:123456", "matrix.org:port", "ex_ample.com", "exa mple.com", "[1234:5678::abcd", "1234:5678::abcd", "[::1]:", "é.com", "a".repeat(256)]) {
      expect(isValidServerName(n), n).toBe(false);
    }
  });
  it("[appendices: user-identifiers] new localparts: a-z 0-9 . _ = - / + only", () => {
    for (const l of ["alice", "a.b_c=d-e/f+g", "0"]) expect(isValidLocalpart(l), l).toBe(true);
    for (const l of ["", "Alice", "a b", "a:b", "ä", "a@b", "a!"]) expect(isValidLocalpart(l), l).toBe(false);
  });
  it("[appendices: user-identifiers] the full user ID is at most 255 bytes", () => {
    const server = "example.org"; // @ + localpart + : + server
    expect(isValidLocalpart("a".repeat(255 - 2 - server.length), server)).toBe(true);
    expect(isValidLocalpart("a".repeat(256 - 2 - server.length), server)).toBe(false);
    expect(isValidUserId("@" + "a".repeat(255 - 2 - server.length) + ":" + server)).toBe(true);
    expect(isValidUserId("@" + "a".repeat(256 - 2 - server.length) + ":" + server)).toBe(false);
  });
  it("[appendices: historical user IDs] remote user IDs may use printable ASCII except ':'", () => {
    expect(parseUserId("@Alice!#$%&'*~:example.org:8448")).toEqual({ localpart: "Alice!#$%&'*~", serverName: "example.org:8448" });
    expect(isValidUserId("@alice:[::1]:8448")).toBe(true);
    for (const id of ["@:example.org", "@a b:example.org", "@ä:example.org", "alice:example.org", "@alice", "@alice:", "@alice:bad_server", "@a\u0000:x"]) {
      expect(isValidUserId(id), id).toBe(false);
    }
  });
  it("serverNameOf takes everything after the first colon", () => {
    expect(serverNameOf("@a:b.c:8448")).toBe("b.c:8448");
    expect(serverNameOf("!r:[::1]:80")).toBe("[::1]:80");
    expect(serverNameOf("!" + HASH_URL)).toBeUndefined();
  });
  it("[appendices: room-ids] !opaque:server until v11", () => {
    expect(isValidRoomId("!abc:example.org", fmt("11"))).toBe(true);
    expect(isValidRoomId("!" + HASH_URL, fmt("11"))).toBe(false);
    expect(isValidRoomId("!:example.org")).toBe(false);
    expect(isValidRoomId("#abc:example.org")).toBe(false);
    expect(isValidRoomId("!abc")).toBe(false);
  });
  it("[rooms/v12: room-ids] ! + URL-safe reference hash, no server name", () => {
    expect(isValidRoomId("!" + HASH_URL, fmt("12"))).toBe(true);
    expect(isValidRoomId("!abc:example.org", fmt("12"))).toBe(false);
    expect(isValidRoomId("!" + HASH_STD, fmt("12"))).toBe(false);
    expect(isValidRoomId("!" + HASH_URL.slice(1), fmt("12"))).toBe(false);
    expect(isValidRoomId("!" + HASH_URL)).toBe(true);
  });
  it("[appendices: room-aliases] #localpart:server, ≤255 bytes", () => {
    expect(isValidRoomAlias("#room:example.org")).toBe(true);
    expect(isValidRoomAlias("#日本語 room!:example.org")).toBe(true);
    expect(isValidRoomAlias("#:example.org")).toBe(false);
    expect(isValidRoomAlias("room:example.org")).toBe(false);
    expect(isValidRoomAlias("#room")).toBe(false);
    expect(isValidRoomAlias("#" + "a".repeat(242) + ":example.org")).toBe(true);
    expect(isValidRoomAlias("#" + "a".repeat(243) + ":example.org")).toBe(false);
  });
  it("[rooms/v1: event-ids] $opaque:server", () => {
    expect(isValidEventId("$abc:example.org", fmt("1"))).toBe(true);
    expect(isValidEventId("$" + HASH_URL, fmt("2"))).toBe(false);
  });
  it("[rooms/v3: event-ids] $ + standard base64 reference hash", () => {
    expect(isValidEventId("$" + HASH_STD, fmt("3"))).toBe(true);
    expect(isValidEventId("$" + HASH_URL, fmt("3"))).toBe(false);
    expect(isValidEventId("$abc:example.org", fmt("3"))).toBe(false);
  });
  it("[rooms/v4: event-ids] $ + URL-safe reference hash", () => {
    expect(isValidEventId("$" + HASH_URL, fmt("4"))).toBe(true);
    expect(isValidEventId("$" + HASH_STD, fmt("4"))).toBe(false);
    expect(isValidEventId("$" + HASH_URL + "A", fmt("12"))).toBe(false);
  });
  it("without rules any event ID form is accepted", () => {
    for (const id of ["$abc:x.org", "$" + HASH_STD, "$" + HASH_URL]) expect(isValidEventId(id), id).toBe(true);
    for (const id of ["", "$", "abc", "$abc", "$:x.org"]) expect(isValidEventId(id), id).toBe(false);
  });
});
