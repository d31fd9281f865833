/**
 * The paging loop every history read shares (/messages, /context, /relations): walk a
 * stream range in one direction, batch by batch of indexed columns, keep the events the
 * reader may see and the filter passes, stop at `limit` or after a scan budget.
 *
 * Exhaustion is exact: the range is exhausted when the last batch came back short and
 * every row of it was looked at. A page that stops on the budget (a long run of events
 * the reader may not see) returns what it has and a token to go on from — the spec
 * allows an empty chunk with an `end` token.
 */
import type { Direction } from "../../lib/pagination-token.ts";
import type { StoredEvent } from "./store.ts";
import type { EventRow } from "./visibility.ts";

export interface ScanResult {
  events: StoredEvent[];
  /** Stream of the last row looked at (undefined: none). */
  last: number | undefined;
  /** Nothing is left in the range. */
  exhausted: boolean;
}

/** Rows scanned per request at most before answering with what was found. */
export const MAX_SCAN = 5000;

/**
 * `fetch(lo, hi, n)` returns up to n rows with lo < stream ≤ hi, in `dir` order;
 * `accept` turns a row into the event to return, or undefined to skip it.
 */
export function scanPage(
  dir: Direction,
  range: { after: number; upTo: number },
  limit: number,
  fetch: (lo: number, hi: number, n: number) => EventRow[],
  accept: (row: EventRow) => StoredEvent | undefined,
  maxScan = MAX_SCAN,
): ScanResult {
  const events: StoredEvent[] = [];
  let lo = range.after;
  let hi = range.upTo;
  let last: number | undefined;
  let scanned = 0;
  // A little more than asked, so an unfiltered page learns whether anything follows.
  const batch = Math.min(Math.max(limit * 2, 20), 500) + 1;
  while (events.length < limit && scanned < maxScan) {
    if (lo >= hi) return { events, last, exhausted: true };
    const rows = fetch(lo, hi, batch);
    let i = 0;
    for (; i < rows.length && events.length < limit && scanned < maxScan; i++) {
      const r = rows[i]!;
      scanned++;
      last = r.stream;
      const ev = accept(r);
      if (ev) events.push(ev);
    }
    if (i === rows.length && rows.length < batch) return { events, last, exhausted: true };
    if (i < rows.length) return { events, last, exhausted: false };
    if (dir === "b") hi = last! - 1;
    else lo = last!;
  }
  // Stopped on the limit or the budget after a full batch: exhausted only if the range is used up.
  return { events, last, exhausted: lo >= hi };
}
