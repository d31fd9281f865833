// Authorization matrix: state-changing actions × roles, in room versions 10, 11 and 12,
// through the edge. Expected outcomes follow the auth rules with the public_chat
// defaults (events 0, state 50, power_levels 100, invite/kick/ban/redact 50).
// https://spec.matrix.org/v1.19/rooms/v11/#authorization-rules, v12 (creators).
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../lib/json.ts";
import { createRoom, enc, newUser, roomPath, sendMessage, type TestUser, V3 } from "./room-helpers.ts";

type Role = "creator" | "admin" | "moderator" | "member" | "invited" | "left" | "banned" | "knocking" | "stranger";
const ROLES: Role[] = ["creator", "admin", "moderator", "member", "invited", "left", "banned", "knocking", "stranger"];
const POWERFUL: Role[] = ["creator", "admin", "moderator"];

interface Room {
  roomId: string;
  users: Record<Role, TestUser>;
  creator: TestUser;
  victimMessage: string;
}

async function setUp(version: string): Promise<Room> {
  const users = Object.fromEntries(await Promise.all(ROLES.map(async (r) => [r, await newUser(r.slice(0, 3))] as const))) as Record<Role, TestUser>;
  const creator = users.creator;
  const roomId = await createRoom(creator, { preset: "public_chat", room_version: version });
  for (const r of ["admin", "moderator", "member", "left", "banned"] as Role[]) await users[r].ok("POST", roomPath(roomId, "join"), {});
  const pl = await creator.ok("GET", roomPath(roomId, "state/m.room.power_levels"));
  (pl.users as JsonObject)[users.admin.userId] = 100;
  (pl.users as JsonObject)[users.moderator.userId] = 50;
  await creator.ok("PUT", roomPath(roomId, "state/m.room.power_levels"), pl);
  await users.left.ok("POST", roomPath(roomId, "leave"), {});
  await creator.ok("POST", roomPath(roomId, "ban"), { user_id: users.banned.userId });
  await creator.ok("POST", roomPath(roomId, "invite"), { user_id: users.invited.userId });
  // knocking needs the knock join rule for a moment
  await creator.ok("PUT", roomPath(roomId, "state/m.room.join_rules"), { join_rule: "knock" });
  await users.knocking.ok("POST", `${V3}/knock/${enc(roomId)}`, {});
  await creator.ok("PUT", roomPath(roomId, "state/m.room.join_rules"), { join_rule: "public" });
  const victim = await newUser("vic");
  await victim.ok("POST", roomPath(roomId, "join"), {});
  const victimMessage = (await sendMessage(victim, roomId, "victim")).body.event_id as string;
  return { roomId, users, creator, victimMessage };
}

/** A fresh joined member with power 0, as the target of kick and ban. */
async function freshTarget(room: Room): Promise<TestUser> {
  const t = await newUser("tgt");
  await t.ok("POST", roomPath(room.roomId, "join"), {});
  return t;
}

type Action = { name: string; allowed: Role[]; run(room: Room, actor: TestUser): Promise<number> };
let txn = 0;
const ACTIONS: Action[] = [
  { name: "send a message (events_default 0)", allowed: [...POWERFUL, "member"], run: async (r, u) => (await sendMessage(u, r.roomId)).status },
  {
    name: "set the topic (state_default 50)",
    allowed: POWERFUL,
    run: async (r, u) => (await u.call("PUT", roomPath(r.roomId, "state/m.room.topic"), { topic: `t${++txn}` })).status,
  },
  {
    name: "raise a member to 10 (m.room.power_levels 100)",
    allowed: ["creator", "admin"],
    run: async (r, u) => {
      const pl = await r.creator.ok("GET", roomPath(r.roomId, "state/m.room.power_levels"));
      (pl.users as JsonObject)[r.users.member.userId] = 10 + (++txn % 20);
      return (await u.call("PUT", roomPath(r.roomId, "state/m.room.power_levels"), pl)).status;
    },
  },
  {
    name: "invite a stranger (invite 50)",
    allowed: POWERFUL,
    run: async (r, u) => (await u.call("POST", roomPath(r.roomId, "invite"), { user_id: (await newUser("inv")).userId })).status,
  },
  {
    name: "kick a member (kick 50)",
    allowed: POWERFUL,
    run: async (r, u) => (await u.call("POST", roomPath(r.roomId, "kick"), { user_id: (await freshTarget(r)).userId })).status,
  },
  {
    name: "ban a member (ban 50)",
    allowed: POWERFUL,
    run: async (r, u) => (await u.call("POST", roomPath(r.roomId, "ban"), { user_id: (await freshTarget(r)).userId })).status,
  },
  {
    name: "redact another member's message (redact 50)",
    allowed: POWERFUL,
    run: async (r, u) => (await u.call("PUT", roomPath(r.roomId, `redact/${enc(r.victimMessage)}/x${++txn}`), {})).status,
  },
  {
    name: "join (public join rule)",
    allowed: ["creator", "admin", "moderator", "member", "invited", "left", "knocking", "stranger"],
    run: async (r, u) => (await u.call("POST", roomPath(r.roomId, "join"), {})).status,
  },
];

describe("[auth: matrix] actions × roles", () => {
  for (const version of ["10", "11", "12"]) {
    it(`[auth: matrix] v${version}: every action gives the outcome the auth rules prescribe for every role`, { timeout: 60_000 }, async () => {
      const room = await setUp(version);
      const got: string[] = [];
      const want: string[] = [];
      for (const action of ACTIONS) {
        // join changes the actor's membership: run it last, on its own.
        for (const role of ROLES) {
          const status = await action.run(room, room.users[role]);
          got.push(`${action.name} / ${role}: ${status}`);
          want.push(`${action.name} / ${role}: ${action.allowed.includes(role) ? 200 : 403}`);
        }
      }
      expect(got).toEqual(want);
    });
  }

  it("[auth: member/leave/kick-power] a moderator cannot kick or ban an admin; an admin cannot kick the v12 creator", { timeout: 60_000 }, async () => {
    const room = await setUp("12");
    const { admin, moderator, creator } = room.users;
    expect((await moderator.call("POST", roomPath(room.roomId, "kick"), { user_id: admin.userId })).status).toBe(403);
    expect((await moderator.call("POST", roomPath(room.roomId, "ban"), { user_id: admin.userId })).status).toBe(403);
    expect((await admin.call("POST", roomPath(room.roomId, "kick"), { user_id: creator.userId })).status).toBe(403);
    expect((await creator.call("POST", roomPath(room.roomId, "kick"), { user_id: admin.userId })).status).toBe(200);
  });
});
