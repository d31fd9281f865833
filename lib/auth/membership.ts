/**
 * Rule 5 (v1–v5, v12) / 4 (v6–v11): m.room.member events — join, invite, leave, ban, knock.
 * Numbering in comments follows v12 (5.3 join, 5.4 invite, 5.5 leave, 5.6 ban, 5.7 knock).
 * https://spec.matrix.org/v1.19/rooms/v1/#authorization-rules, v7 (knock), v8 (restricted),
 * v10 (knock_restricted), v11 (creator is the create sender).
 */
import type { Pdu } from "../pdu.ts";
import type { AuthorizationRules } from "../room-versions.ts";
import type { PowerLevels } from "./power-levels.ts";
import { checkThirdPartyInvite } from "./third-party-invite.ts";
import { ALLOW, joinRuleOf, membershipOf, reject, type AuthResult, type AuthState } from "./types.ts";

export interface MemberContext {
  state: AuthState;
  create: Pdu;
  levels: PowerLevels;
  auth: AuthorizationRules;
}

export function checkMemberEvent(event: Pdu, ctx: MemberContext): AuthResult {
  // 5.1
  const target = event.state_key;
  if (target === undefined) return reject("member/state_key", "m.room.member has no state_key");
  const membership = event.content.membership;
  if (membership === undefined) return reject("member/membership", "content has no membership");
  // 5.2 (since v8, join_authorised_via_users_server signed by that user's server) is a
  // signature check: the caller verifies signatures before authorization.
  switch (membership) {
    case "join":
      return checkJoin(event, target, ctx);
    case "invite":
      return checkInvite(event, target, ctx);
    case "leave":
      return checkLeave(event, target, ctx);
    case "ban":
      return checkBan(event, target, ctx);
    case "knock":
      // Since v7; before that `knock` is an unknown membership.
      if (ctx.auth.knocking) return checkKnock(event, target, ctx);
  }
  // 5.8
  return reject("member/unknown", `unknown membership ${JSON.stringify(membership)}`);
}

/** 5.3.1's creator: `content.creator` before v11, the create event's sender since (not v12's additional creators). */
function firstJoinCreator(create: Pdu, auth: AuthorizationRules): unknown {
  return auth.useRoomCreateSender ? create.sender : create.content.creator;
}

function checkJoin(event: Pdu, target: string, { state, create, levels, auth }: MemberContext): AuthResult {
  // 5.3.1: the creator's own join right after the create event. gomatrixserverlib's
  // vectors (and 5.3.2 just below) also require the sender to be that creator.
  if (
    event.prev_events.length === 1 &&
    event.prev_events[0] === create.event_id &&
    target === firstJoinCreator(create, auth) &&
    event.sender === target
  ) {
    return ALLOW;
  }
  // 5.3.2
  if (event.sender !== target) return reject("member/join/sender", "the sender does not match the state_key");
  const current = membershipOf(state, target);
  // 5.3.3
  if (current === "ban") return reject("member/join/banned", `${target} is banned`);
  const joinRule = joinRuleOf(state);
  const invitedOrJoined = current === "invite" || current === "join";
  // 5.3.4: `knock` rooms are invite-only for joins (since v7).
  if (joinRule === "invite" || (auth.knocking && joinRule === "knock")) {
    if (invitedOrJoined) return ALLOW;
    return reject("member/join/not-invited", `join rule is ${joinRule} and ${target} is not invited`);
  }
  // 5.3.5: restricted (since v8), knock_restricted (since v10).
  if ((auth.restrictedJoinRule && joinRule === "restricted") || (auth.knockRestrictedJoinRule && joinRule === "knock_restricted")) {
    if (invitedOrJoined) return ALLOW;
    const via = event.content.join_authorised_via_users_server;
    if (typeof via !== "string") {
      return reject("member/join/not-invited", `join rule is ${joinRule}: not invited and no join_authorised_via_users_server`);
    }
    if (membershipOf(state, via) !== "join") {
      return reject("member/join/authoriser", `join_authorised_via_users_server ${via} is not joined to the room`);
    }
    if (levels.user(via) < levels.invite) {
      return reject("member/join/authoriser", `join_authorised_via_users_server ${via} cannot invite users`);
    }
    return ALLOW;
  }
  // 5.3.6, 5.3.7
  if (joinRule === "public") return ALLOW;
  return reject("member/join/join_rule", `join rule ${JSON.stringify(joinRule)} does not allow ${target} to join`);
}

function checkInvite(event: Pdu, target: string, { state, levels }: MemberContext): AuthResult {
  // 5.4.1
  if (event.content.third_party_invite !== undefined) return checkThirdPartyInvite(event, target, state);
  // 5.4.2
  if (membershipOf(state, event.sender) !== "join") return reject("member/invite/sender-not-joined", "the sender is not joined to the room");
  // 5.4.3
  const current = membershipOf(state, target);
  if (current === "join" || current === "ban") return reject("member/invite/target", `${target} is ${current === "join" ? "already joined" : "banned"}`);
  // 5.4.4, 5.4.5
  if (levels.user(event.sender) >= levels.invite) return ALLOW;
  return reject("member/invite/power", "the sender's power level is below the invite level");
}

function checkLeave(event: Pdu, target: string, { state, levels, auth }: MemberContext): AuthResult {
  const current = membershipOf(state, target);
  // 5.5.1: leaving, or rejecting an invite (and since v7 withdrawing a knock).
  if (event.sender === target) {
    if (current === "invite" || current === "join" || (auth.knocking && current === "knock")) return ALLOW;
    return reject("member/leave/self", `${target} cannot leave with membership ${current}`);
  }
  // 5.5.2
  if (membershipOf(state, event.sender) !== "join") return reject("member/leave/sender-not-joined", "the sender is not joined to the room");
  const senderLevel = levels.user(event.sender);
  // 5.5.3: unbanning needs the ban level as well as the kick level.
  if (current === "ban" && senderLevel < levels.ban) return reject("member/leave/unban-power", "the sender's power level is below the ban level");
  // 5.5.4, 5.5.5
  if (senderLevel >= levels.kick && levels.user(target) < senderLevel) return ALLOW;
  return reject("member/leave/kick-power", "the sender needs the kick level and a power level above the target's");
}

function checkBan(event: Pdu, target: string, { state, levels }: MemberContext): AuthResult {
  // 5.6.1
  if (membershipOf(state, event.sender) !== "join") return reject("member/ban/sender-not-joined", "the sender is not joined to the room");
  // 5.6.2, 5.6.3
  const senderLevel = levels.user(event.sender);
  if (senderLevel >= levels.ban && levels.user(target) < senderLevel) return ALLOW;
  return reject("member/ban/power", "the sender needs the ban level and a power level above the target's");
}

function checkKnock(event: Pdu, target: string, { state, auth }: MemberContext): AuthResult {
  // 5.7.1: `knock`, and since v10 `knock_restricted`.
  const joinRule = joinRuleOf(state);
  if (!(joinRule === "knock" || (auth.knockRestrictedJoinRule && joinRule === "knock_restricted"))) {
    return reject("member/knock/join_rule", `join rule ${JSON.stringify(joinRule)} does not allow knocking`);
  }
  // 5.7.2
  if (event.sender !== target) return reject("member/knock/sender", "the sender does not match the state_key");
  // 5.7.3, 5.7.4
  const current = membershipOf(state, target);
  if (current !== "ban" && current !== "invite" && current !== "join") return ALLOW;
  return reject("member/knock/membership", `${target} cannot knock with membership ${current}`);
}
