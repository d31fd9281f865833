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

/** `pos`: the connection's row and the version of its state, base 36. */
export function encodePos(connection: number, seq: number): string {
  return `${b36(connection)}_${b36(seq)}`;
}

export function decodePos(text: string): { connection: number; seq: number } | undefined {
  if (text.length > 32) return undefined;
  const parts = text.split("_");
  if (parts.length !== 2) return undefined;
  const connection = parseB36(parts[0]);
  const seq = parseB36(parts[1]);
  return connection === undefined || seq === undefined ? undefined : { connection, seq };
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
