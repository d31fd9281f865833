/**
 * One sync's look at the hub shards (docs/design/sync.md, "Catch-up"), shared by /sync v2
 * (party/sync/user-sync.ts) and sliding sync (party/sync/sliding/sliding-sync.ts): one
 * `poll` per shard holding any of the rooms, in parallel, arming the user at the answer's
 * positions (arm-ahead); rooms a shard does not know — or every room of a shard that
 * failed — are asked for their position directly, and those positions are kept as seeds
 * for the shard's next poll.
 */
import { forEachLimited } from "../../lib/concurrency.ts";
import { shardOf } from "../../lib/sync/hub.ts";
import type { PublishedPosition, RoomPosition } from "../../lib/sync/position.ts";
import type { HubRoomDelta } from "../../lib/sync/shared-event.ts";
import type { Env } from "../env.ts";
import { roomActor, syncHubActor, syncHubShards } from "../stubs.ts";

/** Rooms asked directly at once. */
const ROOM_CONCURRENCY = 32;

export interface HubLook {
  /** Rooms whose position is ahead of the one given, with their events when the shard had them all. */
  changed: HubRoomDelta[];
  /** Rooms no shard could answer for, with the position the room itself gave (rooms that did not answer are absent). */
  asked: Array<[string, PublishedPosition]>;
  /** Every shard answered and armed the user, and no room had to be asked directly. */
  allArmed: boolean;
}

export async function pollHubShards(p: {
  env: Env;
  userId: string;
  /** The rooms and the positions the caller has. */
  known: Iterable<[string, RoomPosition]>;
  /** Positions learnt from rooms directly, handed to their shard once (the caller's map; consumed). */
  seeds: Map<string, PublishedPosition>;
  armUntil: number;
  /** Most events a shard returns per room. */
  maxEvents: number;
  /** Called once per shard poll (cost counters). */
  onPoll?: () => void;
  /** Names the caller in log lines. */
  label: string;
}): Promise<HubLook> {
  const shards = syncHubShards(p.env);
  const byShard = new Map<number, Array<[string, RoomPosition]>>();
  for (const [roomId, pos] of p.known) {
    const s = shardOf(roomId, shards);
    let list = byShard.get(s);
    if (!list) byShard.set(s, (list = []));
    // Passed whole: whatever streams a position has, the shard compares them all.
    list.push([roomId, pos]);
  }
  const changed: HubRoomDelta[] = [];
  const unknown: string[] = [];
  let allArmed = true;
  await Promise.all(
    [...byShard].map(async ([shard, known]) => {
      const seeds: Array<[string, PublishedPosition]> = [];
      for (const [roomId] of known) {
        const seed = p.seeds.get(roomId);
        if (seed) seeds.push([roomId, seed]);
        p.seeds.delete(roomId);
      }
      try {
        p.onPoll?.();
        const r = await syncHubActor(p.env, shard).poll(p.userId, known, seeds, p.armUntil, p.maxEvents, true);
        changed.push(...r.changed);
        unknown.push(...r.unknown);
        if (!r.armed) allArmed = false;
      } catch (e) {
        allArmed = false;
        console.error(`${p.label}: hub shard ${shard} unavailable; asking its rooms`, e);
        unknown.push(...known.map(([roomId]) => roomId));
      }
    }),
  );
  const asked: Array<[string, PublishedPosition]> = [];
  await forEachLimited(unknown, ROOM_CONCURRENCY, async (roomId) => {
    const pos = await roomActor(p.env, roomId).syncPosition().catch(() => undefined);
    if (!pos) return;
    p.seeds.set(roomId, pos);
    asked.push([roomId, pos]);
  });
  // A room the shard did not know is armed there at the caller's old position, not at what it learns now.
  if (unknown.length > 0) allArmed = false;
  return { changed, asked, allArmed };
}
