/**
 * Which state events a /sync room entry carries in `state`.
 * https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3sync (rooms.join.state)
 * https://spec.matrix.org/v1.19/client-server-api/#lazy-loading-room-members
 *
 * `state` is the state at the start of the timeline: all of it when the client has
 * nothing (initial sync, newly joined, full_state), otherwise what differs from the state
 * the client had at `since`. With lazy-loading members, member events are left out of a
 * full state except the ones the client needs: the senders of the timeline, the user
 * itself, and the heroes; member changes in the gap of a limited sync are always sent.
 */
import type { StateFilter } from "../filter.ts";
import { typeMatches } from "../event-filter.ts";
import { splitStateKey, stateKey, type StateMap } from "../pdu.ts";

export interface StateDeltaInput {
  /** State the client has (at `since`); undefined when it has none (initial / newly joined). */
  before: StateMap | undefined;
  /** State at the start of the timeline. */
  atStart: StateMap;
  fullState: boolean;
  filter: StateFilter;
  userId: string;
  /** Senders of the returned timeline events. */
  timelineSenders: Iterable<string>;
  /** Users whose member events go with the summary's heroes. */
  heroes: Iterable<string>;
  /** Event IDs in the returned timeline (their state need not be sent twice). */
  timelineEventIds: ReadonlySet<string>;
}

export interface StateDeltaOutput {
  /** Event IDs the client must get. */
  state: string[];
  /**
   * Member event IDs lazy-loading adds for timeline senders and heroes: the caller may
   * drop those it already sent this client (unless include_redundant_members).
   */
  lazyMembers: string[];
}

const MEMBER = "m.room.member";

/** Whether a state key passes the filter's `types`/`not_types` (senders need the event: the caller checks). */
export function stateTypeAllowed(filter: StateFilter, type: string): boolean {
  if (filter.not_types?.some((p) => typeMatches(p, type))) return false;
  if (filter.types && !filter.types.some((p) => typeMatches(p, type))) return false;
  return true;
}

export function stateDelta(i: StateDeltaInput): StateDeltaOutput {
  const lazy = i.filter.lazy_load_members === true;
  const whole = i.before === undefined || i.fullState;
  const state: string[] = [];
  const sent = new Set<string>();
  const add = (id: string) => {
    if (!sent.has(id) && !i.timelineEventIds.has(id)) {
      sent.add(id);
      state.push(id);
    }
  };
  for (const [k, id] of i.atStart) {
    const [type, key] = splitStateKey(k);
    if (!stateTypeAllowed(i.filter, type)) continue;
    if (whole) {
      // A full state under lazy loading keeps only the members asked for below, and the
      // user's own (the spec requires it when they join or ask for full state).
      if (lazy && type === MEMBER && key !== i.userId) continue;
      add(id);
    } else if (i.before!.get(k) !== id) {
      add(id);
    }
  }
  const lazyMembers: string[] = [];
  if (lazy && stateTypeAllowed(i.filter, MEMBER)) {
    const wanted = new Set<string>([...i.timelineSenders, ...i.heroes]);
    for (const userId of wanted) {
      const id = i.atStart.get(stateKey(MEMBER, userId));
      if (id !== undefined && !sent.has(id) && !i.timelineEventIds.has(id)) lazyMembers.push(id);
    }
  }
  return { state, lazyMembers };
}

