/**
 * Device-list tracking by rooms (docs/design/e2ee.md, "Device lists"): what one /sync
 * learnt from its room answers about the users the syncing user shares rooms with, as
 * the user's DeviceKeys actor records it. Pure; the actor applies it in one transaction.
 * https://spec.matrix.org/v1.19/client-server-api/#tracking-the-device-list-for-a-user
 */

/** What one room answer said, for the DeviceKeys actor's per-room member lists. */
export interface RoomObservation {
  roomId: string;
  /** The room's event stream the facts hold at: older facts never overwrite newer ones. */
  stream: number;
  /** The whole joined-member list (replaces what is held for the room). */
  members?: string[];
  /** Or the members who joined / left since the client's last position. */
  joined?: string[];
  left?: string[];
  /** The user is not joined any more: the room no longer counts. */
  gone?: true;
  /** The room's device-list position, and the joined members whose device list changed before it. */
  d?: number;
  keysChanged?: string[];
}

/** The parts of a room's sync answer this needs (lib/sync/response.ts RoomSyncResult). */
export interface RoomAnswerFacts {
  membership: string;
  position: { s: number; d?: number };
  members?: string[];
  memberChanges?: { joined: string[]; left: string[] };
  deviceListChanged?: string[];
}

/** What this User actor already handed over (memory only: after a restart, sent once more). */
export interface SentFacts {
  /** Per room, the stream of the last whole member list the DeviceKeys actor took. */
  lists: ReadonlyMap<string, number>;
  /** Per room, the stream of the last departure it took. */
  gone: ReadonlyMap<string, number>;
}

/**
 * The observations of one sync: from the room answers, and departures (`departed`: rooms
 * the user's memberships say it left or was banned from, with the member event's stream)
 * that no answer covered — a device whose token expired never asks a room it left, yet
 * the lists must drop it. Nothing already sent (`sent`) is sent again: an initial sync of
 * a user in many big rooms would otherwise resend every list.
 */
export function observeRooms(
  answers: ReadonlyArray<readonly [roomId: string, result: RoomAnswerFacts]>,
  departed: ReadonlyArray<readonly [roomId: string, stream: number]>,
  sent: SentFacts,
): RoomObservation[] {
  const out: RoomObservation[] = [];
  const answered = new Set<string>();
  for (const [roomId, r] of answers) {
    answered.add(roomId);
    const stream = r.position.s;
    if (r.membership !== "join") {
      // Only a room the lists may hold matters; a stranger's room (invite, knock) never was.
      if ((r.membership === "leave" || r.membership === "ban") && (sent.gone.get(roomId) ?? -1) < stream) out.push({ roomId, stream, gone: true });
      continue;
    }
    const o: RoomObservation = { roomId, stream };
    if (r.members && (sent.lists.get(roomId) ?? -1) < stream) o.members = r.members;
    if (r.memberChanges) {
      o.joined = r.memberChanges.joined;
      o.left = r.memberChanges.left;
    }
    if (r.deviceListChanged && r.deviceListChanged.length > 0) {
      o.d = r.position.d ?? 0;
      o.keysChanged = r.deviceListChanged;
    }
    if (o.members || o.joined || o.keysChanged) out.push(o);
  }
  for (const [roomId, stream] of departed) {
    if (!answered.has(roomId) && (sent.gone.get(roomId) ?? -1) < stream) out.push({ roomId, stream, gone: true });
  }
  return out;
}

/**
 * Applies observations to per-room member lists (held as room → set). Returns, per user
 * whose "shares a room with the owner" changed, whether they now do — `true`: newly
 * shared (report as changed), `false`: no room shared any more (report as left) — and
 * the users whose keys changed while shared. The owner never counts.
 *
 * `rooms` is a view of the stored lists with the stream each was last updated at and the
 * newest device-list position recorded per room; the actor implements it over SQL.
 */
export interface MemberLists {
  streamOf(roomId: string): number | undefined;
  deviceListPosOf(roomId: string): number;
  members(roomId: string): string[];
  add(roomId: string, userId: string): void;
  remove(roomId: string, userId: string): void;
  dropRoom(roomId: string): void;
  setRoom(roomId: string, stream: number): void;
  setDeviceListPos(roomId: string, d: number): void;
  /** Whether the user is in any held room. */
  shared(userId: string): boolean;
}

export interface TrackingOutcome {
  /** User → shares a room now (true) or not any more (false); only users whose answer flipped. */
  sharing: Map<string, boolean>;
  keysChanged: string[];
}

export function applyObservations(lists: MemberLists, owner: string, observations: readonly RoomObservation[]): TrackingOutcome {
  const before = new Map<string, boolean>();
  const touch = (u: string) => {
    if (u !== owner && !before.has(u)) before.set(u, lists.shared(u));
  };
  const change = (roomId: string, u: string, joined: boolean) => {
    if (u === owner) return;
    touch(u);
    if (joined) lists.add(roomId, u);
    else lists.remove(roomId, u);
  };
  const keysChanged: string[] = [];
  for (const o of observations) {
    const held = lists.streamOf(o.roomId);
    const newer = held === undefined || o.stream > held;
    if (o.gone) {
      if (held !== undefined && newer) {
        for (const u of lists.members(o.roomId)) touch(u);
        lists.dropRoom(o.roomId);
      }
      continue;
    }
    if (newer && o.members) {
      const next = new Set(o.members.filter((u) => u !== owner));
      const current = held === undefined ? [] : lists.members(o.roomId);
      const have = new Set(current);
      for (const u of current) if (!next.has(u)) change(o.roomId, u, false);
      for (const u of next) if (!have.has(u)) change(o.roomId, u, true);
      lists.setRoom(o.roomId, o.stream);
    } else if (newer && (o.joined || o.left)) {
      for (const u of o.joined ?? []) change(o.roomId, u, true);
      for (const u of o.left ?? []) change(o.roomId, u, false);
      lists.setRoom(o.roomId, o.stream);
    }
    if (o.keysChanged && o.d !== undefined && o.d > lists.deviceListPosOf(o.roomId)) {
      for (const u of o.keysChanged) if (u !== owner) keysChanged.push(u);
      if (lists.streamOf(o.roomId) !== undefined) lists.setDeviceListPos(o.roomId, o.d);
    }
  }
  const sharing = new Map<string, boolean>();
  for (const [u, was] of before) {
    const now = lists.shared(u);
    if (now !== was) sharing.set(u, now);
  }
  return { sharing, keysChanged: [...new Set(keysChanged)].filter((u) => lists.shared(u)) };
}
