/**
 * Room versions as data. This is the only file that knows room version strings:
 * every other module takes the rule group it needs (`rules.authorization`, …).
 * Each version is the previous one plus its changes, as in the spec's room
 * version pages (https://spec.matrix.org/v1.19/rooms/).
 */

/** How an event ID is formed. */
export type EventIdFormat =
  /** v1–v2: `$opaque:server`, carried in the PDU's `event_id` field. */
  | "server-scoped"
  /** v3: `$` + standard unpadded base64 of the reference hash. */
  | "reference-hash-base64"
  /** since v4: `$` + URL-safe unpadded base64 of the reference hash. */
  | "reference-hash-urlsafe";

export interface EventFormatRules {
  eventIdFormat: EventIdFormat;
  /** v1–v2: prev_events/auth_events are `[event_id, {sha256}]` pairs; since v3 plain IDs. */
  referencesCarryHashes: boolean;
  /** since v12: the room ID is `!` + URL-safe reference hash of the create event, and the create event has no room_id. */
  roomIdIsCreateEventHash: boolean;
}

export interface AuthorizationRules {
  /** v1–v5: m.room.aliases events are authorized by the sender's server only (no power check). */
  specialCaseAliasesAuth: boolean;
  /** v1–v2: auth rule 11, m.room.redaction needs the redact level or an event ID on the redacted event's server (since v3 checked when applying the redaction instead). */
  redactionEventIdDomainRule: boolean;
  /** since v6: `notifications` power levels are checked on power level changes. */
  limitNotificationsPowerLevels: boolean;
  /** since v7: the `knock` membership and join rule. */
  knocking: boolean;
  /** since v8: the `restricted` join rule with `join_authorised_via_users_server`. */
  restrictedJoinRule: boolean;
  /** since v10: the `knock_restricted` join rule. */
  knockRestrictedJoinRule: boolean;
  /** since v10: power levels must be integers (no strings, no floats). */
  integerPowerLevels: boolean;
  /** since v11: the creator is the create event's sender; `content.creator` is ignored. */
  useRoomCreateSender: boolean;
  /** since v12: the create event's sender and `additional_creators` have infinite power and cannot appear in power levels `users`. */
  creatorsHaveInfinitePower: boolean;
  /** since v12: the create event is implied by the room ID and never listed in auth_events. */
  createEventNotInAuthEvents: boolean;
}

export interface RedactionRules {
  /** v1–v5: keep `aliases` in m.room.aliases content. */
  keepAliasesContent: boolean;
  /** since v8: keep `allow` in m.room.join_rules content. */
  keepJoinRulesAllow: boolean;
  /** since v9: keep `join_authorised_via_users_server` in m.room.member content. */
  keepJoinAuthorisedViaUsersServer: boolean;
  /** since v11: keep all m.room.create content (not just `creator`). */
  keepAllCreateContent: boolean;
  /** since v11: keep `invite` in m.room.power_levels content. */
  keepPowerLevelsInvite: boolean;
  /** since v11: keep `signed` under `third_party_invite` in m.room.member content. */
  keepThirdPartyInviteSigned: boolean;
  /** since v11: keep `redacts` in m.room.redaction content (it moved there from the top level). */
  keepRedactsInContent: boolean;
  /** since v11: the top-level `origin`, `membership` and `prev_state` keys are no longer kept. */
  dropOriginMembershipPrevState: boolean;
}

export type StateResolutionAlgorithm =
  /** room v1 (not implemented: Parley does not create or resolve v1 rooms). */
  | "v1"
  /** rooms v2–v11. */
  | "v2"
  /** since v12 (MSC4297): power-event pass starts from the empty set; conflicted state subgraph. */
  | "v2.1";

export interface SignatureRules {
  /** v1–v2: the server named in the event ID must also have signed the event. */
  checkEventIdServer: boolean;
  /** since v5: a signing key must be valid (valid_until_ts) at the event's origin_server_ts. */
  enforceKeyValidity: boolean;
}

export interface RoomVersionRules {
  readonly id: string;
  readonly stable: boolean;
  readonly eventFormat: Readonly<EventFormatRules>;
  readonly authorization: Readonly<AuthorizationRules>;
  readonly redaction: Readonly<RedactionRules>;
  readonly stateResolution: StateResolutionAlgorithm;
  readonly signatures: Readonly<SignatureRules>;
  /** since v6: canonical JSON is enforced (integers in ±(2^53−1), no floats). */
  readonly strictCanonicalJson: boolean;
}

