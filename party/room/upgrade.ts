/**
 * POST /rooms/{roomId}/upgrade. The upgrader's User actor drives it, as for /createRoom
 * (room/create.ts): the old Room actor checks the upgrader may send the tombstone and
 * hands over what transfers; the plan (lib/room-upgrade.ts) and the signed create event
 * — which in v12 names the room — are built here; the new Room actor writes every initial
 * event in one transaction; then the old room gets its tombstone and, where the
 * upgrader's power allows, power levels that silence ordinary members.
 * https://spec.matrix.org/v1.19/client-server-api/#room-upgrades
 *
 * Not done: local aliases are not moved (the directory's D1 table), so the canonical alias
 * stays in the old room; local members are not joined (clients follow the tombstone).
 */
import { roomCreators } from "../../lib/auth/index.ts";
import { forbidden, MatrixError } from "../../lib/errors.ts";
import { splitStateKey } from "../../lib/pdu.ts";
import type { MemberProfile, StateTemplate } from "../../lib/room-create.ts";
import { planRoomUpgrade, restrictedPowerLevels, tombstoneContent, TRANSFERABLE_STATE, type OldRoom, type UpgradeRequest } from "../../lib/room-upgrade.ts";
import type { RoomVersionRules } from "../../lib/room-versions.ts";
import type { Env } from "../env.ts";
import type { MembershipResult } from "../room.ts";
import { roomActor } from "../stubs.ts";
import { buildCreateEvent, creatableRules } from "./create.ts";
import { stateIntent } from "./events.ts";
import { powerLevelsIn } from "./membership.ts";
import type { RoomStore } from "./store.ts";
import type { Intent, RoomHead, StateView } from "./write-path.ts";

const TOMBSTONE = "m.room.tombstone";

// ---- the old room's side (called by the Room actor) ------------------------------------

/** What the new room copies; 403 unless `userId` is joined and may send the tombstone. */
export function upgradeSource(roomId: string, userId: string, state: StateView, head: RoomHead, store: RoomStore, rules: RoomVersionRules): OldRoom {
  if (state.get("m.room.member", userId)?.content.membership !== "join") throw forbidden("you are not joined to this room");
  const levels = powerLevelsIn(state, rules);
  const need = levels.required(TOMBSTONE, true);
  if (levels.user(userId) < need) throw forbidden(`upgrading this room needs power level ${need} (to send ${TOMBSTONE})`);
  if (state.get(TOMBSTONE, "")) throw new MatrixError("M_FORBIDDEN", 403, "this room has already been upgraded");
  const create = state.get("m.room.create", "")!;
  const bans: StateTemplate[] = [];
  for (const [k, id] of head.state) {
    const [type, key] = splitStateKey(k);
    if (type !== "m.room.member") continue;
    const ev = store.event(id)?.pdu;
    if (ev?.content.membership === "ban") bans.push({ type, stateKey: key, content: ev.content });
  }
  const old: OldRoom = {
    roomId,
    lastEventId: store.newest()?.eventId ?? create.event_id,
    createContent: create.content,
    creators: rules.authorization.creatorsHaveInfinitePower ? [...roomCreators(create, rules.authorization)] : [],
    state: TRANSFERABLE_STATE.flatMap((t) => {
      const ev = state.get(t, "");
      return ev ? [{ type: t, stateKey: "", content: ev.content }] : [];
    }),
    bans,
  };
  const pl = state.get("m.room.power_levels", "");
  if (pl) old.powerLevels = pl.content;
  return old;
}

export function tombstoneIntent(sender: string, replacementRoom: string): Intent {
  return stateIntent(sender, TOMBSTONE, "", tombstoneContent(replacementRoom));
}

/** The old room's power levels, restricted (lib/room-upgrade.ts); nothing when already so or absent. */
export function restrictIntent(sender: string): Intent {
  return {
    sender,
    type: "m.room.power_levels",
    stateKey: "",
    content: {},
    prepare(state) {
      const current = state.get("m.room.power_levels", "");
      // No power levels event: writing one would take the implied creator level away.
      if (!current) throw forbidden("the room has no power levels to restrict");
      const restricted = restrictedPowerLevels(current.content);
      return restricted ? { content: restricted } : { existing: current.event_id };
    },
  };
}

// ---- the upgrader's side (called by their User actor) -----------------------------------

/** `!<18 random URL-safe characters>:<server>` for room versions before 12 (as room/create.ts). */

/** The whole upgrade; answers the upgrader's join of the new room. */
export async function upgradeRoom(env: Env, upgrader: string, profile: MemberProfile, oldRoomId: string, req: UpgradeRequest): Promise<MembershipResult> {
  const rules = creatableRules(req.newVersion);
  const old = roomActor(env, oldRoomId);
  const source = (await old.upgradeSource({ userId: upgrader })) as unknown as OldRoom;
  const plan = planRoomUpgrade(source, req, upgrader, profile, rules);
  const built = await buildCreateEvent(env, upgrader, plan.createContent, rules);
  const joined = await roomActor(env, built.roomId).create({ createEvent: built.wire, events: plan.events });
  await old.tombstone({ sender: upgrader, replacementRoom: built.roomId });
  return joined;
}
