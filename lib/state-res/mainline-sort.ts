/**
 * Mainline ordering (https://spec.matrix.org/v1.19/rooms/v2/#definitions), step 3 of the
 * algorithm: the events that are not power events, ordered by how early in the chain of power
 * levels events (the mainline of the resolved power levels) their own power levels ancestry joins it.
 */
import type { EventStore } from "../auth-chain.ts";
import type { Pdu } from "../pdu.ts";

function powerLevelsAuthEvent(e: Pdu, store: EventStore): string | undefined {
  for (const a of e.auth_events) {
    const ev = store.getEvent(a);
    if (ev && ev.type === "m.room.power_levels" && ev.state_key === "") return a;
  }
  return undefined;
}

/** The mainline of P₀ as [P₀, P₁, …, Pₙ], each Pᵢ₊₁ the power levels event in the auth events of Pᵢ. */
export function mainline(powerLevels: string | undefined, store: EventStore): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (let p = powerLevels; p !== undefined && !seen.has(p); ) {
    seen.add(p);
    out.push(p);
    const ev = store.getEvent(p);
    p = ev ? powerLevelsAuthEvent(ev, store) : undefined;
  }
  return out;
}

/**
 * Mainline positions as "depth": Pₙ (the oldest) is 0 and P₀ is n, so a larger spec position i
 * is a smaller depth, and ∞ (no power levels ancestor on the mainline) is -1. Sorting by
 * ascending depth is then the spec's "greater position first". Positions of power levels events
 * met on the way are memoised, so each ancestry is walked once however many events share it.
 */
export class MainlinePositions {
  private readonly depthOf = new Map<string, number>();

  constructor(
    powerLevels: string | undefined,
    private readonly store: EventStore,
  ) {
    const line = mainline(powerLevels, store);
    line.forEach((id, i) => this.depthOf.set(id, line.length - 1 - i));
  }

  /** The depth of `e` (e₀ itself excluded: the walk starts at its power levels auth event). */
  depth(e: Pdu): number {
    const walked = new Set<string>();
    let depth = -1;
    for (let p = powerLevelsAuthEvent(e, this.store); p !== undefined; ) {
      const known = this.depthOf.get(p);
      if (known !== undefined) {
        depth = known;
        break;
      }
      if (walked.has(p)) break; // a cycle, only in a hostile graph
      walked.add(p);
      const ev = this.store.getEvent(p);
      p = ev ? powerLevelsAuthEvent(ev, this.store) : undefined;
    }
    // Every power levels event walked here is off the mainline and joins it where e does.
    for (const p of walked) this.depthOf.set(p, depth);
    return depth;
  }
}

/** Sort `events` (all in the store) by the mainline ordering based on `powerLevels`. */
export function mainlineSort(events: readonly string[], powerLevels: string | undefined, store: EventStore): string[] {
  const positions = new MainlinePositions(powerLevels, store);
  const keyed = events.flatMap((id) => {
    const ev = store.getEvent(id);
    return ev ? [{ id, depth: positions.depth(ev), ts: ev.origin_server_ts }] : [];
  });
  keyed.sort((x, y) => x.depth - y.depth || x.ts - y.ts || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
  return keyed.map((k) => k.id);
}
