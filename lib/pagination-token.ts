/**
 * Room pagination tokens for /messages, /context, /relations, /threads and /members `at`,
 * and the `prev_batch` of /sync. https://spec.matrix.org/v1.19/client-server-api/#syncing
 *
 * A token names a *position* in one room's stream ordering (the gap-free sequence the
 * Room actor assigns: 1, 2, 3, …): position p lies after the event with stream p and
 * before the event with stream p + 1. Position 0 is the start of the room. Going
 * backwards from p yields events with stream ≤ p, newest first; forwards, events with
 * stream > p, oldest first. So the `end` of one page is exactly the `from` of the next
 * with no gap and no overlap, and tokens stay valid across restarts (stream positions
 * are stored, never reassigned).
 *
 * Written form: `s<position>`. Parley orders a room's history by stream ordering, which
 * equals topological order while the room's graph is linear (every local event extends
 * the tip); the Synapse-style `t<depth>-<position>` form is accepted on input too (its
 * stream part is used) so a token minted with a depth stays readable. Tokens are
 * room-scoped: a token from another room is a position in this one.
 */
import { MatrixError } from "./errors.ts";

/** Largest position a token may carry (2^53 - 1: stream positions are SQLite integers read as JS numbers). */
const MAX_POSITION = Number.MAX_SAFE_INTEGER;

export type Direction = "b" | "f";

/** The token of stream position `position`. */
export function streamToken(position: number): string {
  if (!Number.isSafeInteger(position) || position < 0) throw new RangeError(`bad stream position ${position}`);
  return `s${position}`;
}

/** The position a token names, or undefined when it is not a room pagination token. */
export function tryParseToken(token: string): number | undefined {
  const m = /^(?:s(\d{1,16})|t\d{1,16}-(\d{1,16}))$/.exec(token);
  if (!m) return undefined;
  const n = Number(m[1] ?? m[2]);
  return n <= MAX_POSITION ? n : undefined;
}

/** The position a client-supplied token names; 400 M_INVALID_PARAM naming the parameter otherwise. */
export function parseToken(token: string, param: string): number {
  const n = tryParseToken(token);
  if (n === undefined) throw new MatrixError("M_INVALID_PARAM", 400, `Unknown pagination token in '${param}'`);
  return n;
}

/**
 * The range of stream orderings a page may take events from, exclusive at `after`,
 * inclusive at `upTo`: backwards from p to q → (q, p]; forwards from p to q → (p, q].
 */
export function pageRange(dir: Direction, from: number, to: number | undefined, newest: number): { after: number; upTo: number } {
  if (dir === "b") return { after: Math.min(to ?? 0, from), upTo: Math.min(from, newest) };
  return { after: from, upTo: Math.max(from, Math.min(to ?? newest, newest)) };
}

/**
 * The token after a page whose last scanned event had stream `last`: backwards the
 * position just before it, forwards the position just after it.
 */
export function positionAfterPage(dir: Direction, last: number): number {
  return dir === "b" ? last - 1 : last;
}
