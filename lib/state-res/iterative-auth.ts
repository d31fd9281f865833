/**
 * Iterative auth checks (https://spec.matrix.org/v1.19/rooms/v2/#definitions), steps 2 and 4:
 * apply each state event in order to the state if the authorization rules allow it against that
 * state; a key the rules need but the state lacks is taken from the event's own auth_events,
 * unless that auth event was rejected. Events that fail are skipped, not fatal.
 */
import { authEventTypes, authorizeEvent, type AuthResult } from "../auth/index.ts";
import type { EventStore } from "../auth-chain.ts";
import { stateKey, type Pdu, type StateKey, type StateMap } from "../pdu.ts";
import type { RoomVersionRules } from "../room-versions.ts";
import { isCreateEvent, roomCreateEventOf } from "./room-create.ts";

/** Called for every event the checks skip, so callers can log why. */
export type OnRejected = (event: Pdu, result: Exclude<AuthResult, { allowed: true }>) => void;

/** The state `event` is authorized against: its auth events, overridden by `state` for the keys the rules use. */
export function authStateFor(event: Pdu, state: StateMap, store: EventStore, rules: RoomVersionRules): Map<StateKey, Pdu> {
  const usable = (id: string): Pdu | undefined => (store.isRejected?.(id) ? undefined : store.getEvent(id));
  const auth = new Map<StateKey, Pdu>();
  for (const id of event.auth_events) {
    const ev = usable(id);
    if (ev && ev.state_key !== undefined) auth.set(stateKey(ev.type, ev.state_key), ev);
  }
  // Since v12 the create event is never in auth_events, yet every rule starts from it.
  if (rules.authorization.createEventNotInAuthEvents && !isCreateEvent(event)) {
    const create = roomCreateEventOf(event, store, rules);
    if (create) auth.set(stateKey("m.room.create", ""), create);
  }
  for (const [type, key] of authEventTypes(event, rules)) {
    const k = stateKey(type, key);
    const id = state.get(k);
    const ev = id === undefined ? undefined : usable(id);
    if (ev) auth.set(k, ev);
  }
  return auth;
}

/** Returns a new state map; `initial` is not modified. */
export function iterativeAuthChecks(
  events: readonly string[],
  initial: StateMap,
  store: EventStore,
  rules: RoomVersionRules,
  onRejected?: OnRejected,
): StateMap {
  const state: StateMap = new Map(initial);
  for (const id of events) {
    const event = store.getEvent(id);
    if (!event || event.state_key === undefined) continue;
    let result: AuthResult;
    try {
      const auth = authStateFor(event, state, store, rules);
      result = authorizeEvent(event, { get: (type, key) => auth.get(stateKey(type, key)) }, rules);
    } catch (e) {
      // Malformed content the auth rules cannot even read is a failed check, like any other.
      result = { allowed: false, rule: "state-res/malformed", reason: e instanceof Error ? e.message : String(e) };
    }
    if (result.allowed) state.set(stateKey(event.type, event.state_key), id);
    else onRejected?.(event, result);
  }
  return state;
}
