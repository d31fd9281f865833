/**
 * Auth chains (https://spec.matrix.org/v1.19/rooms/v2/#definitions): the auth chain of an
 * event is every event reachable through `auth_events` links, not including the event itself.
 *
 * Everything here is iterative (explicit stacks), so a 10,000-event chain cannot overflow the
 * call stack, and works over a synchronous store the room actor backs with its SQLite.
 */
import type { Pdu } from "./pdu.ts";

/** The room's events as state resolution and auth-chain walks see them. */
export interface EventStore {
  getEvent(id: string): Pdu | undefined;
  /**
   * Optional precomputed auth chain of an event, not including the event itself (e.g. from an
   * auth-chain index table). When given it must be exact: walks take it instead of descending.
   */
  authChain?(id: string): Iterable<string> | undefined;
  /** Optional: whether the event was rejected on receipt (its auth chain did not authorize it). */
  isRejected?(id: string): boolean;
}

/** The auth chain of one event. Unknown auth events are included (they are referenced) but not descended into. */
export function authChain(id: string, store: EventStore): Set<string> {
  const start = store.getEvent(id);
  return start ? authChainOfEvents(start.auth_events, store, true) : new Set();
}

/**
 * The union of the auth chains of `ids`. With `includeStart` the starting IDs themselves are
 * members (use it when `ids` are already auth events); otherwise only what they reach.
 */
export function authChainOfEvents(ids: Iterable<string>, store: EventStore, includeStart = false): Set<string> {
  const seen = new Set<string>();
  const stack: string[] = [];
  const visit = (id: string) => {
    // Cached chains are complete, so an event whose chain came from the cache needs no walk.
    const cached = store.authChain?.(id);
    if (cached) {
      for (const a of cached) seen.add(a);
      return;
    }
    const ev = store.getEvent(id);
    if (!ev) return;
    for (const a of ev.auth_events) {
      if (!seen.has(a)) {
        seen.add(a);
        stack.push(a);
      }
    }
  };
  for (const id of ids) {
    if (includeStart) {
      if (seen.has(id)) continue;
      seen.add(id);
      stack.push(id);
    } else {
      visit(id);
    }
  }
  while (stack.length > 0) visit(stack.pop()!);
  return seen;
}

/**
 * A store wrapper that memoises the auth chains asked for. A new chain is walked, but the walk
 * stops at any event whose chain is already known, so chains sharing ancestry are cheap. Only
 * requested events are kept (memoising every intermediate event would cost O(n²) memory on a
 * long linear chain); a long-lived actor should prefer an auth-chain index table.
 */
export class MemoisedAuthChains implements EventStore {
  private readonly chains = new Map<string, ReadonlySet<string>>();
  // What a walk sees: the events, and only the chains already known (never a nested walk).
  private readonly known: EventStore;

  constructor(private readonly store: EventStore) {
    this.known = {
      getEvent: (id) => store.getEvent(id),
      authChain: (id) => this.chains.get(id) ?? store.authChain?.(id),
    };
  }

  getEvent(id: string): Pdu | undefined {
    return this.store.getEvent(id);
  }

  isRejected(id: string): boolean {
    return this.store.isRejected?.(id) ?? false;
  }

  authChain(id: string): ReadonlySet<string> | undefined {
    const hit = this.chains.get(id);
    if (hit) return hit;
    const ev = this.store.getEvent(id);
    if (!ev) return undefined;
    const chain = authChainOfEvents(ev.auth_events, this.known, true);
    this.chains.set(id, chain);
    return chain;
  }
}
