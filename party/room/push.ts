/**
 * Notification counts inside the Room actor, computed lazily for the user who syncs
 * (docs/design/push.md, "Counting"): the events after that user's latest m.read /
 * m.read.private receipts, at most PUSH_COUNT_SCAN_LIMIT of them, run through the
 * user's ruleset (handed in by the caller: the User actor holds it). Results are
 * memoised per (user, receipts, newest stream, ruleset) so repeated syncs don't rescan.
 */
import { clientEventFromPdu } from "../../lib/event-format.ts";
import type { JsonObject } from "../../lib/json.ts";
import { stateKey, type Pdu } from "../../lib/pdu.ts";
import { addCounts, countUnread, isUnread, readPositions, type CountPoint, type CountResult, type CountedEvent } from "../../lib/push/counts.ts";
import { evaluatePushRules } from "../../lib/push/evaluate.ts";
import type { PushAction } from "../../lib/push/types.ts";
import type { Ruleset } from "../../lib/push/types.ts";
import { threadOf } from "../../lib/relations.ts";
import type { RoomVersionRules } from "../../lib/room-versions.ts";
import { powerLevelsIn } from "./membership.ts";
import type { ReadRoom } from "./visibility.ts";
import type { StateView } from "./write-path.ts";

/** Default bound on events evaluated per count; past it the counts stop growing (documented cap). */
export const DEFAULT_PUSH_COUNT_SCAN_LIMIT = 1000;
/** Memo entries kept per room actor (one per syncing user). */
const MEMO_MAX = 2048;

/** PUSH_COUNT_SCAN_LIMIT (a var; not in Env's declared settings, so read loosely), else the default. */
export function pushCountScanLimit(env: object): number {
  const v = Number((env as { PUSH_COUNT_SCAN_LIMIT?: string }).PUSH_COUNT_SCAN_LIMIT);
  return Number.isInteger(v) && v > 0 ? v : DEFAULT_PUSH_COUNT_SCAN_LIMIT;
}

export interface CountRequest {
  userId: string;
  ruleset: Ruleset;
  /** The ruleset's JSON text, the memo's key for it (cheaper than re-serialising). */
  rulesetKey: string;
  perThread: boolean;
  scanLimit: number;
}

/** One entry of GET /notifications (the spec's Notification, `profile_tag` never set). */
// A type alias (not an interface) so it is a JsonObject for the response body.
export type RoomNotification = {
  actions: PushAction[];
  event: JsonObject;
  read: boolean;
  room_id: string;
  ts: number;
};

export class RoomCounts {
  /**
   * Per user: the counts over the candidate events up to stream `upTo`, under `key` (the
   * receipts, join, ruleset, perThread, scan limit and the state version — anything whose
   * change needs a recount). A newer head with the same key only evaluates the events after
   * `upTo`: a listener in a busy room costs one evaluation per new event, not a rescan of
   * everything unread on every sync.
   */
  readonly #memo = new Map<string, { key: string; upTo: number; examined: number; result: CountResult }>();
  /** Rescans done (tests, cost figures). */
  scans = 0;
  /** Incremental counts (events evaluated only after the memo's position). */
  increments = 0;

  constructor(
    private readonly room: ReadRoom,
    private readonly rules: () => RoomVersionRules,
  ) {}

