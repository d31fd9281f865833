/**
 * Rule 5.4.1 (v12 numbering; 5.3.1 in v1–v5, 4.3.1 in v6+): an invite that redeems a
 * third-party invite.
 * https://spec.matrix.org/v1.19/rooms/v1/#authorization-rules,
 * https://spec.matrix.org/v1.19/client-server-api/#mroomthird_party_invite
 */
// The authorization rules are synchronous (state resolution runs them in a loop over
// synchronous fetchers), and WebCrypto's Ed25519 is async only, so this one signature
// check uses tweetnacl's synchronous verify.
import nacl from "tweetnacl";
import { decodeBase64, decodeBase64Url } from "../base64.ts";
import { canonicalJsonBytes } from "../canonical-json.ts";
import type { JsonObject, JsonValue } from "../json.ts";
import { isJsonObject } from "../json.ts";
import type { Pdu } from "../pdu.ts";
import { ALLOW, membershipOf, reject, type AuthResult, type AuthState } from "./types.ts";

/** Identity servers publish keys in standard unpadded base64; accept URL-safe too. */
function decodeKey(s: JsonValue | undefined): Uint8Array | undefined {
  if (typeof s !== "string") return undefined;
  for (const decode of [decodeBase64, decodeBase64Url]) {
    try {
      return decode(s);
    } catch {
      // try the other alphabet
    }
  }
  return undefined;
}

/** The public keys of an m.room.third_party_invite: `public_key` and each `public_keys[].public_key`. */
function publicKeys(content: JsonObject): Uint8Array[] {
  const raw: (JsonValue | undefined)[] = [content.public_key];
  if (Array.isArray(content.public_keys)) {
    for (const k of content.public_keys) if (isJsonObject(k)) raw.push(k.public_key);
  }
  return raw.map(decodeKey).filter((k): k is Uint8Array => k?.length === nacl.sign.publicKeyLength);
}

/** Whether any signature in `signed.signatures` verifies under any of the keys. */
function anySignatureMatches(signed: JsonObject, keys: Uint8Array[]): boolean {
  if (keys.length === 0 || !isJsonObject(signed.signatures)) return false;
  const { signatures, unsigned: _unsigned, ...body } = signed;
  let message: Uint8Array;
  try {
    message = canonicalJsonBytes(body);
  } catch {
    return false; // not canonical-JSON-encodable, so nothing can have signed it
  }
  for (const byKey of Object.values(signatures)) {
    if (!isJsonObject(byKey)) continue;
    for (const sig of Object.values(byKey)) {
      const bytes = decodeKey(sig);
      if (bytes?.length !== nacl.sign.signatureLength) continue;
      if (keys.some((key) => nacl.sign.detached.verify(message, bytes, key))) return true;
    }
  }
  return false;
}

/** Rule 5.4.1: `event` is an invite whose content has `third_party_invite`. */
export function checkThirdPartyInvite(event: Pdu, targetUser: string, state: AuthState): AuthResult {
  // 1
  if (membershipOf(state, targetUser) === "ban") return reject("member/third_party_invite/banned", `${targetUser} is banned`);
  const tpi = event.content.third_party_invite;
  // 2
  const signed = isJsonObject(tpi) ? tpi.signed : undefined;
  if (!isJsonObject(signed)) return reject("member/third_party_invite/signed", "third_party_invite has no signed object");
  // 3
  const { mxid, token } = signed;
  if (typeof mxid !== "string" || typeof token !== "string") {
    return reject("member/third_party_invite/signed", "signed has no mxid and token");
  }
  // 4
  if (mxid !== targetUser) return reject("member/third_party_invite/mxid", "signed.mxid does not match the state_key");
  // 5
  const invite = state.get("m.room.third_party_invite", token);
  if (!invite) return reject("member/third_party_invite/token", "no m.room.third_party_invite with this token in the room state");
  // 6
  if (invite.sender !== event.sender) {
    return reject("member/third_party_invite/sender", "the sender is not the sender of the m.room.third_party_invite");
  }
  // 7, 8
  if (anySignatureMatches(signed, publicKeys(invite.content))) return ALLOW;
  return reject("member/third_party_invite/signature", "no signature in signed matches a public key of the m.room.third_party_invite");
}
