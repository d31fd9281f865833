import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeBase64, encodeBase64 } from "../../lib/base64.ts";
import { computeContentHash, computeReferenceHash, sha256 } from "../../lib/hashes.ts";
import type { JsonObject } from "../../lib/json.ts";
import { roomVersionRules } from "../../lib/room-versions.ts";

const vectors = JSON.parse(readFileSync(new URL("../../../shared/vectors/spec-appendix.json", import.meta.url), "utf8")) as {
  event_signing_room_v1_redaction: { input: JsonObject; output: JsonObject }[];
};
const v1 = roomVersionRules("1")!;
const v11 = roomVersionRules("11")!;

describe("hashes", () => {
  it("sha256 of bytes and strings (FIPS 180-2 'abc')", async () => {
    const abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    expect(Buffer.from(await sha256("abc")).toString("hex")).toBe(abc);
    expect(Buffer.from(await sha256(new TextEncoder().encode("abc"))).toString("hex")).toBe(abc);
  });
  for (const [i, v] of vectors.event_signing_room_v1_redaction.entries()) {
    it(`[appendices: signing events] content hash of spec event ${i}`, async () => {
      const expected = (v.output.hashes as JsonObject).sha256;
      expect(await computeContentHash(v.input)).toBe(expected);
      // unsigned, signatures and hashes do not take part
      expect(await computeContentHash(v.output)).toBe(expected);
      expect(await computeContentHash({ ...v.input, unsigned: { age: 5 } })).toBe(expected);
      // anything else does
      expect(await computeContentHash({ ...v.input, origin_server_ts: 1 })).not.toBe(expected);
    });
  }
  it("[server-server: reference hash] is sha256 of the redacted event minus signatures and unsigned", async () => {
    const ev = vectors.event_signing_room_v1_redaction[1]!.output;
    const ref = await computeReferenceHash(ev, v1);
    // redacted v1 m.room.message: content emptied, unsigned and signatures gone, hashes kept
    const manual = '{"content":{},"event_id":"$0:domain","hashes":{"sha256":"onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"},"origin":"domain","origin_server_ts":1000000,"room_id":"!r:domain","sender":"@u:domain","type":"m.room.message"}';
    expect(encodeBase64(ref)).toBe(encodeBase64(await sha256(manual)));
    // content that redaction removes does not change the reference hash
    expect(await computeReferenceHash({ ...ev, content: { body: "other" } }, v1)).toEqual(ref);
    // signatures do not either
    expect(await computeReferenceHash({ ...ev, signatures: {} }, v1)).toEqual(ref);
    // `origin` counts in v1 but not in v11
    expect(await computeReferenceHash({ ...ev, origin: "x" }, v1)).not.toEqual(ref);
    expect(await computeReferenceHash({ ...ev, origin: "x" }, v11)).toEqual(await computeReferenceHash(ev, v11));
    expect(decodeBase64(encodeBase64(ref)).length).toBe(32);
  });
});
