/**
 * Iterative auth checks (https://spec.matrix.org/v1.19/rooms/v2/#definitions), steps 2 and 4:
 * apply each state event in order to the state if the authorization rules allow it against that
 * state; a key the rules need but the state lacks is taken from the event's own auth_events,
 * unless that auth event was rejected. Events that fail are skipped, not fatal.
 */
import { authEventTypes, authorizeEvent, type AuthResult, type AuthState } from "../auth/index.ts";
import type { EventStore } from "../auth-chain.ts";
import { stateKey, type Pdu, type StateMap } from "../pdu.ts";
import type { RoomVersionRules } from "../room-versions.ts";
import { isCreateEvent, roomCreateEventOf } from "./room-create.ts";

/** Called for every event the checks skip, so callers can log why. */
export type OnRejected = (event: Pdu, result: Exclude<AuthResult, { allowed: true }>) => void;

/**
 * The state `event` is authorized against: for the keys the auth events selection names, the
 * partial state's event; otherwise (or when the state has none) the event's own auth event of
 * that key. Rejected events are never used. Looked up lazily: the rules ask for a handful of keys.
 */
export function authStateFor(event: Pdu, state: StateMap, store: EventStore, rules: RoomVersionRules): AuthState {
  const usable = (id: string): Pdu | undefined => (store.isRejected?.(id) ? undefined : store.getEvent(id));
  const fromState = new Set(authEventTypes(event, rules).map(([type, key]) => stateKey(type, key)));
  // Since v12 the create event is never in auth_events, yet every rule starts from it.
  const impliedCreate = rules.authorization.createEventNotInAuthEvents && !isCreateEvent(event);
  return {
    get(type, key) {
      const k = stateKey(type, key);
      if (fromState.has(k)) {
        const id = state.get(k);
        const ev = id === undefined ? undefined : usable(id);
        if (ev) return ev;
      }
      if (impliedCreate && type === "m.room.create" && key === "") return roomCreateEventOf(event, store, rules);
      // Were an auth event listed twice for one key, the later entry is the one kept.
      for (let i = event.auth_events.length - 1; i >= 0; i--) {
        const ev = usable(event.auth_events[i]!);
        if (ev && ev.type === type && ev.state_key === key) return ev;
      }
      return undefined;
    },
  };
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
      result = authorizeEvent(event, authStateFor(event, state, store, rules), rules);
    } catch (e) {
      // Malformed content the auth rules cannot even read is a failed check, like any other.
      result = { allowed: false, rule: "state-res/malformed", reason: e instanceof Error ? e.message : String(e) };
    }
    if (result.allowed) state.set(stateKey(event.type, event.state_key), id);
    else onRejected?.(event, result);
  }
  return state;
}
