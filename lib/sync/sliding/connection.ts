/**
 * Per-connection state of simplified sliding sync (MSC4186 "Connections"): what one
 * connection (device + conn_id) has been sent, so that a later response carries only
 * what changed; the `pos` token naming one version of it; and the decision, per room,
 * between sending it whole (`initial`), sending what changed since, or nothing.
 * Design: docs/design/sync.md ("Simplified sliding sync").
 */
import { b36, parseB36, type SyncMembership } from "../position.ts";
import { requiredStateExpanded } from "./lists.ts";
import type { RequiredState } from "./request.ts";

/** What the connection was last sent of one room. */
export interface SentRoom {
  /** Membership and the stream of its member event. */
  m: SyncMembership;
  ms: number;
  /** Event stream position the timeline and state were sent up to. */
  s: number;
  /** Timeline limit and required state of that send (a wider config sends the room again). */
  tl: number;
  rs: RequiredState;
  /** Members sent by lazy loading (bounded; forgetting only makes a later response redundant). */
  lz: string[];
  dm: boolean;
  /** Notification and highlight counts sent, and the room's receipt position they were counted at. */
  n?: [number, number];
  cr?: number;
  /** Fingerprint of the push rules `n` was counted under (lib/sync/sliding/fast-room.ts `rulesKey`). */
  nh?: string;
  /** The event stream `n` was counted up to and the candidate events that took (lib/push/counts.ts CountPoint). */
  cs?: number;
  ce?: number;
}

export interface ConnectionState {
  rooms: Map<string, SentRoom>;
  /** Extension positions per room: receipts, typing serial, room account data. */
  receipts: Map<string, number>;
  typing: Map<string, number>;
  roomAccountData: Map<string, number>;
  /** Global account data and device-list positions (undefined: never sent). */
  globalAccountData?: number;
  deviceLists?: number;
  /** The `count` of each list as last sent. */
  counts: Map<string, number>;
  /** When the response was made (ms): events after it are `num_live` next time. */
  ts: number;
}

/** Lazy members remembered per room; past this the oldest are forgotten. */
export const MAX_LAZY_REMEMBERED = 200;

export function emptyConnectionState(): ConnectionState {
  return { rooms: new Map(), receipts: new Map(), typing: new Map(), roomAccountData: new Map(), counts: new Map(), ts: 0 };
}

interface Stored {
  r: Array<[string, SentRoom]>;
  rr: Array<[string, number]>;
  tt: Array<[string, number]>;
  ra: Array<[string, number]>;
  ga?: number;
  dl?: number;
  c: Array<[string, number]>;
  ts: number;
}

/** As text for the connection's SQLite row (entries as arrays: keys are client-chosen). */
export function encodeConnectionState(s: ConnectionState): string {
  const out: Stored = { r: [...s.rooms], rr: [...s.receipts], tt: [...s.typing], ra: [...s.roomAccountData], c: [...s.counts], ts: s.ts };
  if (s.globalAccountData !== undefined) out.ga = s.globalAccountData;
  if (s.deviceLists !== undefined) out.dl = s.deviceLists;
  return JSON.stringify(out);
}

export function decodeConnectionState(text: string): ConnectionState {
  const o = JSON.parse(text) as Stored;
  const s: ConnectionState = {
    rooms: new Map(o.r),
    receipts: new Map(o.rr),
    typing: new Map(o.tt),
    roomAccountData: new Map(o.ra),
    counts: new Map(o.c),
    ts: o.ts,
  };
  if (o.ga !== undefined) s.globalAccountData = o.ga;
  if (o.dl !== undefined) s.deviceLists = o.dl;
  return s;
}

export function cloneConnectionState(s: ConnectionState): ConnectionState {
  return decodeConnectionState(encodeConnectionState(s));
}

/**
 * `pos`: the connection's row and the version of its state, base 36, optionally followed
 * by `~` and an inline delta from that stored version (`inlineDelta`): a push of new
 * messages then writes no row, as the inline part of a /sync v2 token does.
 */
export function encodePos(connection: number, seq: number, inline?: string): string {
  return `${b36(connection)}_${b36(seq)}${inline ? `~${inline}` : ""}`;
}

/** Longest inline part kept in a pos; a longer delta is stored as a new version. */
export const MAX_INLINE_POS = 240;

export function decodePos(text: string): { connection: number; seq: number; inline?: string } | undefined {
  const tilde = text.indexOf("~");
  const head = tilde < 0 ? text : text.slice(0, tilde);
  if (head.length > 32 || text.length > 32 + 1 + MAX_INLINE_POS) return undefined;
  const parts = head.split("_");
  if (parts.length !== 2) return undefined;
  const connection = parseB36(parts[0]);
  const seq = parseB36(parts[1]);
  if (connection === undefined || seq === undefined) return undefined;
  if (tilde < 0) return { connection, seq };
  const inline = text.slice(tilde + 1);
  return inline === "" ? undefined : { connection, seq, inline };
}

/**
 * `next` as a delta from the stored `base`, when all that moved is what a push of new
 * messages moves — per room already sent: the stream sent up to and the counts (`s`, `n`,
 * `cr`, `cs`, `ce`); per room the receipts and typing positions; the response time. Each
 * entry names its room by its index in `base`'s maps: `r<i>:s:n0:n1:cr:cs:ce`, `e<i>:pos`,
 * `t<i>:serial`, `z<ts>`, base 36, "" for absent, joined by `.`. Undefined when anything
 * else changed (then a new version is stored).
 */
