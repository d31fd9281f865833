import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../lib/json.ts";
import { addCounts, countUnread, isUnread, readPositions, type CountedEvent } from "../../../lib/push/counts.ts";
import { defaultRuleset } from "../../../lib/push/default-rules.ts";

const ME = "@me:example.org";
const OTHER = "@other:example.org";
const rules = defaultRuleset(ME);
// Three members: the one-to-one underride (.m.rule.room_one_to_one) does not apply; .m.rule.message does.
const ctx = { userId: ME, displayName: "Me", roomMemberCount: 3 };

let n = 0;
function msg(stream: number, body: string, extra: { sender?: string; threadId?: string; mentions?: string[] } = {}): CountedEvent {
  const content: JsonObject = { msgtype: "m.text", body };
  if (extra.mentions) content["m.mentions"] = { user_ids: extra.mentions };
  const event: JsonObject = { event_id: `$e${++n}`, type: "m.room.message", sender: extra.sender ?? OTHER, room_id: "!r:example.org", content };
  return { stream, event, threadId: extra.threadId ?? "main", senderPowerLevel: 0 };
}

describe("push counts", () => {
  it("[push: counts] plain messages after no receipt count as notifications, not highlights", () => {
    const r = countUnread([msg(3, "b"), msg(2, "a")], readPositions([]), ctx, rules, false);
    expect(r.room).toEqual({ notification_count: 2, highlight_count: 0 });
  });

  it("[push: counts/is_user_mention] a mention of the user is a highlight", () => {
    const r = countUnread([msg(2, "hi", { mentions: [ME] }), msg(1, "x", { mentions: [OTHER] })], readPositions([]), ctx, rules, false);
    expect(r.room).toEqual({ notification_count: 2, highlight_count: 1 });
  });

  it("[push: counts] the user's own messages never count", () => {
    const r = countUnread([msg(2, "mine", { sender: ME, mentions: [ME] })], readPositions([]), ctx, rules, false);
    expect(r.room).toEqual({ notification_count: 0, highlight_count: 0 });
  });

  it("[push: counts/receipts] events up to an m.read receipt are read", () => {
    const read = readPositions([{ receiptType: "m.read", threadId: "", eventStream: 2 }]);
    const r = countUnread([msg(3, "c"), msg(2, "b", { mentions: [ME] }), msg(1, "a")], read, ctx, rules, false);
    expect(r.room).toEqual({ notification_count: 1, highlight_count: 0 });
  });

  it("[push: counts/receipts] m.read.private clears like m.read and the newer of both wins", () => {
    const read = readPositions([
      { receiptType: "m.read", threadId: "", eventStream: 1 },
      { receiptType: "m.read.private", threadId: "", eventStream: 3 },
      { receiptType: "m.fully_read", threadId: "", eventStream: 9 },
    ]);
    expect(read.unthreaded).toBe(3);
    const r = countUnread([msg(4, "d"), msg(3, "c"), msg(2, "b")], read, ctx, rules, false);
    expect(r.room.notification_count).toBe(1);
  });

  it("[push: counts/threads] threaded receipts give per-thread counts; main counts only the main timeline", () => {
    const read = readPositions([
      { receiptType: "m.read", threadId: "main", eventStream: 2 },
      { receiptType: "m.read", threadId: "$root", eventStream: 4 },
    ]);
    const events = [msg(6, "t2", { threadId: "$root", mentions: [ME] }), msg(5, "m3"), msg(4, "t1", { threadId: "$root" }), msg(3, "m2"), msg(2, "m1")];
    const r = countUnread(events, read, ctx, rules, true);
    expect(r.room).toEqual({ notification_count: 2, highlight_count: 0 });
    expect(r.threads).toEqual({ $root: { notification_count: 1, highlight_count: 1 } });
  });

  it("[push: counts/threads] without the threaded form, thread events add to the room count after an unthreaded receipt", () => {
    const read = readPositions([{ receiptType: "m.read", threadId: "", eventStream: 3 }]);
    const events = [msg(5, "t", { threadId: "$root" }), msg(4, "m"), msg(3, "old")];
    const r = countUnread(events, read, ctx, rules, false);
    expect(r.room).toEqual({ notification_count: 2, highlight_count: 0 });
    expect(r.threads).toBeUndefined();
  });

  it("[push: counts/receipts] an unthreaded receipt covers every thread", () => {
    const read = readPositions([{ receiptType: "m.read", threadId: "", eventStream: 10 }]);
    expect(isUnread(8, "$root", read)).toBe(false);
    expect(isUnread(11, "$root", read)).toBe(true);
  });

  it("[push: counts] an enabled .m.rule.master silences everything", () => {
    const muted = defaultRuleset(ME);
    muted.override = muted.override.map((r) => (r.rule_id === ".m.rule.master" ? { ...r, enabled: true } : r));
    const r = countUnread([msg(2, "hi", { mentions: [ME] })], readPositions([]), ctx, muted, false);
    expect(r.room).toEqual({ notification_count: 0, highlight_count: 0 });
  });

  it("[push: counts/incremental] counting on from a memo equals counting the whole run (room and threads)", () => {
    const read = readPositions([{ receiptType: "m.read", threadId: "$root", eventStream: 1 }]);
    const older = [msg(1, "a"), msg(2, "t", { threadId: "$root", mentions: [ME] }), msg(3, "b")];
    const newer = [msg(4, "c", { mentions: [ME] }), msg(5, "t2", { threadId: "$root" }), msg(6, "t3", { threadId: "$other" })];
    for (const perThread of [false, true]) {
      const whole = countUnread([...older, ...newer], read, ctx, rules, perThread);
      const onward = addCounts(countUnread(older, read, ctx, rules, perThread), countUnread(newer, read, ctx, rules, perThread));
      expect(onward).toEqual(whole);
    }
  });
});
