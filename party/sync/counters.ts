/** Per-isolate counts of how syncs were answered (tests and the design doc's cost figures). */
export const SYNC_COUNTERS = { fromHub: 0, fromRoom: 0, hubPolls: 0, hubPollsSkipped: 0, e2eeCalls: 0, e2eeCached: 0 };
