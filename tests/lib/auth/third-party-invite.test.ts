/**
 * Rule "if membership is invite and content has third_party_invite" (rooms/v12 rule 5.4.1),
 * with signatures made here from a fixed seed (the gomatrixserverlib vectors cover one key).
 */
import nacl from "tweetnacl";
import { describe, expect, it } from "vitest";
import { authorizeEvent } from "../../../lib/auth/index.ts";
import { encodeBase64, encodeBase64Url } from "../../../lib/base64.ts";
import { canonicalJson } from "../../../lib/canonical-json.ts";
import type { JsonObject } from "../../../lib/json.ts";
import type { Pdu } from "../../../lib/pdu.ts";
import { roomVersionRules } from "../../../lib/room-versions.ts";
import { stateOf, toPdu } from "./load.ts";

const key = nacl.sign.keyPair.fromSeed(new Uint8Array(32).fill(7));
const otherKey = nacl.sign.keyPair.fromSeed(new Uint8Array(32).fill(9));

function signed(body: JsonObject, secretKey = key.secretKey): JsonObject {
  const sig = nacl.sign.detached(new TextEncoder().encode(canonicalJson(body)), secretKey);
  return { ...body, signatures: { "id.example": { "ed25519:0": encodeBase64(sig) } } };
}

const rules = roomVersionRules("11")!;
const tpiEvent = (content: JsonObject, sender = "@alice:a") =>
  toPdu({ type: "m.room.third_party_invite", state_key: "tok", sender, event_id: "$tpi", room_id: "!r:a", content });
const baseState = (tpiContent: JsonObject, extra: Pdu[] = []) => {
  const events = [
    toPdu({ type: "m.room.create", state_key: "", sender: "@alice:a", event_id: "$create", room_id: "!r:a", content: {} }),
    toPdu({ type: "m.room.member", state_key: "@alice:a", sender: "@alice:a", event_id: "$am", room_id: "!r:a", content: { membership: "join" } }),
    tpiEvent(tpiContent),
    ...extra,
  ];
  return stateOf(events.map((e) => [e.type, e.state_key ?? "", e]));
};
const invite = (tpi: JsonObject, sender = "@alice:a", stateKey = "@bob:b") =>
  toPdu({ type: "m.room.member", state_key: stateKey, sender, event_id: "$inv", room_id: "!r:a", content: { membership: "invite", third_party_invite: tpi } });

const keys = { public_key: encodeBase64(key.publicKey), key_validity_url: "https://id.example/isvalid" };
const goodSigned = signed({ mxid: "@bob:b", token: "tok", sender: "@alice:a" });

describe("[auth: member/third_party_invite] third-party invites", () => {
  it("[auth: member/third_party_invite] a signature by the invite's public_key allows the invite", () => {
    expect(authorizeEvent(invite({ display_name: "b", signed: goodSigned }), baseState(keys), rules)).toEqual({ allowed: true });
  });

  it("[auth: member/third_party_invite] keys in public_keys count too, in URL-safe base64 as well", () => {
    const content = { public_key: "not a key", public_keys: [{ public_key: encodeBase64(otherKey.publicKey) }, { public_key: encodeBase64Url(key.publicKey) }] };
    expect(authorizeEvent(invite({ display_name: "b", signed: goodSigned }), baseState(content), rules)).toEqual({ allowed: true });
  });

  it("[auth: member/third_party_invite/signature] a signature by another key", () => {
    const bad = signed({ mxid: "@bob:b", token: "tok", sender: "@alice:a" }, otherKey.secretKey);
    expect(authorizeEvent(invite({ signed: bad }), baseState(keys), rules)).toMatchObject({ allowed: false, rule: "member/third_party_invite/signature" });
  });

  it("[auth: member/third_party_invite/signature] signed content changed after signing", () => {
    const tampered = { ...goodSigned, sender: "@mallory:a" };
    expect(authorizeEvent(invite({ signed: tampered }), baseState(keys), rules)).toMatchObject({ allowed: false, rule: "member/third_party_invite/signature" });
  });

  it("[auth: member/third_party_invite/sender] the invite's sender must have sent the m.room.third_party_invite", () => {
    const state = baseState(keys, [toPdu({ type: "m.room.member", state_key: "@carol:a", sender: "@carol:a", event_id: "$cm", room_id: "!r:a", content: { membership: "join" } })]);
    expect(authorizeEvent(invite({ signed: goodSigned }, "@carol:a"), state, rules)).toMatchObject({ allowed: false, rule: "member/third_party_invite/sender" });
  });

  it("[auth: member/third_party_invite/banned] a banned target cannot be invited", () => {
    const ban = toPdu({ type: "m.room.member", state_key: "@bob:b", sender: "@alice:a", event_id: "$ban", room_id: "!r:a", content: { membership: "ban" } });
    expect(authorizeEvent(invite({ signed: goodSigned }), baseState(keys, [ban]), rules)).toMatchObject({ allowed: false, rule: "member/third_party_invite/banned" });
  });

  it("[auth: member/third_party_invite/signed] no signed, or signed without token", () => {
    expect(authorizeEvent(invite({ display_name: "b" }), baseState(keys), rules)).toMatchObject({ allowed: false, rule: "member/third_party_invite/signed" });
    const noToken = signed({ mxid: "@bob:b" });
    expect(authorizeEvent(invite({ signed: noToken }), baseState(keys), rules)).toMatchObject({ allowed: false, rule: "member/third_party_invite/signed" });
  });

  it("[auth: member/third_party_invite/mxid] signed.mxid must be the invited user", () => {
    expect(authorizeEvent(invite({ signed: goodSigned }, "@alice:a", "@carol:b"), baseState(keys), rules)).toMatchObject({ allowed: false, rule: "member/third_party_invite/mxid" });
  });

  it("[auth: third_party_invite/power] sending m.room.third_party_invite needs the invite level", () => {
    const pl = toPdu({ type: "m.room.power_levels", state_key: "", sender: "@alice:a", event_id: "$pl", room_id: "!r:a", content: { users: { "@alice:a": 100 }, invite: 50 } });
    const bob = toPdu({ type: "m.room.member", state_key: "@bob:a", sender: "@bob:a", event_id: "$bm", room_id: "!r:a", content: { membership: "join" } });
    const state = baseState(keys, [pl, bob]);
    const send = (sender: string) => toPdu({ type: "m.room.third_party_invite", state_key: "tok2", sender, event_id: "$t2", room_id: "!r:a", content: keys });
    expect(authorizeEvent(send("@bob:a"), state, rules)).toMatchObject({ allowed: false, rule: "third_party_invite/power" });
    expect(authorizeEvent(send("@alice:a"), state, rules)).toEqual({ allowed: true });
  });
});