  /**
   * `req.userId`'s counts now; undefined when they are not joined. Counted: the first
   * `scanLimit` candidate events after the user's join and unthreaded receipt (oldest
   * first, so that counting on from a memo gives what a rescan would).
   */
  counts(req: CountRequest, point = false): CountResult | undefined {
    const { room } = this;
    const joinedAt = this.#joinStream(req.userId);
    if (joinedAt === undefined) return undefined;
    const rows = room.sql
      .exec<{ receipt_type: string; thread_id: string; event_stream: number }>(
        "SELECT receipt_type, thread_id, event_stream FROM receipts WHERE user_id = ? AND receipt_type IN ('m.read', 'm.read.private')",
        req.userId,
      )
      .toArray();
    const read = readPositions(rows.map((r) => ({ receiptType: r.receipt_type, threadId: r.thread_id, eventStream: r.event_stream })));
    // The state version covers what the evaluation reads from state: member count, display
    // name, sender power levels, the power levels' `notifications`.
    const key = JSON.stringify([read, joinedAt, req.perThread, req.scanLimit, req.rulesetKey, room.head.version?.version ?? 0]);
    const head = room.head.stream;
    const hit = this.#memo.get(req.userId);
    if (hit && hit.key === key && hit.upTo === head) return point ? withPoint(hit, this.#context(req.userId)) : hit.result;

    const ctx = this.#context(req.userId);
    let entry: { key: string; upTo: number; examined: number; result: CountResult };
    if (hit && hit.key === key && hit.upTo < head && !this.#redactionAfter(hit.upTo)) {
      this.increments++;
      const fresh = hit.examined < req.scanLimit ? this.#candidates(hit.upTo, req.userId, req.scanLimit - hit.examined, "oldest") : [];
      const added = countUnread(fresh, read, ctx, req.ruleset, req.perThread);
      entry = { key, upTo: head, examined: hit.examined + fresh.length, result: addCounts(hit.result, added) };
    } else {
      this.scans++;
      // Nothing before the user's join counts, nor anything the unthreaded receipt covers
      // (threaded receipts cover only their thread: isUnread filters those).
      const floor = Math.max(joinedAt, read.unthreaded);
      const candidates = this.#candidates(floor, req.userId, req.scanLimit, "oldest");
      entry = { key, upTo: head, examined: candidates.length, result: countUnread(candidates, read, ctx, req.ruleset, req.perThread) };
    }
    this.#memo.delete(req.userId);
    this.#memo.set(req.userId, entry);
    if (this.#memo.size > MEMO_MAX) this.#memo.delete(this.#memo.keys().next().value!);
    return point ? withPoint(entry, ctx) : entry.result;
  }

  /**
   * A sender's power level at current state, as push rules read it (MAX_SAFE_INTEGER for
   * a v12 creator, whose level is infinite); the levels are read once per state version.
   */
  senderLevel(sender: string): number {
    const version = this.room.head.version?.version ?? 0;
    if (this.#levels?.version !== version) this.#levels = { version, levels: powerLevelsIn(this.#stateView(), this.rules()) };
    const level = this.#levels.levels.user(sender);
    return Number.isFinite(level) ? level : Number.MAX_SAFE_INTEGER;
  }

  #levels: { version: number; levels: ReturnType<typeof powerLevelsIn> } | undefined;

  /** Whether a redaction came after `stream` (it may remove a counted event: recount). */
  #redactionAfter(stream: number): boolean {
    return this.room.sql.exec("SELECT 1 FROM events WHERE stream > ? AND type = 'm.room.redaction' LIMIT 1", stream).toArray().length > 0;
  }

  /**
   * GET /notifications, this room's part: the newest events (origin_server_ts < `before`)
   * since U joined that U's rules mark notify, at most `limit`, scanning at most
   * `scanLimit` events. `read`: at or before U's receipts.
   */
  notifications(req: CountRequest & { before: number; limit: number; onlyHighlight: boolean }): RoomNotification[] {
    const joinedAt = this.#joinStream(req.userId);
    if (joinedAt === undefined) return [];
    const rows = this.room.sql
      .exec<{ receipt_type: string; thread_id: string; event_stream: number }>(
        "SELECT receipt_type, thread_id, event_stream FROM receipts WHERE user_id = ? AND receipt_type IN ('m.read', 'm.read.private')",
        req.userId,
      )
      .toArray();
    const read = readPositions(rows.map((r) => ({ receiptType: r.receipt_type, threadId: r.thread_id, eventStream: r.event_stream })));
    const ctx = this.#context(req.userId);
    const out: RoomNotification[] = [];
    for (const e of this.#candidates(joinedAt, req.userId, req.scanLimit, "newest", req.before)) {
      const outcome = evaluatePushRules(e.event, { ...ctx, senderPowerLevel: e.senderPowerLevel }, req.ruleset);
      if (!outcome.notify || (req.onlyHighlight && !outcome.highlight)) continue;
      out.push({ event: e.event, actions: outcome.actions, read: !isUnread(e.stream, e.threadId, read), ts: Number(e.event.origin_server_ts), room_id: this.room.roomId });
      if (out.length >= req.limit) break;
    }
    return out;
  }

  #joinStream(userId: string): number | undefined {
    const id = this.room.head.state.get(stateKey("m.room.member", userId));
    const ev = id === undefined ? undefined : this.room.store.event(id);
    if (!ev || ev.pdu.content.membership !== "join") return undefined;
    return ev.stream;
  }

  /** At most `limit` events after `floor` (newest or oldest first), not the user's own; state events are skipped by the evaluator. */
  #candidates(floor: number, userId: string, limit: number, order: "newest" | "oldest", beforeTs = Number.MAX_SAFE_INTEGER): CountedEvent[] {
    const { room } = this;
    const rows = room.sql
      .exec<{ stream: number; event_id: string; sender: string; rel_type: string | null; relates_to: string | null }>(
        `SELECT stream, event_id, sender, rel_type, relates_to FROM events
         WHERE rejection IS NULL AND redacted_by IS NULL AND stream > ? AND sender != ? AND origin_server_ts < ? ORDER BY stream ${order === "newest" ? "DESC" : "ASC"} LIMIT ?`,
        floor,
        userId,
        beforeTs,
        limit,
      )
      .toArray();
    const out: CountedEvent[] = [];
    for (const r of rows) {
      const stored = room.store.event(r.event_id);
      if (!stored) continue;
      const event = clientEventFromPdu(stored.pdu) as unknown as JsonObject;
      out.push({ stream: r.stream, event, threadId: this.#threadOf(stored.pdu), senderPowerLevel: this.senderLevel(r.sender) });
    }
    return out;
  }

  #threadOf(pdu: Pdu): string {
    return threadOf(pdu.content, (parentId) => {
      const row = this.room.sql
        .exec<{ rel_type: string | null; relates_to: string | null }>("SELECT rel_type, relates_to FROM events WHERE event_id = ?", parentId)
        .toArray()[0];
      return row?.rel_type && row.relates_to ? { relType: row.rel_type, eventId: row.relates_to } : undefined;
    });
  }

  /** Current state as the power-level reader wants it (sender levels are read at the current state: documented). */
  #stateView() {
    const { room } = this;
    const idOf = (type: string, key: string) => room.head.state.get(stateKey(type, key));
    return { idOf, get: (type: string, key: string) => { const id = idOf(type, key); return id === undefined ? undefined : room.store.event(id)?.pdu; } };
  }

