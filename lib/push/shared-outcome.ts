/**
 * Push-rule outcomes shared between readers. The default rules of two users differ only
 * by their own user ID (`.m.rule.is_user_mention`, `.m.rule.invite_for_me`), so for an
 * event that does not contain a reader's user ID at all, their rules give the same answer
 * as the same rules with the ID replaced by a placeholder no event contains — the
 * "neutral" ruleset, shared by every reader with the same customisations. Readers whose
 * rules use `contains_display_name` (a per-reader name) are never shared.
 *
 * Pure; the outcome cache is a bounded module-level map (one per isolate), which only
 * saves work when several readers' actors share an isolate — locally, all of them.
 */
import { fingerprint } from "../fingerprint.ts";
import type { JsonObject } from "../json.ts";
import type { PushContext } from "./conditions.ts";
import { evaluatePushRules } from "./evaluate.ts";
import type { Ruleset } from "./types.ts";

/** Stands in for the reader's user ID: not a valid user ID, so no event contains it. */
const PLACEHOLDER = "@\u0001:\u0001";
const MAX_OUTCOMES = 65_536;
const MAX_RULESETS = 256;

export interface NeutralRules {
  /** Fingerprint of the neutral ruleset (FNV-1a of its text). */
  key: string;
  ruleset: Ruleset;
}

const rulesets = new Map<string, NeutralRules | null>();
const outcomes = new Map<string, { notify: boolean; highlight: boolean }>();

/** The neutral form of `{ global: ruleset }` JSON text for `userId`; null when it cannot be shared. */
export function neutralRules(rulesText: string, userId: string): NeutralRules | null {
  const cacheKey = `${userId}\u0000${rulesText}`;
  const hit = rulesets.get(cacheKey);
  if (hit !== undefined) return hit;
  let out: NeutralRules | null = null;
  // A historical user ID with a character JSON escapes could hide in an event's text: not shared.
  if (!rulesText.includes('"contains_display_name"') && JSON.stringify(userId).length === userId.length + 2) {
    const escaped = JSON.stringify(userId).slice(1, -1);
    const text = rulesText.split(escaped).join(JSON.stringify(PLACEHOLDER).slice(1, -1));
    out = { key: fingerprint(text), ruleset: (JSON.parse(text) as { global: Ruleset }).global };
  }
  if (rulesets.size >= MAX_RULESETS) rulesets.delete(rulesets.keys().next().value!);
  rulesets.set(cacheKey, out);
  return out;
}

/**
 * The outcome of `event` (identified by room and stream, and given as its JSON text) for
 * the reader in `ctx`: shared when the event never mentions the reader's ID, else
 * evaluated with the reader's own rules.
 */
export function readerOutcome(
  p: { roomId: string; stream: number; json: string; event: JsonObject },
  ctx: PushContext,
  own: Ruleset,
  neutral: NeutralRules | null,
): { notify: boolean; highlight: boolean } {
  if (!neutral || p.json.includes(ctx.userId)) {
    const r = evaluatePushRules(p.event, ctx, own);
    return { notify: r.notify, highlight: r.highlight };
  }
  const levels = ctx.notificationPowerLevels ? JSON.stringify(ctx.notificationPowerLevels) : "";
  const key = `${p.roomId}\u0000${p.stream}\u0000${neutral.key}\u0000${ctx.roomMemberCount}\u0000${ctx.senderPowerLevel}\u0000${levels}`;
  let out = outcomes.get(key);
  if (!out) {
    const r = evaluatePushRules(p.event, { ...ctx, userId: PLACEHOLDER, displayName: null }, neutral.ruleset);
    out = { notify: r.notify, highlight: r.highlight };
    if (outcomes.size >= MAX_OUTCOMES) outcomes.delete(outcomes.keys().next().value!);
    outcomes.set(key, out);
  }
  return out;
}
