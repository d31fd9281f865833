/**
 * Device-list message counts of this isolate, for the cost tests and figures
 * (docs/design/e2ee.md cost model): no behaviour depends on them.
 */
export const DEVICE_LIST_COUNTERS = {
  /** DeviceKeys → Room "this user's device list changed" messages delivered. */
  roomNotices: 0,
  /** syncState calls that carried room observations (a user's own sync → its own DeviceKeys actor). */
  observationCalls: 0,
};