  #context(userId: string) {
    const view = this.#stateView();
    const name = view.get("m.room.member", userId)?.content.displayname;
    const pl = view.get("m.room.power_levels", "")?.content.notifications;
    return {
      userId,
      displayName: typeof name === "string" ? name : null,
      roomMemberCount: this.room.store.joinedMembers().length,
      ...(pl && typeof pl === "object" && !Array.isArray(pl) ? { notificationPowerLevels: pl as JsonObject } : {}),
    };
  }
}

/** The counts with where they stand and the push context they were counted under (CountPoint). */
function withPoint(entry: { upTo: number; examined: number; result: CountResult }, ctx: { displayName: string | null; roomMemberCount: number; notificationPowerLevels?: JsonObject }): CountResult {
  const point: CountPoint = { at: entry.upTo, examined: entry.examined, displayName: ctx.displayName, roomMemberCount: ctx.roomMemberCount };
  if (ctx.notificationPowerLevels) point.notificationPowerLevels = ctx.notificationPowerLevels;
  return { ...entry.result, point };
}

// ---- pusher delivery: members with pushers -------------------------------------------

/** Outbox kind of a push notice (party/room/outbox.ts delivers it to the User actor). */
export const PUSH_OUTBOX = "push";

/**
 * The members whose User actor said they have ≥1 pusher: the only members whose rules
 * cost work after a commit. Written only when a user's answer changes. The table lives
 * here (created on first use) rather than in schema/room.sql: rooms without such
 * members never create it. The list is kept in memory (one instance per actor's
 * storage, so the outbox's changes are seen by the write path): a send reads no row
 * for it.
 */
