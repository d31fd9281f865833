/**
 * The sender's power level "when looking at their respective auth_events", the first tie-break
 * of the reverse topological power ordering (https://spec.matrix.org/v1.19/rooms/v2/#definitions).
 * Read from the m.room.power_levels event among the event's auth events, with the same reading
 * rules (defaults, creators, pre-v10 string levels) as the authorization rules use.
 */
import { levelSyntax, readPowerLevels, roomCreators, type PowerLevels } from "../auth/index.ts";
import type { EventStore } from "../auth-chain.ts";
import type { Pdu } from "../pdu.ts";
import type { RoomVersionRules } from "../room-versions.ts";
import { roomCreateEventOf } from "./room-create.ts";

/** Per-resolution cache: the creators are the same for every event of the room. */
export interface SenderPowerContext {
  store: EventStore;
  rules: RoomVersionRules;
  creators?: ReadonlySet<string>;
  /** Parsed power levels per power levels event ID ("" for none): thousands of events share a few. */
  levels?: Map<string, PowerLevels>;
}

export function senderPowerLevel(event: Pdu, ctx: SenderPowerContext): number {
  const { rules, store } = ctx;
  let powerLevels: Pdu | undefined;
  for (const a of event.auth_events) {
    const ev = store.getEvent(a);
    if (ev && ev.type === "m.room.power_levels" && ev.state_key === "") {
      powerLevels = ev;
      break;
    }
  }
  if (!ctx.creators) {
    const create = roomCreateEventOf(event, store, rules);
    if (create) ctx.creators = roomCreators(create, rules.authorization);
  }
  const cache = (ctx.levels ??= new Map());
  const cacheKey = powerLevels?.event_id ?? "";
  let levels = cache.get(cacheKey);
  if (!levels) {
    const syntax = levelSyntax(rules.authorization, rules.strictCanonicalJson);
    levels = readPowerLevels(powerLevels, ctx.creators ?? new Set(), rules.authorization, syntax);
    cache.set(cacheKey, levels);
  }
  return levels.user(event.sender);
}
