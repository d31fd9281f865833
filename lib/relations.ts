/**
 * Event relationships and the aggregations servers bundle into `unsigned["m.relations"]`.
 * https://spec.matrix.org/v1.19/client-server-api/#forming-relationships-between-events
 * https://spec.matrix.org/v1.19/client-server-api/#aggregations-of-child-events
 * https://spec.matrix.org/v1.19/client-server-api/#event-replacements (m.replace)
 * https://spec.matrix.org/v1.19/client-server-api/#threading (m.thread)
 * https://spec.matrix.org/v1.19/client-server-api/#reference-relations (m.reference)
 *
 * Pure decisions only: which relation an event forms, whether an edit is valid, which
 * edit is the latest, and the shapes bundled. The Room actor finds the child events.
 */
import { isJsonObject, type JsonObject } from "./json.ts";

/** The relation an event forms with its parent (`content["m.relates_to"]`). */
export interface Relation {
  relType: string;
  /** The parent event. */
  eventId: string;
  /** m.thread: the event is a thread reply that also carries a fallback `m.in_reply_to`. */
  isFallingBack?: boolean;
  /** The `m.in_reply_to.event_id` that accompanies it, if any. */
  inReplyTo?: string;
}

/**
 * The relation of an event, or undefined when it forms none. A relation needs both
 * `rel_type` and `event_id` as strings; a bare rich reply (`m.in_reply_to` alone) is not
 * a relationship in the aggregation sense.
 */
export function relationOf(content: JsonObject): Relation | undefined {
  const r = content["m.relates_to"];
  if (!isJsonObject(r)) return undefined;
  const relType = r.rel_type;
  const eventId = r.event_id;
  if (typeof relType !== "string" || relType === "" || typeof eventId !== "string" || !eventId.startsWith("$")) return undefined;
  const out: Relation = { relType, eventId };
  if (relType === "m.thread" && typeof r.is_falling_back === "boolean") out.isFallingBack = r.is_falling_back;
  const reply = r["m.in_reply_to"];
  if (isJsonObject(reply) && typeof reply.event_id === "string") out.inReplyTo = reply.event_id;
  return out;
}

/** The fields the aggregation rules look at. */
export interface RelatedEvent {
  event_id: string;
  type: string;
  sender: string;
  state_key?: string;
  origin_server_ts: number;
  content: JsonObject;
}

/**
 * Whether `replacement` is a valid m.replace of `original` (spec "Validity of replacement
 * events"): same type, neither a state event, the original not itself an edit, same
 * sender, and (for unencrypted events, whose content the server can read) `m.new_content`
 * present as an object.
 */
export function isValidReplacement(original: RelatedEvent, replacement: RelatedEvent): boolean {
  const rel = relationOf(replacement.content);
  if (!rel || rel.relType !== "m.replace" || rel.eventId !== original.event_id) return false;
  if (replacement.type !== original.type) return false;
  if (original.state_key !== undefined || replacement.state_key !== undefined) return false;
  if (relationOf(original.content)?.relType === "m.replace") return false;
  if (replacement.sender !== original.sender) return false;
  if (replacement.type !== "m.room.encrypted" && !isJsonObject(replacement.content["m.new_content"])) return false;
  return true;
}

/**
 * The most recent valid edit: greatest `origin_server_ts`, ties broken by the
 * lexicographically largest event ID (spec "Server behaviour" of event replacements).
 */
export function latestReplacement<E extends RelatedEvent>(original: RelatedEvent, candidates: Iterable<E>): E | undefined {
  let best: E | undefined;
  for (const c of candidates) {
    if (!isValidReplacement(original, c)) continue;
    if (
      !best ||
      c.origin_server_ts > best.origin_server_ts ||
      (c.origin_server_ts === best.origin_server_ts && c.event_id > best.event_id)
    ) {
      best = c;
    }
  }
  return best;
}

/** The m.thread aggregation: https://spec.matrix.org/v1.19/client-server-api/#server-side-aggregation-of-mthread-relationships */
export interface ThreadSummary<E> {
  latest_event: E;
  count: number;
  current_user_participated: boolean;
}

/**
 * The summary of a thread from its visible replies, oldest first. The user participated
 * if they sent the root or any reply. No replies → no summary (the root is no thread).
 */
export function threadSummary<E extends { sender: string }>(
  rootSender: string,
  repliesOldestFirst: readonly E[],
  userId: string,
): ThreadSummary<E> | undefined {
  const latest = repliesOldestFirst[repliesOldestFirst.length - 1];
  if (latest === undefined) return undefined;
  return {
    latest_event: latest,
    count: repliesOldestFirst.length,
    current_user_participated: rootSender === userId || repliesOldestFirst.some((e) => e.sender === userId),
  };
}

/** The m.reference aggregation: the referring events' IDs. */
export function referenceChunk(eventIds: readonly string[]): { chunk: Array<{ event_id: string }> } | undefined {
  return eventIds.length === 0 ? undefined : { chunk: eventIds.map((event_id) => ({ event_id })) };
}

/** What the reader found for one parent, each already checked for visibility. */
export interface Aggregations<E> {
  replace?: E;
  thread?: ThreadSummary<E>;
  references?: readonly string[];
}

/**
 * `unsigned["m.relations"]` of a parent, or undefined when there is nothing to bundle. An
 * edit is not bundled with a redacted original (spec: whatever the edits' own state).
 */
export function bundledRelations<E extends JsonObject>(agg: Aggregations<E>, originalRedacted: boolean): JsonObject | undefined {
  const out: JsonObject = {};
  if (agg.replace && !originalRedacted) out["m.replace"] = agg.replace;
  if (agg.thread) {
    out["m.thread"] = {
      latest_event: agg.thread.latest_event,
      count: agg.thread.count,
      current_user_participated: agg.thread.current_user_participated,
    };
  }
  const refs = agg.references && referenceChunk(agg.references);
  if (refs) out["m.reference"] = refs;
  return Object.keys(out).length === 0 ? undefined : out;
}

/**
 * Why an event cannot be a thread root, or undefined when it can: a root must not itself
 * have a relation (spec: threads cannot be nested, and a root cannot be an edit, reaction
 * or thread reply). Write paths refuse m.thread replies to such roots.
 */
export function threadRootProblem(root: { content: JsonObject }): string | undefined {
  const rel = relationOf(root.content);
  return rel ? `a thread root must not itself have a relation (it has rel_type ${rel.relType})` : undefined;
}

/**
 * The thread an event belongs to, for threaded read receipts: the root of an m.thread
 * relation; the root itself, and any event outside threads, is in "main". `parentRelation` follows one more hop for
 * events (edits, reactions) that relate to a thread reply.
 */
export function threadOf(content: JsonObject, parentRelation: (parentId: string) => Relation | undefined): string {
  const rel = relationOf(content);
  if (!rel) return "main";
  if (rel.relType === "m.thread") return rel.eventId;
  const up = parentRelation(rel.eventId);
  return up?.relType === "m.thread" ? up.eventId : "main";
}
