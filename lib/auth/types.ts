/**
 * The shapes shared by the authorization rule files, and small readers of room state
 * that several rules use (membership, join rule).
 */
import type { Pdu } from "../pdu.ts";

/** The state an event is checked against: for a new event, the room state before it (or the event's auth events); in state resolution, the partially resolved state. */
export interface AuthState {
  get(type: string, stateKey: string): Pdu | undefined;
}

export type AuthResult = { allowed: true } | { allowed: false; rule: string; reason: string };

export const ALLOW: AuthResult = Object.freeze({ allowed: true });

export function reject(rule: string, reason: string): AuthResult {
  return { allowed: false, rule, reason };
}

/** A user's current membership; no member event means `leave` (never joined or invited). */
export function membershipOf(state: AuthState, userId: string): string {
  const m = state.get("m.room.member", userId)?.content.membership;
  return typeof m === "string" ? m : "leave";
}

/**
 * The room's join rule. With no m.room.join_rules event the room behaves as `invite`
 * (the m.room.join_rules default; Synapse and ruma agree), so invitees can still join.
 */
export function joinRuleOf(state: AuthState): string | undefined {
  const ev = state.get("m.room.join_rules", "");
  if (!ev) return "invite";
  const rule = ev.content.join_rule;
  return typeof rule === "string" ? rule : undefined;
}
