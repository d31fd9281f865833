/**
 * The DeviceKeys actor's part of a sync (to-device batch, device-list changes, one-time-key
 * counts, unused fallback key types), with answers that had nothing new reused while no
 * notification came in: the DeviceKeys actor notifies the User actor after every change
 * (to-device delivery, device-list change, key upload, key claim), so most long-polls
 * cost it no call. Design: docs/design/sync.md.
 */
import { observeRooms, type RoomAnswerFacts, type RoomObservation } from "../../lib/e2ee/device-list-tracking.ts";
import { MatrixError } from "../../lib/errors.ts";
import type { JsonObject } from "../../lib/json.ts";
import type { Env } from "../env.ts";
import { deviceKeysActor } from "../stubs.ts";
import { SYNC_COUNTERS } from "./counters.ts";

/**
 * The DeviceKeys actor's sync RPC (party/device-keys.ts `syncState`), typed here without
 * the recursive event JSON that workers-types cannot map through an RPC stub.
 */
interface E2eeSyncRpc {
  syncState(
    deviceId: string,
    p: { toDeviceSince: number; deviceListSince: number; observed?: RoomObservation[] },
  ): Promise<{
    toDevice: { events: JsonObject[]; next: number; more: boolean };
    deviceLists: { changed: string[]; left: string[]; pos: number };
    oneTimeKeyCounts: Record<string, number>;
    unusedFallbackKeyTypes: string[];
  }>;
}

export type E2eeState = Awaited<ReturnType<E2eeSyncRpc["syncState"]>>;

export class E2eeAnswers {
  /** Bumped by every notification: cached answers are then stale. */
  #epoch = 0;
  /** Per device: the last answer that had nothing new, and the epoch it was fetched in. */
  readonly #quiet = new Map<string, { epoch: number; state: E2eeState }>();
  /** What the DeviceKeys actor took already (memory only: after a restart, sent once more). */
  readonly #sent = { lists: new Map<string, number>(), gone: new Map<string, number>() };

  constructor(
    private readonly env: Env,
    private readonly userId: string,
  ) {}

  stale(): void {
    this.#epoch++;
  }

  /**
   * The DeviceKeys actor's part (to-device, device lists, key counts). An answer with
   * nothing new is reused while no notification came in (the DeviceKeys actor notifies
   * after every change, key claims included) and the client continues from it.
   */
  /**
   * Hands what this sync's room answers said about shared users (whole member lists, who
   * joined or left, whose keys changed), and the rooms the user left (`departed`), to the
   * DeviceKeys actor and returns its fresh
   * state; undefined when the answers said nothing of the kind (no call). A failure fails
   * the sync (503): the client retries from the same token, so nothing is lost.
   */
  async record(
    deviceId: string,
    toDeviceSince: number,
    deviceListSince: number,
    answers: ReadonlyArray<readonly [roomId: string, since: unknown, result: RoomAnswerFacts]>,
    departed: ReadonlyArray<readonly [roomId: string, stream: number]>,
  ): Promise<E2eeState | undefined> {
    const observed = observeRooms(
      answers.map(([roomId, , r]) => [roomId, r] as const),
      departed,
      this.#sent,
    );
    if (observed.length === 0) return undefined;
    SYNC_COUNTERS.e2eeCalls++;
    let state: E2eeState;
    try {
      state = await (deviceKeysActor(this.env, this.userId) as unknown as E2eeSyncRpc).syncState(deviceId, { toDeviceSince, deviceListSince, observed });
    } catch (e) {
      console.error("sync: recording device-list observations failed", e);
      throw new MatrixError("M_UNKNOWN", 503, "Device lists are unavailable; retry");
    }
    for (const o of observed) {
      if (o.members) this.#sent.lists.set(o.roomId, o.stream);
      if (o.gone) {
        this.#sent.lists.delete(o.roomId);
        this.#sent.gone.set(o.roomId, o.stream);
      }
    }
    this.#quiet.delete(deviceId);
    return state;
  }

  async answer(deviceId: string, toDeviceSince: number, deviceListSince: number): Promise<E2eeState | undefined> {
    const epoch = this.#epoch;
    const q = this.#quiet.get(deviceId);
    if (q && q.epoch === epoch && q.state.toDevice.next === toDeviceSince && q.state.deviceLists.pos === deviceListSince) {
      SYNC_COUNTERS.e2eeCached++;
      return q.state;
    }
    SYNC_COUNTERS.e2eeCalls++;
    try {
      const state = await (deviceKeysActor(this.env, this.userId) as unknown as E2eeSyncRpc).syncState(deviceId, { toDeviceSince, deviceListSince });
      const nothing = state.toDevice.events.length === 0 && !state.toDevice.more && state.deviceLists.changed.length === 0 && state.deviceLists.left.length === 0;
      if (nothing) this.#quiet.set(deviceId, { epoch, state });
      else this.#quiet.delete(deviceId);
      return state;
    } catch (e) {
      console.error("sync: E2EE state unavailable", e);
      return undefined;
    }
  }
}
