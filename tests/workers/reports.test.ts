// Reporting content through the edge Worker: events, rooms, users, stored in D1.
// https://spec.matrix.org/v1.19/client-server-api/#reporting-content
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { router } from "../../party/edge/index.ts";
import { BASE, call, createRoom, enc, expectError, newUser, roomPath, sendMessage, SERVER_NAME, V3 } from "./room-helpers.ts";

type ReportRow = { kind: string; reporter: string; room_id: string | null; event_id: string | null; target_user_id: string | null; reason: string | null };

async function reportsBy(userId: string): Promise<ReportRow[]> {
  const r = await env.DB.prepare("SELECT kind, reporter, room_id, event_id, target_user_id, reason FROM reports WHERE reporter = ? ORDER BY id").bind(userId).all<ReportRow>();
  return r.results;
}

const userReport = (userId: string) => `${V3}/users/${enc(userId)}/report`;

describe("[cs: reporting-content] POST /rooms/{roomId}/report/{eventId}", () => {
  it("[cs: reporting-content] a joined member reports a visible event: 200 {}, stored with the sender", async () => {
    const alice = await newUser("rep");
    const bob = await newUser("rep");
    const room = await createRoom(alice, { preset: "public_chat" });
    await bob.ok("POST", roomPath(room, "join"), {});
    const ev = (await sendMessage(alice, room, "bad words")).body.event_id as string;
    expect(await bob.ok("POST", roomPath(room, `report/${enc(ev)}`), { reason: "this makes me sad" })).toEqual({});
    // reason is optional for event reports.
    expect(await bob.ok("POST", roomPath(room, `report/${enc(ev)}`), {})).toEqual({});
    expect(await reportsBy(bob.userId)).toEqual([
      { kind: "event", reporter: bob.userId, room_id: room, event_id: ev, target_user_id: alice.userId, reason: "this makes me sad" },
      { kind: "event", reporter: bob.userId, room_id: room, event_id: ev, target_user_id: alice.userId, reason: null },
    ]);
  });

  it("[cs: reporting-content] not joined, unknown event, unknown room, or an event before the reporter could see: 404 M_NOT_FOUND, nothing stored", async () => {
    const alice = await newUser("rep");
    const bob = await newUser("rep");
    const room = await createRoom(alice, {
      preset: "public_chat",
      initial_state: [{ type: "m.room.history_visibility", state_key: "", content: { history_visibility: "joined" } }],
    });
    const hidden = (await sendMessage(alice, room, "before bob")).body.event_id as string;
    // Bob is not joined yet.
    expectError(await bob.call("POST", roomPath(room, `report/${enc(hidden)}`), { reason: "x" }), 404, "M_NOT_FOUND");
    await bob.ok("POST", roomPath(room, "join"), {});
    // Joined now, but history_visibility "joined" hides what came before his join.
    expectError(await bob.call("POST", roomPath(room, `report/${enc(hidden)}`), { reason: "x" }), 404, "M_NOT_FOUND");
    expectError(await bob.call("POST", roomPath(room, `report/${enc("$" + "A".repeat(43))}`), {}), 404, "M_NOT_FOUND");
    expectError(await bob.call("POST", roomPath(`!nosuchroom:${SERVER_NAME}`, `report/${enc(hidden)}`), {}), 404, "M_NOT_FOUND");
    expect(await reportsBy(bob.userId)).toEqual([]);
  });

  it("[cs: reporting-content] bad input: reason not a string 400 M_BAD_JSON, too long 400 M_INVALID_PARAM, bad IDs 400, no token 401", async () => {
    const alice = await newUser("rep");
    const room = await createRoom(alice);
    const ev = (await sendMessage(alice, room)).body.event_id as string;
    expectError(await alice.call("POST", roomPath(room, `report/${enc(ev)}`), { reason: 5 }), 400, "M_BAD_JSON");
    expectError(await alice.call("POST", roomPath(room, `report/${enc(ev)}`), { reason: "x".repeat(1001) }), 400, "M_INVALID_PARAM");
    expectError(await alice.call("POST", roomPath(room, `report/${enc(ev)}`), [1]), 400, "M_BAD_JSON");
    expectError(await alice.call("POST", roomPath(room, "report/notanevent"), {}), 400, "M_INVALID_PARAM");
    expectError(await alice.call("POST", roomPath("notaroom", `report/${enc(ev)}`), {}), 400, "M_INVALID_PARAM");
    // Exactly the limit is accepted (characters, not bytes).
    await alice.ok("POST", roomPath(room, `report/${enc(ev)}`), { reason: "é".repeat(1000) });
    expectError(await call("POST", roomPath(room, `report/${enc(ev)}`), {}), 401, "M_MISSING_TOKEN");
    expect((await reportsBy(alice.userId)).length).toBe(1);
  });
});

