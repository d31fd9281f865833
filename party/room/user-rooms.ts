/**
 * The User actor's side of rooms: the user's room list (schema/user.sql `rooms`), and the
 * membership actions a user starts (create, join, leave, knock, forget), which go
 * edge → User actor → Room actor because the User actor holds the profile the member
 * event carries. Kept here, beside the room code it drives; party/user.ts delegates.
 *
 * The room list is written twice for the user's own actions: directly when the room
 * answers (so /joined_rooms is right as soon as /join returns), and by the room's outbox
 * (which also brings invites, kicks and bans others make). Each row keeps the room's
 * stream position of the member event, and an older one never overwrites a newer.
 */
import { MatrixError } from "../../lib/errors.ts";
import type { JsonValue } from "../../lib/json.ts";
import type { CreateRoomRequest, MemberProfile } from "../../lib/room-create.ts";
import type { Env } from "../env.ts";
import type { MembershipResult } from "../room.ts";
import { roomActor } from "../stubs.ts";
import { createRoom } from "./create.ts";
import { asMatrixError } from "../edge/http.ts";

export type MembershipUpdate = Pick<MembershipResult, "room_id" | "event_id" | "stream" | "membership">;

export class UserRooms {
  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: Env,
    private readonly userId: string,
  ) {}

  /** displayname and avatar_url from the user's profile, as member events carry them. */
  profile(): MemberProfile {
    const out: MemberProfile = {};
    for (const r of this.ctx.storage.sql
      .exec<{ key: string; value: string }>("SELECT key, value FROM profile WHERE key IN ('displayname', 'avatar_url')")
      .toArray()) {
      const v = JSON.parse(r.value) as JsonValue;
      if (typeof v === "string") out[r.key as keyof MemberProfile] = v;
    }
    return out;
  }

  /** Records a membership change unless a newer one is already known. */
  record(u: MembershipUpdate): void {
    const active = this.ctx.storage.sql
      .exec("SELECT 1 AS x FROM account WHERE id = 1 AND deactivated_ts IS NULL")
      .toArray().length;
    if (!active) return; // no account here: nothing to record
    this.ctx.storage.sql.exec(
      "INSERT INTO rooms (room_id, membership, event_id, stream, forgotten, updated_ts) VALUES (?, ?, ?, ?, 0, ?) " +
        "ON CONFLICT (room_id) DO UPDATE SET membership = excluded.membership, event_id = excluded.event_id, " +
        "stream = excluded.stream, updated_ts = excluded.updated_ts, " +
        "forgotten = CASE WHEN excluded.membership IN ('join', 'invite', 'knock') THEN 0 ELSE rooms.forgotten END " +
        "WHERE excluded.stream > rooms.stream",
      u.room_id,
      u.membership,
      u.event_id,
      u.stream,
      Date.now(),
    );
  }

  joinedRooms(): string[] {
    return this.ctx.storage.sql
      .exec<{ room_id: string }>("SELECT room_id FROM rooms WHERE membership = 'join' ORDER BY room_id")
      .toArray()
      .map((r) => r.room_id);
  }

  async create(req: CreateRoomRequest): Promise<{ room_id: string }> {
    const r = await createRoom(this.env, this.userId, this.profile(), req);
    this.record(r);
    return { room_id: r.room_id };
  }

  async join(roomId: string, reason?: string): Promise<{ room_id: string }> {
    const r = await roomActor(this.env, roomId).join({ userId: this.userId, profile: this.profile(), reason });
    this.record(r);
    return { room_id: roomId };
  }

  async leave(roomId: string, reason?: string): Promise<void> {
    this.record(await roomActor(this.env, roomId).leave({ userId: this.userId, reason }));
  }

  async knock(roomId: string, reason?: string): Promise<{ room_id: string }> {
    this.record(await roomActor(this.env, roomId).knock({ userId: this.userId, profile: this.profile(), reason }));
    return { room_id: roomId };
  }

  /** /forget: only rooms the user is no longer in; afterwards the room is hidden from them. */
  forget(roomId: string): void {
    const row = this.ctx.storage.sql
      .exec<{ membership: string }>("SELECT membership FROM rooms WHERE room_id = ?", roomId)
      .toArray()[0];
    if (row?.membership === "join") throw new MatrixError("M_UNKNOWN", 400, "you are still in this room; leave it first");
    this.ctx.storage.sql.exec("UPDATE rooms SET forgotten = 1 WHERE room_id = ?", roomId);
  }

  /**
   * A new displayname or avatar reaches every joined room as a new member event: one
   * outbox row per joined room (party/user/outbox.ts), written inside the profile change's
   * transaction; `deliverProfile` runs for each with the profile as it is then.
   */
  queueProfile(queue: (roomId: string) => void): void {
    for (const roomId of this.joinedRooms()) queue(roomId);
  }

  /**
   * One room's member event with the current profile (a no-op when unchanged or not
   * joined). A refusal (a MatrixError: the room is gone, the auth rules say no) is final
   * and dropped; anything else throws, to be retried.
   */
  async deliverProfile(roomId: string): Promise<void> {
    try {
      await roomActor(this.env, roomId).updateProfile({ userId: this.userId, profile: this.profile() });
    } catch (e) {
      const refused = asMatrixError(e);
      if (!refused) throw e;
      console.error(`profile of ${this.userId} not applied in ${roomId}: ${refused.errcode} ${refused.message}`);
    }
  }
}