export function inlineDelta(base: ConnectionState, next: ConnectionState): string | undefined {
  const entries: string[] = [];
  const room = (k: SentRoom) => ({ ...k, s: 0, n: undefined, cr: undefined, cs: undefined, ce: undefined });
  if (!sameKeys(base.rooms, next.rooms) || !sameKeys(base.receipts, next.receipts) || !sameKeys(base.typing, next.typing)) return undefined;
  let i = 0;
  for (const [roomId, b] of base.rooms) {
    const n = next.rooms.get(roomId)!;
    if (JSON.stringify(room(b)) !== JSON.stringify(room(n))) return undefined;
    const values = [n.s, n.n?.[0], n.n?.[1], n.cr, n.cs, n.ce];
    const was = [b.s, b.n?.[0], b.n?.[1], b.cr, b.cs, b.ce];
    if (values.some((v, k) => v !== was[k])) entries.push(`r${b36(i)}:${values.map(opt36).join(":")}`);
    i++;
  }
  for (const [kind, from, to] of [["e", base.receipts, next.receipts], ["t", base.typing, next.typing]] as const) {
    i = 0;
    for (const [roomId, v] of from) {
      const w = to.get(roomId)!;
      if (w !== v) entries.push(`${kind}${b36(i)}:${opt36(w)}`);
      i++;
    }
  }
  if (next.ts !== base.ts) entries.push(`z${opt36(next.ts)}`);
  const text = entries.join(".");
  if (text === "" || text.length > MAX_INLINE_POS) return undefined;
  // Only what decodes back to `next` exactly is used.
  const back = applyInline(base, text);
  return back && encodeConnectionState(back) === encodeConnectionState(next) ? text : undefined;
}

/** `base` with an inline delta applied; undefined when the delta does not fit `base` (not a pos of ours). */
export function applyInline(base: ConnectionState, inline: string): ConnectionState | undefined {
  const s = cloneConnectionState(base);
  const rooms = [...s.rooms.values()];
  const receipts = [...s.receipts.keys()];
  const typing = [...s.typing.keys()];
  for (const entry of inline.split(".")) {
    const kind = entry[0];
    const [idxText, ...values] = entry.slice(1).split(":");
    if (kind === "z") {
      const ts = parseB36(idxText);
      if (ts === undefined || values.length > 0) return undefined;
      s.ts = ts;
      continue;
    }
    const idx = parseB36(idxText);
    if (idx === undefined) return undefined;
    const nums = values.map((v) => (v === "" ? undefined : parseB36(v)));
    if (values.some((v, k) => v !== "" && nums[k] === undefined)) return undefined;
    if (kind === "r") {
      const r = rooms[idx];
      if (!r || nums.length !== 6 || nums[0] === undefined) return undefined;
      r.s = nums[0];
      const [n0, n1, cr, cs, ce] = nums.slice(1);
      if (n0 !== undefined && n1 !== undefined) r.n = [n0, n1];
      else delete r.n;
      setOpt(r, "cr", cr);
      setOpt(r, "cs", cs);
      setOpt(r, "ce", ce);
    } else if (kind === "e" || kind === "t") {
      const roomId = (kind === "e" ? receipts : typing)[idx];
      if (roomId === undefined || nums.length !== 1 || nums[0] === undefined) return undefined;
      (kind === "e" ? s.receipts : s.typing).set(roomId, nums[0]);
    } else return undefined;
  }
  return s;
}

function setOpt(r: SentRoom, key: "cr" | "cs" | "ce", v: number | undefined): void {
  if (v === undefined) delete r[key];
  else r[key] = v;
}

function opt36(n: number | undefined): string {
  return n === undefined ? "" : b36(n);
}

function sameKeys<K, V>(a: ReadonlyMap<K, V>, b: ReadonlyMap<K, V>): boolean {
  if (a.size !== b.size) return false;
  const bk = [...b.keys()];
  let i = 0;
  for (const k of a.keys()) if (bk[i++] !== k) return false;
  return true;
}

export type RoomAction = { kind: "initial" } | { kind: "incremental"; since: number } | { kind: "none" };

/**
 * What to send of a room the request selects: whole when the connection never had it,
 * when the membership changed in a way that starts over (an invite, a (re)join), or
 * when the config now asks for more than was sent; what changed since when events
 * arrived (or the user left: the timeline up to the leave); otherwise nothing.
 */
export function roomAction(
  sent: SentRoom | undefined,
  now: { m: SyncMembership; ms: number; s: number },
  config: { timelineLimit: number; requiredState: RequiredState },
): RoomAction {
  if (!sent) return { kind: "initial" };
  const stripped = now.m === "invite" || now.m === "knock";
  if (sent.m !== now.m || sent.ms !== now.ms) {
    if (!stripped && sent.m === "join") return { kind: "incremental", since: sent.s };
    return { kind: "initial" };
  }
  if (stripped) return { kind: "none" };
  if (config.timelineLimit > sent.tl || requiredStateExpanded(sent.rs, config.requiredState)) return { kind: "initial" };
  if (now.s > sent.s) return { kind: "incremental", since: sent.s };
  return { kind: "none" };
}

/** The lazy members to remember after a send (newest kept). */
export function rememberLazy(before: readonly string[], added: readonly string[], initial: boolean): string[] {
  const all = initial ? [...added] : [...before.filter((u) => !added.includes(u)), ...added];
  return all.length > MAX_LAZY_REMEMBERED ? all.slice(all.length - MAX_LAZY_REMEMBERED) : all;
}

/** Whether an extension's scope covers a room (in one of its lists' windows, or subscribed). */
export function inScope(
  scope: { lists: string[] | "*"; rooms: string[] | "*" },
  roomLists: readonly string[],
  subscribed: boolean,
  roomId: string,
): boolean {
  if (roomLists.some((l) => scope.lists === "*" || scope.lists.includes(l))) return true;
  return subscribed && (scope.rooms === "*" || scope.rooms.includes(roomId));
}
