import { describe, expect, it } from "vitest";
import { splitDottedPath } from "../../lib/dotted-path.ts";
import { eventFieldsProjection } from "../../lib/event-fields.ts";

describe("dot-separated property paths (spec appendix)", () => {
  it("[appendix: property paths] splits on dots; \\. is a literal dot and \\\\ a literal backslash", () => {
    expect(splitDottedPath("content.body")).toEqual(["content", "body"]);
    expect(splitDottedPath("content.m\\.relates_to.rel_type")).toEqual(["content", "m.relates_to", "rel_type"]);
    expect(splitDottedPath("content.a\\\\.b")).toEqual(["content", "a\\", "b"]);
    expect(splitDottedPath("content.x\\y")).toEqual(["content", "x\\y"]);
  });
});

describe("Filter.event_fields", () => {
  const event = {
    type: "m.room.message",
    sender: "@a:x",
    event_id: "$e",
    content: { body: "hi", msgtype: "m.text", "m.relates_to": { rel_type: "m.thread", event_id: "$root" } },
    unsigned: { age: 5 },
  };

  it("[filter: event_fields] keeps only the listed fields, nested paths included", () => {
    const project = eventFieldsProjection(["type", "content.body", "content.m\\.relates_to.rel_type"]);
    expect(project(event)).toEqual({ type: "m.room.message", content: { body: "hi", "m.relates_to": { rel_type: "m.thread" } } });
  });

  it("[filter: event_fields] a missing field or a path through a non-object selects nothing", () => {
    const project = eventFieldsProjection(["state_key", "content.body.length", "sender"]);
    expect(project(event)).toEqual({ sender: "@a:x" });
  });

  it("[filter: event_fields] a field named __proto__ is copied as a field, never as the prototype", () => {
    const hostile = JSON.parse('{"type":"x","__proto__":{"polluted":true}}') as Record<string, unknown>;
    const out = eventFieldsProjection(["__proto__", "type"])(hostile as never) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect((out as { polluted?: boolean }).polluted).toBeUndefined();
    expect(Object.hasOwn(out, "__proto__")).toBe(true);
  });

  it("[filter: event_fields] a whole object named and one of its fields named keep the whole object", () => {
    const project = eventFieldsProjection(["content", "content.body"]);
    expect(project(event).content).toEqual(event.content);
    const reversed = eventFieldsProjection(["content.body", "content"]);
    expect(reversed(event).content).toEqual(event.content);
  });
});
