/** Per-isolate counts of how sliding sync answered (tests and the design doc's cost figures). */
export const SLIDING_COUNTERS = {
  /** Room results computed from the hub's news (no room call). */
  fromHub: 0,
  /** `Room.slidingRoom` calls. */
  roomCalls: 0,
  /** `Room.unreadCounts` calls (counts not carried by a `slidingRoom` call). */
  countCalls: 0,
  /** Counts kept as sent without asking the room (only the user's own events or others' receipts since). */
  countsKept: 0,
  /** Counts counted on by the User actor from the hub's news (lib/sync/sliding/fast-room.ts countOn). */
  countedOn: 0,
};
