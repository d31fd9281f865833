import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import {
  bundledRelations,
  isValidReplacement,
  latestReplacement,
  relationOf,
  threadOf,
  threadRootProblem,
  threadSummary,
  type RelatedEvent,
  type Relation,
} from "../../lib/relations.ts";

const original: RelatedEvent = {
  event_id: "$orig",
  type: "m.room.message",
  sender: "@a:x",
  origin_server_ts: 100,
  content: { body: "helo", msgtype: "m.text" },
};

function edit(id: string, ts: number, over: Partial<RelatedEvent> = {}, content: JsonObject = {}): RelatedEvent {
  return {
    event_id: id,
    type: "m.room.message",
    sender: "@a:x",
    origin_server_ts: ts,
    content: {
      body: "* hello",
      "m.new_content": { body: "hello", msgtype: "m.text" },
      "m.relates_to": { rel_type: "m.replace", event_id: "$orig" },
      ...content,
    },
    ...over,
  };
}

describe("relations", () => {
  it("[relations: m.relates_to] a relation needs rel_type and event_id", () => {
    expect(relationOf({ "m.relates_to": { rel_type: "m.reference", event_id: "$p" } })).toEqual({ relType: "m.reference", eventId: "$p" });
    expect(relationOf({ "m.relates_to": { event_id: "$p" } })).toBeUndefined();
    expect(relationOf({ "m.relates_to": { rel_type: "m.reference" } })).toBeUndefined();
    expect(relationOf({ "m.relates_to": { rel_type: "m.reference", event_id: 3 } })).toBeUndefined();
    expect(relationOf({ "m.relates_to": "x" })).toBeUndefined();
    expect(relationOf({})).toBeUndefined();
  });

  it("[relations: rich replies] a bare m.in_reply_to is not a relationship", () => {
    expect(relationOf({ "m.relates_to": { "m.in_reply_to": { event_id: "$p" } } })).toBeUndefined();
  });

  it("[threading] a thread reply carries is_falling_back and its reply fallback", () => {
    expect(
      relationOf({ "m.relates_to": { rel_type: "m.thread", event_id: "$root", is_falling_back: true, "m.in_reply_to": { event_id: "$last" } } }),
    ).toEqual({ relType: "m.thread", eventId: "$root", isFallingBack: true, inReplyTo: "$last" });
  });

  it("[event-replacements: validity] a valid edit: same sender, same type, m.new_content", () => {
    expect(isValidReplacement(original, edit("$e", 200))).toBe(true);
  });

  it("[event-replacements: validity] an edit by another sender is invalid", () => {
    expect(isValidReplacement(original, edit("$e", 200, { sender: "@b:x" }))).toBe(false);
  });

  it("[event-replacements: validity] an edit changing the event type is invalid", () => {
    expect(isValidReplacement(original, edit("$e", 200, { type: "m.sticker" }))).toBe(false);
  });

  it("[event-replacements: validity] state events cannot be edited, nor be edits", () => {
    expect(isValidReplacement({ ...original, state_key: "" }, edit("$e", 200))).toBe(false);
    expect(isValidReplacement(original, edit("$e", 200, { state_key: "" }))).toBe(false);
  });

  it("[event-replacements: validity] an edit of an edit is invalid", () => {
    const e1 = edit("$e1", 200);
    expect(isValidReplacement(e1, edit("$e2", 300, {}, { "m.relates_to": { rel_type: "m.replace", event_id: "$e1" } }))).toBe(false);
  });

  it("[event-replacements: validity] m.new_content is required, except in encrypted edits the server cannot read", () => {
    const noNew = edit("$e", 200);
    delete noNew.content["m.new_content"];
    expect(isValidReplacement(original, noNew)).toBe(false);
    const encOrig = { ...original, type: "m.room.encrypted", content: { ciphertext: "x" } };
    expect(isValidReplacement(encOrig, { ...noNew, type: "m.room.encrypted" })).toBe(true);
  });

  it("[event-replacements: server behaviour] the latest edit wins by origin_server_ts, ties by largest event ID", () => {
    expect(latestReplacement(original, [edit("$a", 200), edit("$b", 300), edit("$c", 250)])?.event_id).toBe("$b");
    expect(latestReplacement(original, [edit("$b", 300), edit("$z", 300), edit("$m", 300)])?.event_id).toBe("$z");
    // Invalid candidates are skipped even when newer.
    expect(latestReplacement(original, [edit("$ok", 200), edit("$bad", 900, { sender: "@evil:x" })])?.event_id).toBe("$ok");
    expect(latestReplacement(original, [])).toBeUndefined();
  });

  it("[threading: aggregation] count, latest_event and current_user_participated", () => {
    const replies = [{ sender: "@b:x", id: 1 }, { sender: "@c:x", id: 2 }];
    expect(threadSummary("@a:x", replies, "@c:x")).toEqual({ latest_event: replies[1], count: 2, current_user_participated: true });
    expect(threadSummary("@a:x", replies, "@a:x")?.current_user_participated).toBe(true);
    expect(threadSummary("@a:x", replies, "@d:x")?.current_user_participated).toBe(false);
    expect(threadSummary("@a:x", [], "@a:x")).toBeUndefined();
  });

  it("[aggregations] unsigned m.relations bundles the edit, the thread and the references", () => {
    const e = { event_id: "$e" } as JsonObject;
    const t = { event_id: "$t" } as JsonObject;
    expect(bundledRelations({ replace: e, thread: { latest_event: t, count: 1, current_user_participated: false }, references: ["$r1", "$r2"] }, false)).toEqual({
      "m.replace": e,
      "m.thread": { latest_event: t, count: 1, current_user_participated: false },
      "m.reference": { chunk: [{ event_id: "$r1" }, { event_id: "$r2" }] },
    });
    expect(bundledRelations({}, false)).toBeUndefined();
    expect(bundledRelations({ references: [] }, false)).toBeUndefined();
  });

  it("[event-replacements: redactions] an edit is not bundled with a redacted original", () => {
    expect(bundledRelations({ replace: { event_id: "$e" } }, true)).toBeUndefined();
  });

  it("[threading] an event with a relation cannot be a thread root", () => {
    expect(threadRootProblem({ content: { body: "x" } })).toBeUndefined();
    expect(threadRootProblem({ content: { "m.relates_to": { rel_type: "m.thread", event_id: "$r" } } })).toContain("m.thread");
  });

  it("[receipts: threaded] the thread of an event: thread replies, their edits, and the main timeline", () => {
    const rels = new Map<string, Relation>([["$reply", { relType: "m.thread", eventId: "$root" }]]);
    const up = (id: string) => rels.get(id);
    expect(threadOf({ body: "x" }, up)).toBe("main");
    expect(threadOf({ "m.relates_to": { rel_type: "m.thread", event_id: "$root" } }, up)).toBe("$root");
    expect(threadOf({ "m.relates_to": { rel_type: "m.replace", event_id: "$reply" } }, up)).toBe("$root");
    expect(threadOf({ "m.relates_to": { rel_type: "m.annotation", event_id: "$root" } }, up)).toBe("main");
  });
});
