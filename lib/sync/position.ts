/**
 * A room's position as sync sees it, and a user's view of one room as a sync token
 * records it. Design: docs/design/sync.md.
 *
 * A room has three independent streams a syncing client follows: its events (the
 * gap-free `stream` ordering), its receipts, and its typing set (a serial that changes
 * with every typing change). The bump stamp (origin_server_ts of the newest event that
 * moves the room up a recency-sorted list — a timestamp, because stream orderings of
 * different rooms cannot be compared) travels with the position but is not compared: it
 * only changes together with `s`.
 */

export interface RoomPosition {
  /** Event stream: the newest event's stream ordering (0 for none). */
  s: number;
  /** Receipt stream position. */
  r: number;
  /** Typing serial (changes whenever the typing set changes). */
  t: number;
  /**
   * Device-list stream: the room's counter of "a member's device list changed"
   * (docs/design/e2ee.md). Absent means 0 (tokens and positions from before it existed).
   */
  d?: number;
  /**
   * Presence stream: the room's counter of "a member's presence changed"
   * (docs/design/presence.md). Absent means 0.
   */
  p?: number;
}

export interface PublishedPosition extends RoomPosition {
  /** Bump stamp: origin_server_ts (ms) of the newest event that counts for recency. */
  b: number;
}

export const ZERO_POSITION: Readonly<RoomPosition> = Object.freeze({ s: 0, r: 0, t: 0 });

/** Whether `now` has anything `known` has not: any stream ahead. */
export function isAhead(now: RoomPosition, known: RoomPosition): boolean {
  return now.s > known.s || now.r > known.r || now.t > known.t || (now.d ?? 0) > (known.d ?? 0) || (now.p ?? 0) > (known.p ?? 0);
}

/** Componentwise maximum: positions are absolute, so merging reports never moves backwards. */
export function mergePosition(a: PublishedPosition, b: PublishedPosition): PublishedPosition {
  const out: PublishedPosition = { s: Math.max(a.s, b.s), r: Math.max(a.r, b.r), t: Math.max(a.t, b.t), b: Math.max(a.b, b.b) };
  const d = Math.max(a.d ?? 0, b.d ?? 0);
  if (d > 0) out.d = d;
  const p = Math.max(a.p ?? 0, b.p ?? 0);
  if (p > 0) out.p = p;
  return out;
}

/** The stream components of a position (no bump stamp), absent ones left absent. */
export function streamsOf(pos: RoomPosition): RoomPosition {
  const out: RoomPosition = { s: pos.s, r: pos.r, t: pos.t };
  if (pos.d) out.d = pos.d;
  if (pos.p) out.p = pos.p;
  return out;
}

/** The user's membership in a room, as sync sections group rooms. */
export type SyncMembership = "join" | "invite" | "knock" | "leave" | "ban";

const MEMBERSHIP_CODES: Record<SyncMembership, string> = { join: "j", invite: "i", knock: "k", leave: "l", ban: "b" };
const CODE_MEMBERSHIPS: Record<string, SyncMembership> = { j: "join", i: "invite", k: "knock", l: "leave", b: "ban" };

export function isSyncMembership(m: string): m is SyncMembership {
  return m in MEMBERSHIP_CODES;
}

/**
 * What one client has been told about one room: the membership and the stream position
 * of the member event that set it, and how far it has the room's streams.
 */
export interface RoomView extends RoomPosition {
  m: SyncMembership;
  /** Stream ordering of the member event behind `m`. */
  ms: number;
}

const NUM = /^[0-9a-z]{1,11}$/;

function num(text: string | undefined): number | undefined {
  if (text === undefined || !NUM.test(text)) return undefined;
  const n = parseInt(text, 36);
  return Number.isSafeInteger(n) ? n : undefined;
}

export function b36(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a position: ${n}`);
  return n.toString(36);
}

/**
 * `idx.m.ms.s.r.t[.d[.p]]` — a room index (small integer) and its view, all base 36; `.d`
 * only when d or p is not 0, `.p` only when p is not 0.
 */
export function encodeView(idx: number, v: RoomView): string {
  const base = `${b36(idx)}.${MEMBERSHIP_CODES[v.m]}.${b36(v.ms)}.${b36(v.s)}.${b36(v.r)}.${b36(v.t)}`;
  if (v.p) return `${base}.${b36(v.d ?? 0)}.${b36(v.p)}`;
  return v.d ? `${base}.${b36(v.d)}` : base;
}

export function decodeView(text: string): { idx: number; view: RoomView } | undefined {
  const p = text.split(".");
  if (p.length < 6 || p.length > 8) return undefined;
  const m = CODE_MEMBERSHIPS[p[1]!];
  const [idx, ms, s, r, t] = [p[0], p[2], p[3], p[4], p[5]].map(num);
  if (m === undefined || idx === undefined || ms === undefined || s === undefined || r === undefined || t === undefined) {
    return undefined;
  }
  if (p.length === 6) return { idx, view: { m, ms, s, r, t } };
  const d = num(p[6]);
  if (d === undefined || (d === 0 && p.length === 7)) return undefined; // 0 is never written alone: the text was altered
  const view: RoomView = { m, ms, s, r, t };
  if (d > 0) view.d = d;
  if (p.length === 8) {
    const pr = num(p[7]);
    if (pr === undefined || pr === 0) return undefined;
    view.p = pr;
  }
  return { idx, view };
}

/** A set of views (a checkpoint, or a token's inline part), entries joined by `-`. */
export function encodeViews(views: ReadonlyMap<number, RoomView>): string {
  return [...views].map(([idx, v]) => encodeView(idx, v)).join("-");
}

export function decodeViews(text: string): Map<number, RoomView> | undefined {
  const out = new Map<number, RoomView>();
  if (text === "") return out;
  for (const part of text.split("-")) {
    const d = decodeView(part);
    if (!d || out.has(d.idx)) return undefined;
    out.set(d.idx, d.view);
  }
  return out;
}

/** Parses a base-36 scalar as tokens carry them. */
export function parseB36(text: string | undefined): number | undefined {
  return num(text);
}

/**
 * Event types whose arrival moves a room up a recency-sorted room list (its bump stamp),
 * as MSC4186 defines them: the room's creation and real messages, not state churn.
 */
export const BUMP_EVENT_TYPES: ReadonlySet<string> = new Set([
  "m.room.create",
  "m.room.message",
  "m.room.encrypted",
  "m.sticker",
  "m.call.invite",
  "m.poll.start",
  "m.beacon_info",
]);
