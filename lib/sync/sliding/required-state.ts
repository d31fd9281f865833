/**
 * Which state a sliding sync room result carries (MSC4186 `required_state`): patterns
 * with wildcards (`*`), the syncing user (`$ME`), and lazily loaded members (`$LAZY`:
 * the senders of timeline events and the targets of member events in it).
 * https://github.com/matrix-org/matrix-spec-proposals/pull/4186 ("RequiredStateRequest", "Lazy loaded memberships")
 */
import type { RequiredState, StatePattern } from "./request.ts";

export const ME = "$ME";

function matches(p: StatePattern, userId: string, type: string, key: string): boolean {
  if (p.type !== undefined && p.type !== type) return false;
  if (p.stateKey === undefined) return true;
  return (p.stateKey === ME ? userId : p.stateKey) === key;
}

/** Whether the config asks for the state entry (type, key) by its patterns (lazy members aside). */
export function stateWanted(rs: RequiredState, userId: string, type: string, key: string): boolean {
  if (!rs.include.some((p) => matches(p, userId, type, key))) return false;
  return !rs.exclude.some((p) => matches(p, userId, type, key));
}

/** The users whose member events lazy loading sends for these timeline events. */
export function lazyMembersFor(events: ReadonlyArray<{ type: string; sender: string; state_key?: string }>): Set<string> {
  const out = new Set<string>();
  for (const e of events) {
    out.add(e.sender);
    if (e.type === "m.room.member" && e.state_key !== undefined) out.add(e.state_key);
  }
  return out;
}

export interface StateSelection {
  /** State keys (type, key) to send, in the order given. */
  keys: Array<[type: string, key: string]>;
  /** Users whose member events were added by lazy loading (the connection remembers them). */
  lazy: string[];
}

/**
 * The state entries to send: on an initial send every current entry the patterns want;
 * on an incremental one only the entries that changed. Lazy members are added for the
 * timeline's senders that the connection has not been sent yet (`lazySent`) — and, in a
 * timeline that is not limited, every member change (MSC4186: the client may then keep
 * its member cache; after a gap it must drop it).
 */
export function selectState(p: {
  rs: RequiredState;
  userId: string;
  /** Every (type, key) in the current state. */
  current: ReadonlyArray<[string, string]>;
  /** Entries that changed since the last send; undefined: an initial send. */
  changed?: ReadonlyArray<[string, string]>;
  timelineUsers: ReadonlySet<string>;
  lazySent: ReadonlySet<string>;
  limited: boolean;
}): StateSelection {
  const candidates = p.changed ?? p.current;
  const keys: Array<[string, string]> = [];
  const picked = new Set<string>();
  const add = (type: string, key: string) => {
    const k = `${type}\u0000${key}`;
    if (picked.has(k)) return false;
    picked.add(k);
    keys.push([type, key]);
    return true;
  };
  for (const [type, key] of candidates) if (stateWanted(p.rs, p.userId, type, key)) add(type, key);
  const lazy: string[] = [];
  if (p.rs.lazyMembers) {
    const present = new Set(p.current.filter(([t]) => t === "m.room.member").map(([, k]) => k));
    for (const u of p.timelineUsers) {
      if (!present.has(u)) continue;
      const changedNow = p.changed?.some(([t, k]) => t === "m.room.member" && k === u) ?? false;
      if (p.lazySent.has(u) && !changedNow) continue;
      add("m.room.member", u);
      lazy.push(u);
    }
    if (p.changed && !p.limited) {
      for (const [t, k] of p.changed) {
        if (t !== "m.room.member" || lazy.includes(k)) continue;
        add(t, k);
        lazy.push(k);
      }
    }
  }
  return { keys, lazy };
}
