// Sends are rate limited per user (RATE_MESSAGE_*, Synapse's rc_message), with
// 429 M_LIMIT_EXCEEDED and retry_after_ms; nothing is written for a refused send.
// https://spec.matrix.org/v1.19/client-server-api/#rate-limiting
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { router } from "../../party/edge/index.ts";
import { BASE, createRoom, expectError, newUser, roomPath } from "./room-helpers.ts";

const vars = { RATE_LIMITS_ENABLED: "true", RATE_MESSAGE_BURST: "3", RATE_MESSAGE_PER_SECOND: "0.001" };

async function limited(token: string, method: string, path: string, body: unknown) {
  const ctx = createExecutionContext();
  const req = new Request(BASE + path, { method, headers: { Authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
  const res = await router.handle(req, { ...env, ...vars }, ctx);
  await waitOnExecutionContext(ctx);
  return { status: res.status, body: await res.json<JsonObject>() };
}

describe("[cs: rate-limiting] sending events", () => {
  it("[cs: rate-limiting] a user's sends, state changes and redactions share one bucket: the 4th of burst 3 is 429 M_LIMIT_EXCEEDED and stores nothing", async () => {
    const alice = await newUser("rlm");
    const roomId = await createRoom(alice, { preset: "private_chat" });
    const first = await limited(alice.token, "PUT", roomPath(roomId, "send/m.room.message/t1"), { msgtype: "m.text", body: "one" });
    expect(first.status).toBe(200);
    expect((await limited(alice.token, "PUT", roomPath(roomId, "state/m.room.topic/"), { topic: "two" })).status).toBe(200);
    expect((await limited(alice.token, "PUT", roomPath(roomId, `redact/${encodeURIComponent(first.body.event_id as string)}/r1`), {})).status).toBe(200);
    const refused = await limited(alice.token, "PUT", roomPath(roomId, "send/m.room.message/t4"), { msgtype: "m.text", body: "four" });
    expectError(refused, 429, "M_LIMIT_EXCEEDED");
    expect(typeof refused.body.retry_after_ms).toBe("number");
    const recent = (await alice.ok("GET", roomPath(roomId, "messages?dir=b&limit=5"))) as { chunk: Array<{ content: JsonObject }> };
    expect(recent.chunk.map((e) => e.content.body)).not.toContain("four");
    // The bucket is the user's: another user is not affected.
    const bob = await newUser("rlm");
    const bobRoom = await createRoom(bob, { preset: "private_chat" });
    expect((await limited(bob.token, "PUT", roomPath(bobRoom, "send/m.room.message/b1"), { msgtype: "m.text", body: "hi" })).status).toBe(200);
  });
});
