/**
 * Membership changes as write intents: join (public, invite, knock, restricted and
 * knock_restricted rooms), invite, leave, kick, ban, unban, knock, and profile updates of
 * joined members. https://spec.matrix.org/v1.19/client-server-api/#room-membership
 *
 * Each intent's `prepare` runs inside the write queue against the state right before the
 * event: it refuses actions the endpoint forbids beyond the auth rules (kicking someone
 * who is not in the room), turns repeats into no-ops, and picks the authorising user of
 * a restricted join. The auth rules then decide, as for every event.
 */
import { levelSyntax, readPowerLevels, roomCreators, type PowerLevels } from "../../lib/auth/index.ts";
import { forbidden } from "../../lib/errors.ts";
import { isJsonObject, type JsonObject } from "../../lib/json.ts";
import type { MemberProfile } from "../../lib/room-create.ts";
import type { RoomVersionRules } from "../../lib/room-versions.ts";
import type { Intent, Prepared, StateView } from "./write-path.ts";

const member = "m.room.member";

function membershipIn(state: StateView, userId: string): string {
  const m = state.get(member, userId)?.content.membership;
  return typeof m === "string" ? m : "leave";
}

export function joinRuleIn(state: StateView): string {
  const r = state.get("m.room.join_rules", "")?.content.join_rule;
  return typeof r === "string" ? r : "invite";
}

export function powerLevelsIn(state: StateView, rules: RoomVersionRules): PowerLevels {
  const create = state.get("m.room.create", "");
  const creators = create ? roomCreators(create, rules.authorization) : new Set<string>();
  return readPowerLevels(state.get("m.room.power_levels", ""), creators, rules.authorization, levelSyntax(rules.authorization, rules.strictCanonicalJson));
}

function withOptional(content: JsonObject, extra: Record<string, string | boolean | undefined>): JsonObject {
  for (const [k, v] of Object.entries(extra)) if (v !== undefined && v !== "") content[k] = v;
  return content;
}

/** The same membership with the same profile fields already in place: nothing to send. */
function unchanged(state: StateView, userId: string, content: JsonObject): Prepared | undefined {
  const current = state.get(member, userId);
  if (!current) return undefined;
  const c = current.content;
  const same = (k: string) => c[k] === content[k];
  if (c.membership === content.membership && same("displayname") && same("avatar_url") && content.reason === undefined) {
    return { existing: current.event_id };
  }
  return undefined;
}

export interface JoinOptions {
  userId: string;
  profile: MemberProfile;
  reason?: string;
  /** The joiner is a member of a room the join rule's `allow` names (checked by the caller). */
  meetsAllowCondition: boolean;
  /** Local joined members, candidates to authorise a restricted join. */
  localJoinedMembers: () => string[];
  rules: RoomVersionRules;
}

export function joinIntent(o: JoinOptions): Intent {
  const content = withOptional({ membership: "join" }, { ...o.profile, reason: o.reason });
  return {
    sender: o.userId,
    type: member,
    stateKey: o.userId,
    content,
    prepare(state) {
      const same = unchanged(state, o.userId, content);
      if (same) return same;
      const current = membershipIn(state, o.userId);
      const rule = joinRuleIn(state);
      const restricted =
        (rule === "restricted" && o.rules.authorization.restrictedJoinRule) ||
        (rule === "knock_restricted" && o.rules.authorization.knockRestrictedJoinRule);
      if (!restricted || current === "invite" || current === "join") return;
      if (!o.meetsAllowCondition) {
        throw forbidden(`join rule is ${rule}: you are not invited and not a member of a room it allows`);
      }
      // A local member who can invite vouches for the join (spec: restricted rooms); the
      // most powerful one, so the choice is stable.
      const levels = powerLevelsIn(state, o.rules);
      const authoriser = o
        .localJoinedMembers()
        .filter((u) => u !== o.userId && membershipIn(state, u) === "join" && levels.user(u) >= levels.invite)
        .sort((a, b) => levels.user(b) - levels.user(a) || (a < b ? -1 : 1))[0];
      if (!authoriser) throw forbidden("no member of this server can authorise a join to this restricted room");
      return { content: { ...content, join_authorised_via_users_server: authoriser } };
    },
  };
}

/** The `allow` conditions of a restricted join rule: the room IDs whose members may join. */
export function allowedRooms(state: StateView): string[] {
  const allow = state.get("m.room.join_rules", "")?.content.allow;
  if (!Array.isArray(allow)) return [];
  return allow.flatMap((a) => (isJsonObject(a) && a.type === "m.room_membership" && typeof a.room_id === "string" ? [a.room_id] : []));
}

export function inviteIntent(sender: string, target: string, reason: string | undefined, isDirect: boolean): Intent {
  const content = withOptional({ membership: "invite" }, { reason, is_direct: isDirect || undefined });
  return {
    sender,
    type: member,
    stateKey: target,
    content,
    prepare(state) {
      const current = membershipIn(state, target);
      if (current === "join") throw forbidden(`${target} is already in the room`);
      if (current === "ban") throw forbidden(`${target} is banned from the room`);
      if (current === "invite") return { existing: state.get(member, target)!.event_id };
    },
  };
}

export function leaveIntent(userId: string, reason: string | undefined): Intent {
  const content = withOptional({ membership: "leave" }, { reason });
  return {
    sender: userId,
    type: member,
    stateKey: userId,
    content,
    prepare(state) {
      const current = state.get(member, userId);
      if (!current) throw forbidden("you are not a member of this room");
      // Leaving twice is a no-op, not a new event.
      if (current.content.membership === "leave" && current.sender === userId) return { existing: current.event_id };
    },
  };
}

export type ModerationAction = "kick" | "ban" | "unban";

export function moderationIntent(action: ModerationAction, sender: string, target: string, reason: string | undefined): Intent {
  const content = withOptional({ membership: action === "ban" ? "ban" : "leave" }, { reason });
  return {
    sender,
    type: member,
    stateKey: target,
    content,
    prepare(state) {
      const current = membershipIn(state, target);
      if (action === "kick" && current !== "join" && current !== "invite" && current !== "knock") {
        throw forbidden(`${target} is not in the room`);
      }
      if (action === "unban" && current !== "ban") throw forbidden(`${target} is not banned`);
      if (action === "ban" && current === "ban") return { existing: state.get(member, target)!.event_id };
    },
  };
}

export function knockIntent(userId: string, profile: MemberProfile, reason: string | undefined): Intent {
  const content = withOptional({ membership: "knock" }, { ...profile, reason });
  return {
    sender: userId,
    type: member,
    stateKey: userId,
    content,
    prepare(state) {
      const current = membershipIn(state, userId);
      if (current === "knock") return { existing: state.get(member, userId)!.event_id };
      if (current === "join") throw forbidden("you are already in the room");
      if (current === "invite") throw forbidden("you are already invited to the room");
    },
  };
}

/** A joined member's new display name or avatar, as a new join event; a no-op for others. */
export function profileIntent(userId: string, profile: MemberProfile): Intent {
  return {
    sender: userId,
    type: member,
    stateKey: userId,
    content: {},
    prepare(state) {
      const current = state.get(member, userId);
      if (!current || current.content.membership !== "join") return { existing: current?.event_id ?? "" };
      const content: JsonObject = { ...current.content };
      delete content.displayname;
      delete content.avatar_url;
      delete content.reason;
      delete content.join_authorised_via_users_server;
      withOptional(content, { ...profile });
      return unchanged(state, userId, content) ?? { content };
    },
  };
}