export class PushMembers {
  static readonly #instances = new WeakMap<SqlStorage, PushMembers>();
  /** The one instance for this actor's storage. */
  static of(sql: SqlStorage): PushMembers {
    let m = PushMembers.#instances.get(sql);
    if (!m) PushMembers.#instances.set(sql, (m = new PushMembers(sql)));
    return m;
  }

  #ready = false;
  #list: string[] | undefined;
  private constructor(private readonly sql: SqlStorage) {}

  #table(): void {
    if (this.#ready) return;
    this.sql.exec("CREATE TABLE IF NOT EXISTS push_members (user_id TEXT PRIMARY KEY)");
    this.#ready = true;
  }

  set(userId: string, has: boolean): void {
    this.#table();
    if (has) this.sql.exec("INSERT OR IGNORE INTO push_members (user_id) VALUES (?)", userId);
    else this.sql.exec("DELETE FROM push_members WHERE user_id = ?", userId);
    this.#list = undefined;
  }

  list(): string[] {
    if (this.#list) return this.#list;
    this.#table();
    return (this.#list = this.sql.exec<{ user_id: string }>("SELECT user_id FROM push_members").toArray().map((r) => r.user_id));
  }
}

/**
 * Before a commit: one outbox row per (new event, joined member with pushers, not the
 * sender), with the room facts the member's rules need, added to the event's outbox so
 * that the commit's transaction writes them with the event (a crash cannot lose a push).
 * `joinedCount` is read only when some member has pushers. Returns rows added.
 */
export function addPushNotices(
  roomId: string,
  rules: RoomVersionRules,
  members: PushMembers,
  view: StateView,
  joinedCount: () => number,
  events: ReadonlyArray<{ pdu: Pdu; outbox: Array<{ kind: string; target: string; payload: JsonObject }> }>,
): number {
  const candidates = members.list();
  if (candidates.length === 0) return 0;
  const joined = candidates.filter((u) => view.get("m.room.member", u)?.content.membership === "join");
  if (joined.length === 0) return 0;
  const levels = powerLevelsIn(view, rules);
  const memberCount = joinedCount();
  const name = view.get("m.room.name", "")?.content.name;
  const notifications = view.get("m.room.power_levels", "")?.content.notifications;
  let n = 0;
  for (const e of events) {
    const event = clientEventFromPdu(e.pdu) as unknown as JsonObject;
    const senderName = view.get("m.room.member", e.pdu.sender)?.content.displayname;
    for (const userId of joined) {
      if (userId === e.pdu.sender) continue;
      const own = view.get("m.room.member", userId)?.content.displayname;
      const payload: JsonObject = {
        roomId,
        event,
        memberCount,
        displayName: typeof own === "string" ? own : null,
        senderPowerLevel: Number.isFinite(levels.user(e.pdu.sender)) ? levels.user(e.pdu.sender) : Number.MAX_SAFE_INTEGER,
      };
      if (notifications && typeof notifications === "object" && !Array.isArray(notifications)) payload.notificationPowerLevels = notifications;
      if (typeof senderName === "string") payload.senderDisplayName = senderName;
      if (typeof name === "string") payload.roomName = name;
      e.outbox.push({ kind: PUSH_OUTBOX, target: userId, payload });
      n++;
    }
  }
  return n;
}
