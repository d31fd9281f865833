/**
 * Rule 11 of room versions 1–2: m.room.redaction.
 * https://spec.matrix.org/v1.19/rooms/v1/#authorization-rules
 * Since v3 the auth rules treat redactions like any other event (their `events` /
 * `events_default` level); whether a redaction is *applied* (redact level, or same sender
 * server) is decided when both events are known: https://spec.matrix.org/v1.19/rooms/v3/#handling-redactions
 */
import type { Pdu } from "../pdu.ts";
import { domainOf } from "./ids.ts";
import type { PowerLevels } from "./power-levels.ts";
import { ALLOW, reject, type AuthResult } from "./types.ts";

/** v1–v2 rule 11, for an m.room.redaction (`redacts` is top-level in these versions). */
export function checkRedactionV1(event: Pdu, levels: PowerLevels): AuthResult {
  // Without a well-formed `redacts` there is no redacted event to judge (gomatrixserverlib
  // rejects these before the power check too).
  const redacts = event.redacts;
  if (redacts === undefined) return reject("redaction/redacts", "m.room.redaction has no redacts");
  if (typeof redacts !== "string" || !redacts.startsWith("$")) return reject("redaction/redacts", "redacts is not an event ID");
  // 11.1
  if (levels.user(event.sender) >= levels.redact) return ALLOW;
  // 11.2: in v1–v2 event IDs carry the server that created the event.
  const target = domainOf(redacts);
  if (target !== undefined && target === domainOf(event.event_id)) return ALLOW;
  // 11.3
  return reject("redaction/sender-domain", "the sender is below the redact level and the redacted event is from another server");
}
