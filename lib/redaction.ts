/**
 * The redaction algorithm: what survives when an event is redacted, and the form that is
 * signed and reference-hashed. https://spec.matrix.org/v1.19/rooms/v1/#redactions,
 * changes in v6 (aliases), v8 (join_rules allow), v9 (join_authorised_via_users_server),
 * v11 (https://spec.matrix.org/v1.19/rooms/v11/#redactions).
 */
import { isJsonObject, type JsonObject, type JsonValue } from "./json.ts";
import type { RedactionRules, RoomVersionRules } from "./room-versions.ts";

/** Top-level keys kept in every room version. */
const KEPT_TOP_LEVEL = [
  "event_id",
  "type",
  "room_id",
  "sender",
  "state_key",
  "content",
  "hashes",
  "signatures",
  "depth",
  "prev_events",
  "auth_events",
  "origin_server_ts",
] as const;
/** Top-level keys kept only up to v10. */
const KEPT_TOP_LEVEL_UNTIL_V11 = ["prev_state", "origin", "membership"] as const;

/** Accepts the redaction rule group, or a whole room version's rules for convenience. */
export function redactionRulesOf(rules: RedactionRules | RoomVersionRules): RedactionRules {
  return "redaction" in rules ? rules.redaction : rules;
}

/** The content keys an event type keeps (undefined: none; "all": every key). */
function keptContentKeys(type: JsonValue | undefined, r: RedactionRules): readonly string[] | "all" | undefined {
  switch (type) {
    case "m.room.member":
      return r.keepJoinAuthorisedViaUsersServer ? ["membership", "join_authorised_via_users_server"] : ["membership"];
    case "m.room.create":
      return r.keepAllCreateContent ? "all" : ["creator"];
    case "m.room.join_rules":
      return r.keepJoinRulesAllow ? ["join_rule", "allow"] : ["join_rule"];
    case "m.room.power_levels": {
      const keys = ["ban", "events", "events_default", "kick", "redact", "state_default", "users", "users_default"];
      if (r.keepPowerLevelsInvite) keys.push("invite");
      return keys;
    }
    case "m.room.aliases":
      return r.keepAliasesContent ? ["aliases"] : undefined;
    case "m.room.history_visibility":
      return ["history_visibility"];
    case "m.room.redaction":
      return r.keepRedactsInContent ? ["redacts"] : undefined;
    default:
      return undefined;
  }
}

const hasOwn = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

function copyKey(from: JsonObject, to: JsonObject, key: string): void {
  // defineProperty so a `__proto__` key stays data, never a prototype change.
  if (hasOwn(from, key)) Object.defineProperty(to, key, { value: from[key], writable: true, enumerable: true, configurable: true });
}

function redactContent(type: JsonValue | undefined, content: JsonValue | undefined, r: RedactionRules): JsonObject {
  const out: JsonObject = {};
  if (!isJsonObject(content)) return out;
  const kept = keptContentKeys(type, r);
  if (kept === "all") {
    for (const k of Object.keys(content)) copyKey(content, out, k);
    return out;
  }
  if (kept) for (const k of kept) copyKey(content, out, k);
  if (type === "m.room.member" && r.keepThirdPartyInviteSigned) {
    const tpi = content.third_party_invite;
    if (isJsonObject(tpi) && hasOwn(tpi, "signed")) out.third_party_invite = { signed: tpi.signed! };
  }
  return out;
}

/**
 * The redacted form of an event (wire JSON): only the kept top-level keys, content
 * stripped per type. `unsigned` is dropped entirely. Does not modify its input; the
 * values kept are shared with it, not copied.
 */
export function redactEvent(eventJson: JsonObject, rules: RedactionRules | RoomVersionRules): JsonObject {
  const r = redactionRulesOf(rules);
  const out: JsonObject = {};
  for (const k of KEPT_TOP_LEVEL) copyKey(eventJson, out, k);
  if (!r.dropOriginMembershipPrevState) for (const k of KEPT_TOP_LEVEL_UNTIL_V11) copyKey(eventJson, out, k);
  if (hasOwn(eventJson, "content")) out.content = redactContent(eventJson.type, eventJson.content, r);
  return out;
}