describe("[cs: reporting-content] POST /rooms/{roomId}/report", () => {
  it("[cs: reporting-content] any user may report an existing room (not joined); reason required (may be blank)", async () => {
    const alice = await newUser("rep");
    const bob = await newUser("rep");
    const room = await createRoom(alice);
    expect(await bob.ok("POST", roomPath(room, "report"), { reason: "" })).toEqual({});
    expectError(await bob.call("POST", roomPath(room, "report"), {}), 400, "M_MISSING_PARAM");
    expectError(await bob.call("POST", roomPath(`!nosuchroom:${SERVER_NAME}`, "report"), { reason: "x" }), 404, "M_NOT_FOUND");
    expect(await reportsBy(bob.userId)).toEqual([{ kind: "room", reporter: bob.userId, room_id: room, event_id: null, target_user_id: null, reason: "" }]);
  });
});

describe("[cs: reporting-content] POST /users/{userId}/report", () => {
  it("[cs: reporting-content] a local user is reported; unknown and remote users are 404 M_NOT_FOUND; bad ID 400", async () => {
    const alice = await newUser("rep");
    const bob = await newUser("rep");
    expect(await alice.ok("POST", userReport(bob.userId), { reason: "spam" })).toEqual({});
    expectError(await alice.call("POST", userReport(`@nobody-here:${SERVER_NAME}`), { reason: "x" }), 404, "M_NOT_FOUND");
    expectError(await alice.call("POST", userReport("@someone:elsewhere.example"), { reason: "x" }), 404, "M_NOT_FOUND");
    expectError(await alice.call("POST", userReport("not-a-user"), { reason: "x" }), 400, "M_INVALID_PARAM");
    expectError(await alice.call("POST", userReport(bob.userId), { reason: null }), 400, "M_BAD_JSON");
    expectError(await alice.call("POST", userReport(bob.userId), {}), 400, "M_MISSING_PARAM");
    expect(await reportsBy(alice.userId)).toEqual([{ kind: "user", reporter: alice.userId, room_id: null, event_id: null, target_user_id: bob.userId, reason: "spam" }]);
  });

  it("[cs: rate-limiting] reports are rate limited per reporter: 429 M_LIMIT_EXCEEDED with retry_after_ms; REPORT_REASON_MAX_LENGTH is a setting", async () => {
    const alice = await newUser("rep");
    const bob = await newUser("rep");
    const vars = { RATE_LIMITS_ENABLED: "true", RATE_REPORT_BURST: "2", RATE_REPORT_PER_SECOND: "0.001", REPORT_REASON_MAX_LENGTH: "3" };
    const post = async (reason: string) => {
      const ctx = createExecutionContext();
      const req = new Request(BASE + userReport(bob.userId), { method: "POST", headers: { Authorization: `Bearer ${alice.token}` }, body: JSON.stringify({ reason }) });
      const res = await router.handle(req, { ...env, ...vars }, ctx);
      await waitOnExecutionContext(ctx);
      return { status: res.status, body: await res.json<JsonObject>() };
    };
    expectError(await post("long"), 400, "M_INVALID_PARAM");
    expect((await post("abc")).status).toBe(200);
    expect((await post("abc")).status).toBe(200);
    const limited = await post("abc");
    expectError(limited, 429, "M_LIMIT_EXCEEDED");
    expect(typeof limited.body.retry_after_ms).toBe("number");
    expect((await reportsBy(alice.userId)).length).toBe(2);
  });
});