type Changes = {
  [K in keyof Omit<RoomVersionRules, "id">]?: RoomVersionRules[K] extends object ? Partial<RoomVersionRules[K]> : RoomVersionRules[K];
};

function derive(base: RoomVersionRules, id: string, changes: Changes): RoomVersionRules {
  return deepFreeze({
    id,
    stable: changes.stable ?? base.stable,
    eventFormat: { ...base.eventFormat, ...changes.eventFormat },
    authorization: { ...base.authorization, ...changes.authorization },
    redaction: { ...base.redaction, ...changes.redaction },
    stateResolution: changes.stateResolution ?? base.stateResolution,
    signatures: { ...base.signatures, ...changes.signatures },
    strictCanonicalJson: changes.strictCanonicalJson ?? base.strictCanonicalJson,
  });
}

function deepFreeze<T extends object>(o: T): T {
  for (const v of Object.values(o)) if (v && typeof v === "object") Object.freeze(v);
  return Object.freeze(o);
}

const V1: RoomVersionRules = deepFreeze({
  id: "1",
  stable: true,
  eventFormat: { eventIdFormat: "server-scoped", referencesCarryHashes: true, roomIdIsCreateEventHash: false },
  authorization: {
    specialCaseAliasesAuth: true,
    redactionEventIdDomainRule: true,
    limitNotificationsPowerLevels: false,
    knocking: false,
    restrictedJoinRule: false,
    knockRestrictedJoinRule: false,
    integerPowerLevels: false,
    useRoomCreateSender: false,
    creatorsHaveInfinitePower: false,
    createEventNotInAuthEvents: false,
  },
  redaction: {
    keepAliasesContent: true,
    keepJoinRulesAllow: false,
    keepJoinAuthorisedViaUsersServer: false,
    keepAllCreateContent: false,
    keepPowerLevelsInvite: false,
    keepThirdPartyInviteSigned: false,
    keepRedactsInContent: false,
    dropOriginMembershipPrevState: false,
  },
  stateResolution: "v1",
  signatures: { checkEventIdServer: true, enforceKeyValidity: false },
  strictCanonicalJson: false,
});
const V2 = derive(V1, "2", { stateResolution: "v2" });
const V3 = derive(V2, "3", {
  eventFormat: { eventIdFormat: "reference-hash-base64", referencesCarryHashes: false },
  authorization: { redactionEventIdDomainRule: false },
  signatures: { checkEventIdServer: false },
});
const V4 = derive(V3, "4", { eventFormat: { eventIdFormat: "reference-hash-urlsafe" } });
const V5 = derive(V4, "5", { signatures: { enforceKeyValidity: true } });
const V6 = derive(V5, "6", {
  authorization: { specialCaseAliasesAuth: false, limitNotificationsPowerLevels: true },
  redaction: { keepAliasesContent: false },
  strictCanonicalJson: true,
});
const V7 = derive(V6, "7", { authorization: { knocking: true } });
const V8 = derive(V7, "8", { authorization: { restrictedJoinRule: true }, redaction: { keepJoinRulesAllow: true } });
const V9 = derive(V8, "9", { redaction: { keepJoinAuthorisedViaUsersServer: true } });
const V10 = derive(V9, "10", { authorization: { knockRestrictedJoinRule: true, integerPowerLevels: true } });
const V11 = derive(V10, "11", {
  authorization: { useRoomCreateSender: true },
  redaction: {
    keepAllCreateContent: true,
    keepPowerLevelsInvite: true,
    keepThirdPartyInviteSigned: true,
    keepRedactsInContent: true,
    dropOriginMembershipPrevState: true,
  },
});
const V12 = derive(V11, "12", {
  eventFormat: { roomIdIsCreateEventHash: true },
  authorization: { creatorsHaveInfinitePower: true, createEventNotInAuthEvents: true },
  stateResolution: "v2.1",
});

export const ROOM_VERSIONS: ReadonlyMap<string, RoomVersionRules> = new Map(
  [V1, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11, V12].map((v) => [v.id, v]),
);

/** The version /createRoom uses when the client names none. */
export const DEFAULT_ROOM_VERSION = "12";

/** Rules for a room version string, or undefined when Parley does not know it. */
export function roomVersionRules(id: string): RoomVersionRules | undefined {
  return ROOM_VERSIONS.get(id);
}

/** Versions new rooms may be created in: those whose state resolution Parley implements. */
export function creatableRoomVersions(): RoomVersionRules[] {
  return [...ROOM_VERSIONS.values()].filter((v) => v.stateResolution !== "v1");
}
