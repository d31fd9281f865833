// The presence rules (lib/presence.ts): transitions as Synapse makes them, what fans out,
// the event content, PUT bodies. https://spec.matrix.org/v1.19/client-server-api/#presence
import { describe, expect, it } from "vitest";
import { MatrixError } from "../../lib/errors.ts";
import {
  afterActivity,
  afterPut,
  afterSyncStart,
  afterTimers,
  INITIAL_PRESENCE,
  isVisibleChange,
  needsPublish,
  newestPerUser,
  nextDeadline,
  parsePresenceBody,
  presenceContent,
  type PresenceRecord,
} from "../../lib/presence.ts";

const T = { idleMs: 300_000, syncOfflineMs: 30_000, activeMs: 60_000 };
const online = (at: number): PresenceRecord => afterActivity({ ...INITIAL_PRESENCE }, at);

describe("[cs: presence] transitions", () => {
  it("[cs: presence] set_presence: offline leaves the user alone, online brings an offline user online but not an idle one, unavailable idles", () => {
    const off = { ...INITIAL_PRESENCE };
    expect(afterSyncStart(off, "offline", 10)).toBe(off);
    expect(afterSyncStart(off, "online", 10)).toMatchObject({ presence: "online", last_active_ts: 10, currently_active: true });
    const idle = { ...online(1), presence: "unavailable" as const, currently_active: false };
    expect(afterSyncStart(idle, "online", 10)).toBe(idle);
    expect(afterSyncStart(online(1), "unavailable", 10)).toMatchObject({ presence: "unavailable", currently_active: false, last_active_ts: 1 });
  });

  it("[cs: presence] online → currently_active ends after activeMs, unavailable after idleMs, offline after syncOfflineMs without a sync", () => {
    const rec = online(0);
    const syncing = { lastSyncTs: 0, syncing: 1 };
    expect(afterTimers(rec, { ...syncing, now: 59_999 }, T)).toBe(rec);
    expect(afterTimers(rec, { ...syncing, now: 60_000 }, T)).toMatchObject({ presence: "online", currently_active: false });
    expect(afterTimers(rec, { ...syncing, now: 300_000 }, T)).toMatchObject({ presence: "unavailable", currently_active: false });
    expect(afterTimers(rec, { now: 29_999, lastSyncTs: 0, syncing: 0 }, T).presence).toBe("online");
    expect(afterTimers(rec, { now: 30_000, lastSyncTs: 0, syncing: 0 }, T).presence).toBe("offline");
    // A long-poll in progress keeps the user from going offline.
    expect(afterTimers(rec, { now: 90_000, lastSyncTs: 0, syncing: 1 }, T).presence).toBe("online");
  });

  it("[cs: presence] the next deadline is the earliest transition still to come; none for an offline user", () => {
    expect(nextDeadline(online(1000), { lastSyncTs: 5000, syncing: 0 }, T)).toBe(35_000);
    expect(nextDeadline(online(1000), { lastSyncTs: 5000, syncing: 1 }, T)).toBe(61_000);
    expect(nextDeadline({ ...online(1000), currently_active: false }, { lastSyncTs: 0, syncing: 1 }, T)).toBe(301_000);
    expect(nextDeadline({ ...INITIAL_PRESENCE }, { lastSyncTs: 0, syncing: 0 }, T)).toBeNull();
  });

  it("[cs: presence] PUT online is activity; other states end currently_active; status_msg is replaced", () => {
    expect(afterPut({ ...INITIAL_PRESENCE }, "online", "hi", 5)).toMatchObject({ presence: "online", status_msg: "hi", last_active_ts: 5, currently_active: true });
    expect(afterPut(online(1), "unavailable", null, 5)).toMatchObject({ presence: "unavailable", status_msg: null, last_active_ts: 1, currently_active: false });
  });

  it("[cs: presence] only state, status_msg and currently_active changes fan out; a newer last_active_ts alone does not", () => {
    const a = online(1);
    expect(isVisibleChange(a, afterActivity(a, 50))).toBe(false);
    expect(isVisibleChange(a, { ...a, currently_active: false })).toBe(true);
    expect(isVisibleChange(a, { ...a, status_msg: "x" })).toBe(true);
    expect(isVisibleChange(a, { ...a, presence: "unavailable" })).toBe(true);
    // …until last_active_ts is activeMs past the published copy's: then it is published too.
    expect(needsPublish(a, afterActivity(a, 1 + 59_999), 60_000)).toBe(false);
    expect(needsPublish(a, afterActivity(a, 1 + 60_000), 60_000)).toBe(true);
  });
});

describe("[cs: presence] events and bodies", () => {
  it("[cs: presence] content: last_active_ago from the clock, status_msg only when set", () => {
    expect(presenceContent({ ...online(1000), status_msg: "s" }, 4000)).toEqual({ presence: "online", currently_active: true, last_active_ago: 3000, status_msg: "s" });
    expect(presenceContent({ ...INITIAL_PRESENCE }, 4000)).toEqual({ presence: "offline", currently_active: false });
  });

  it("[cs: presence] rooms' copies merge to one per user, the highest serial winning", () => {
    const f = (user_id: string, serial: number, presence: PresenceRecord["presence"]) => ({ ...INITIAL_PRESENCE, user_id, serial, presence });
    const merged = newestPerUser([f("@a:x", 2, "online"), f("@a:x", 3, "unavailable"), f("@a:x", 1, "offline"), f("@b:x", 1, "online")]);
    expect([...merged.values()].map((x) => [x.user_id, x.presence])).toEqual([["@a:x", "unavailable"], ["@b:x", "online"]]);
  });

  it("[cs: presence] PUT bodies: presence required and one of three, status_msg a string within the limit", () => {
    expect(parsePresenceBody({ presence: "online" }, 10)).toEqual({ presence: "online", statusMsg: null });
    expect(parsePresenceBody({ presence: "offline", status_msg: "é".repeat(10) }, 10)).toEqual({ presence: "offline", statusMsg: "é".repeat(10) });
    const code = (b: Record<string, unknown>) => {
      try {
        parsePresenceBody(b as never, 10);
      } catch (e) {
        return e instanceof MatrixError ? e.errcode : "other";
      }
      return "ok";
    };
    expect(code({})).toBe("M_MISSING_PARAM");
    expect(code({ presence: "busy" })).toBe("M_INVALID_PARAM");
    expect(code({ presence: "online", status_msg: 1 })).toBe("M_INVALID_PARAM");
    expect(code({ presence: "online", status_msg: "x".repeat(11) })).toBe("M_INVALID_PARAM");
  });
});
