import { describe, expect, it } from "vitest";
import { MatrixError } from "../../../lib/errors.ts";
import { DEFAULT_TIMELINE_LIMIT, MAX_SYNC_TIMEOUT_MS, parseSyncParams, roomAllowed, syncFilter } from "../../../lib/sync/request.ts";

const q = (s: string) => new URLSearchParams(s);
const errcode = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return (e as MatrixError).errcode;
  }
  return undefined;
};

describe("/sync parameters", () => {
  it("[sync: params] defaults: no since, timeout 0, no full state", () => {
    expect(parseSyncParams(q(""))).toEqual({ since: undefined, timeoutMs: 0, fullState: false, setPresence: undefined, filter: undefined, useStateAfter: false });
  });

  it("[sync: timeout] capped at the server's maximum; junk refused", () => {
    expect(parseSyncParams(q("timeout=30000")).timeoutMs).toBe(30000);
    expect(parseSyncParams(q("timeout=99999999")).timeoutMs).toBe(MAX_SYNC_TIMEOUT_MS);
    expect(errcode(() => parseSyncParams(q("timeout=-1")))).toBe("M_INVALID_PARAM");
    expect(errcode(() => parseSyncParams(q("timeout=1.5")))).toBe("M_INVALID_PARAM");
  });

  it("[sync: filter] an ID, or inline JSON when it starts with {", () => {
    expect(parseSyncParams(q("filter=12")).filter).toEqual({ id: "12" });
    expect(parseSyncParams(q(`filter=${encodeURIComponent('{"room":{"timeline":{"limit":3}}}')}`)).filter).toEqual({ inline: { room: { timeline: { limit: 3 } } } });
    expect(errcode(() => parseSyncParams(q("filter={nope")))).toBe("M_NOT_JSON");
    expect(errcode(() => parseSyncParams(q(`filter=${encodeURIComponent('{"room":{"timeline":{"limit":"x"}}}')}`)))).toBe("M_BAD_JSON");
  });

  it("[sync: set_presence] accepted values only; full_state is a boolean", () => {
    expect(parseSyncParams(q("set_presence=offline&full_state=true"))).toMatchObject({ setPresence: "offline", fullState: true });
    expect(errcode(() => parseSyncParams(q("set_presence=busy")))).toBe("M_INVALID_PARAM");
    expect(errcode(() => parseSyncParams(q("full_state=yes")))).toBe("M_INVALID_PARAM");
  });

  it("[filter: timeline limit] defaults to 10; rooms / not_rooms select rooms (not_rooms wins)", () => {
    expect(syncFilter(undefined).timeline.limit).toBe(DEFAULT_TIMELINE_LIMIT);
    const f = syncFilter({ room: { rooms: ["!a", "!b"], not_rooms: ["!b"], timeline: { limit: 2 } } });
    expect(f.timeline.limit).toBe(2);
    expect(roomAllowed(f, "!a")).toBe(true);
    expect(roomAllowed(f, "!b")).toBe(false);
    expect(roomAllowed(f, "!c")).toBe(false);
  });
});
