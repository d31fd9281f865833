/**
 * DeviceKeys actor, one per local user, named by the user ID: device keys, one-time and
 * fallback keys, cross-signing keys and signatures, the device-list change stream, the
 * to-device inboxes of the user's devices, key backup and the dehydrated device (MSC3814).
 * Design, and the interfaces /sync calls: docs/design/e2ee.md.
 *
 * Discipline as in the User actor: async work (signature checks, calls to other actors)
 * first, then one synchronous transaction that re-reads what it depends on, then effects
 * (outbox deliveries) after commit. /keys/claim is a single transaction with no await at
 * all, which is what makes each one-time key go to exactly one claimer.
 * JSON documents cross RPC as text (see party/user.ts UiaReply for why).
 */
import { Server } from "partyserver";
import { CROSS_SIGNING_USAGES, parseCrossSigningKey, sameSignedContent, UPLOAD_FIELD, verifySignedByMaster } from "../lib/e2ee/cross-signing.ts";
import { parseDeviceKeys, verifyDeviceKeys, type DeviceKeys as ParsedDeviceKeys } from "../lib/e2ee/device-keys.ts";
import type { BackupVersionBody, RoomKey, RoomKeysScope } from "../lib/e2ee/key-backup.ts";
import { roomKeysResponse } from "../lib/e2ee/key-backup.ts";
import { parseUploadedKeys, verifyUploadedKeys, type UploadedKey } from "../lib/e2ee/one-time-keys.ts";
import { parseSignaturesUpload, type SignatureFailure } from "../lib/e2ee/signatures-upload.ts";
import type { RoomObservation } from "../lib/e2ee/device-list-tracking.ts";
import { MatrixError } from "../lib/errors.ts";
import { serverNameOf } from "../lib/identifiers.ts";
import type { JsonObject } from "../lib/json.ts";
import { keyCountsChanged } from "./appservice/key-counts-hook.ts";
import { toDeviceForAppservices } from "./appservice/to-device-hook.ts";
import * as backup from "./device-keys/backup.ts";
import { DEVICE_LIST_COUNTERS } from "./device-keys/counters.ts";
import * as dehydrated from "./device-keys/dehydrated.ts";
import { crossSigningKeys, storeCrossSigningKeys, userKeys } from "./device-keys/cross-signing.ts";
import * as lists from "./device-keys/device-lists.ts";
import * as keys from "./device-keys/keys.ts";
import * as sigs from "./device-keys/signatures.ts";
import { Store } from "./device-keys/store.ts";
import * as inbox from "./device-keys/to-device.ts";
import { rpcErrors } from "./edge/http.ts";
import { loadConfig, type Env } from "./env.ts";
import { migrateOnStart } from "./migrations.ts";
import { deviceKeysActor, roomActor, userActor } from "./stubs.ts";
import type { UiaReply } from "./user.ts";
import schema from "../schema/device-keys.sql";
import { recordActorName } from "./actor-name.ts";

/** What /sync needs from this actor for one device, in one call (see docs/design/e2ee.md). */
export interface E2eeSyncState {
  toDevice: inbox.ToDeviceBatch;
  deviceLists: lists.DeviceListChanges;
  oneTimeKeyCounts: Record<string, number>;
  unusedFallbackKeyTypes: string[];
}

/** A failed delivery is retried by the alarm no later than this. */
const OUTBOX_SAFETY_MS = 30_000;
/** How long a sender is told to wait when a recipient's inbox is full. */
const INBOX_FULL_RETRY_MS = 10_000;

export class DeviceKeys extends Server<Env> {
  #storeInstance: Store | undefined;
  /** Made on first use: an alarm-started instance learns its name only after the constructor (party/actor-name.ts). */
  get #store(): Store {
    return (this.#storeInstance ??= new Store(this.ctx.storage, this.name));
  }

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    recordActorName(ctx);
    migrateOnStart(ctx, schema);
  }

  // ---- /keys/upload, /keys/claim, /keys/query ------------------------------------------------

  /** POST /keys/upload for `deviceId` of this user; returns one_time_key_counts. Nothing is stored unless all of it is valid. */
  async uploadKeys(deviceId: string, body: JsonObject): Promise<Record<string, number>> {
    return rpcErrors(async () => {
      const s = this.#store;
      const dk = body.device_keys === undefined || body.device_keys === null ? null : parseDeviceKeys(body.device_keys, { userId: this.name, deviceId });
      const otks = parseUploadedKeys(body.one_time_keys, "one_time_keys");
      const fallbacks = parseUploadedKeys(body.fallback_keys, "fallback_keys");
      if (dk) await verifyDeviceKeys(dk);
      const ed25519 = dk?.ed25519 ?? keys.deviceKeys(s, deviceId)?.ed25519;
      await verifyUploadedKeys([...otks, ...fallbacks], this.name, deviceId, ed25519);
      const counts = s.tx(() => {
        // The keys the one-time keys were checked against must still be the device's.
        if (!dk && keys.deviceKeys(s, deviceId)?.ed25519 !== ed25519) {
          throw new MatrixError("M_UNKNOWN", 409, "The device's keys changed during the upload; retry");
        }
        this.#storeDevice(dk, deviceId, otks, fallbacks);
        return keys.oneTimeKeyCounts(s, deviceId);
      });
      this.#afterCommit();
      if (otks.length > 0 || fallbacks.length > 0) this.#keyCountsToAppservices([deviceId]);
      return counts;
    });
  }

  #storeDevice(dk: ParsedDeviceKeys | null, deviceId: string, otks: UploadedKey[], fallbacks: UploadedKey[]): void {
    if (dk) keys.storeDeviceKeys(this.#store, dk);
    keys.storeOneTimeKeys(this.#store, deviceId, otks);
    keys.storeFallbackKeys(this.#store, deviceId, fallbacks);
  }

  /** /keys/claim for this user's devices: device ID → algorithm. Returns JSON text of device → key ID → key. */
  async claimKeys(wanted: Record<string, string>): Promise<string> {
    // No await anywhere: select and delete are one transaction of a single-threaded actor.
    const result = this.#store.tx(() => keys.claim(this.#store, wanted));
    this.#notifySync(); // key counts changed: the owner's sync must not reuse an older answer
    this.#keyCountsToAppservices(Object.keys(result));
    return JSON.stringify(result);
  }

  /** This user's part of /keys/query as `viewer` sees it (JSON text of UserKeys); deviceIds [] means all. */
  async queryKeys(deviceIds: string[], viewer: string): Promise<string> {
    const hasKeys = this.#store.one("SELECT 1 AS x FROM device_keys LIMIT 1") !== null;
    const devices = new Map<string, string | undefined>();
    if (hasKeys) for (const d of await userActor(this.env, this.name).listDevices()) devices.set(d.device_id, d.display_name);
    return JSON.stringify(userKeys(this.#store, deviceIds, viewer, devices));
  }

  /** MSC3202: an appservice user's key counts go to its appservice (party/appservice/key-counts-hook.ts). */
  #keyCountsToAppservices(deviceIds: string[]): void {
    keyCountsChanged(this.env, this.name, deviceIds, (id) => ({
      oneTimeKeys: keys.oneTimeKeyCounts(this.#store, id),
      unusedFallbackKeyTypes: keys.unusedFallbackKeyTypes(this.#store, id),
    }));
  }

  async oneTimeKeyCounts(deviceId: string): Promise<Record<string, number>> {
    return keys.oneTimeKeyCounts(this.#store, deviceId);
  }

  async unusedFallbackKeyTypes(deviceId: string): Promise<string[]> {
    return keys.unusedFallbackKeyTypes(this.#store, deviceId);
  }

  // ---- cross-signing --------------------------------------------------------------------

  /**
   * POST /keys/device_signing/upload. UIA (password, through the User actor) unless there is
   * no master key yet or the request only repeats the stored keys (spec, and Synapse).
   */
  async uploadCrossSigningKeys(body: JsonObject, auth: unknown): Promise<UiaReply<Record<string, never>>> {
    return rpcErrors(async () => {
      const uploaded = CROSS_SIGNING_USAGES.filter((u) => body[UPLOAD_FIELD[u]] !== undefined && body[UPLOAD_FIELD[u]] !== null).map((u) =>
        parseCrossSigningKey(body[UPLOAD_FIELD[u]], u, this.name),
      );
      if (uploaded.length === 0) throw new MatrixError("M_MISSING_PARAM", 400, "No cross-signing keys in the request");
      let stored = crossSigningKeys(this.#store);
      const master = uploaded.find((k) => k.usage === "master") ?? stored.master;
      if (!master) throw new MatrixError("M_MISSING_PARAM", 400, "No master signing key is available");
      for (const k of uploaded) if (k.usage !== "master") await verifySignedByMaster(k, master, this.name);
      for (const k of uploaded) {
        if (keys.deviceKeys(this.#store, k.publicKey)) throw new MatrixError("M_FORBIDDEN", 403, "A cross-signing key has the ID of one of the user's devices");
      }
      const needsUia = (set: typeof stored) => set.master !== undefined && uploaded.some((k) => !set[k.usage] || !sameSignedContent(set[k.usage]!.json, k.json));
      let uiaDone = false;
      for (;;) {
        if (needsUia(stored) && !uiaDone) {
          const reply = await userActor(this.env, this.name).passwordUia("device_signing_upload", auth ?? null);
          if (!reply.done) return reply;
          uiaDone = true;
        }
        // Re-decided inside the transaction: a concurrent first upload may have landed meanwhile.
        const ok = this.#store.tx(() => {
          const now = crossSigningKeys(this.#store);
          if (needsUia(now) && !uiaDone) return now;
          if (!uploaded.some((k) => k.usage === "master") && now.master?.publicKey !== master.publicKey) {
            throw new MatrixError("M_INVALID_SIGNATURE", 400, "The master key changed during the upload; retry");
          }
          storeCrossSigningKeys(this.#store, uploaded);
          return null;
        });
        if (ok === null) break;
        stored = ok;
      }
      this.#afterCommit();
      return { done: true, value: {} };
    });
  }

  /**
   * POST /keys/signatures/upload by this user. Own keys are checked here; signatures on other
   * local users' master keys go to their actors with this user's user-signing key.
   * Returns JSON text of `{failures}`.
   */
  async uploadSignatures(body: JsonObject): Promise<string> {
    return rpcErrors(async () => {
      const s = this.#store;
      const failures: Record<string, Record<string, SignatureFailure>> = {};
      let own: sigs.Checked = { pending: [], failures: {} };
      const signedOthers: string[] = [];
      for (const [userId, objects] of parseSignaturesUpload(body)) {
        const f = userId === this.name ? (own = await sigs.checkOwn(s, objects)).failures : await this.#signOthers(userId, objects);
        if (Object.keys(f).length > 0) failures[userId] = f;
        if (userId !== this.name && Object.keys(f).length < objects.size) signedOthers.push(userId);
      }
      s.tx(() => {
        if (sigs.commit(s, this.name, own)) lists.recordOwnChange(s);
        // Only this user sees its signatures on others' keys: the change is in this user's stream.
        for (const u of signedOthers) lists.recordChange(s, u, "changed");
      });
      this.#afterCommit();
      return JSON.stringify({ failures });
    });
  }

  async #signOthers(userId: string, objects: Map<string, JsonObject>): Promise<Record<string, SignatureFailure>> {
    const all = (f: SignatureFailure) => Object.fromEntries([...objects.keys()].map((k) => [k, f]));
    if (!this.#isLocal(userId)) return all({ errcode: "M_UNKNOWN", error: "Signing remote users' keys needs federation, which this server does not have yet" });
    const usk = crossSigningKeys(this.#store).user_signing;
    if (!usk) return all({ errcode: "M_NOT_FOUND", error: "No user-signing key to sign other users with" });
    const text = await deviceKeysActor(this.env, userId).addUserSignatures(this.name, { keyId: usk.keyId, publicKey: usk.publicKey }, Object.fromEntries(objects));
    return JSON.parse(text) as Record<string, SignatureFailure>;
  }

  /** From another local user's actor: signatures by `signer`'s user-signing key on this user's master key. Returns JSON text of failures. */
  async addUserSignatures(signer: string, usk: { keyId: string; publicKey: string }, objects: Record<string, JsonObject>): Promise<string> {
    const checked = await sigs.checkBy(this.#store, signer, usk, objects);
    this.#store.tx(() => sigs.commit(this.#store, signer, checked));
    return JSON.stringify(checked.failures);
  }

  // ---- device lists -----------------------------------------------------------------------

  async deviceListPosition(): Promise<number> {
    return lists.position(this.#store);
  }

  async deviceListChangesSince(since: number): Promise<lists.DeviceListChanges> {
    return lists.changesSince(this.#store, since);
  }

  /** Users this user shares a room with, as its syncs recorded them (tests, diagnostics). */
  async sharedUsers(): Promise<string[]> {
    return lists.sharedUsers(this.#store);
  }

  /** From the User actor after it deleted devices (null: all of them). */
  async devicesDeleted(deviceIds: string[] | null): Promise<void> {
    this.#store.tx(() => keys.removeDevices(this.#store, deviceIds));
    this.#afterCommit();
  }

  /**
   * From the User actor after the account was deactivated (its devices are gone already):
   * every key goes — device, one-time and fallback keys, cross-signing keys and the
   * signatures on them, key backups, the dehydrated device, the inboxes — and users who
   * share a room see the change (their clients then find no keys). Synapse deletes device
   * keys and backups on deactivation; cross-signing keys are deleted here too, so that a
   * user ID handed out again does not inherit the old identity.
   */
  async accountDeactivated(): Promise<void> {
    const s = this.#store;
    s.tx(() => {
      const had = keys.removeDevices(s, null);
      const crossSigning = s.one("SELECT 1 AS x FROM cross_signing_keys LIMIT 1") !== null;
      for (const t of ["cross_signing_keys", "key_signatures", "backup_keys"]) s.run(`DELETE FROM ${t}`);
      s.run("UPDATE backup_versions SET deleted = 1, count = 0");
      if (crossSigning && !had) lists.recordOwnChange(s);
    });
    this.#afterCommit();
  }

  /**
   * Delivers due outbox rows now (a `rooms` row first becomes one row per joined room, which
   * go out in the next round); the alarm calls this, tests may too. Returns how many rows
   * were delivered.
   */
  async flushOutbox(): Promise<number> {
    // One pass at a time: two concurrent passes would both send the rows they both found due.
    while (this.#flushing) await this.#flushing.catch(() => 0);
    this.#flushing = this.#flushPass();
    try {
      return await this.#flushing;
    } finally {
      this.#flushing = undefined;
    }
  }

  #flushing: Promise<number> | undefined;

  async #flushPass(): Promise<number> {
    let n = 0;
    for (let round = 0; round < 8; round++) {
      const done = await lists.flushOutbox(this.#store, (item) => this.#deliver(item));
      n += done;
      const next = lists.nextDue(this.#store);
      if (done === 0 || next === null || next > Date.now()) break;
    }
    const next = lists.nextDue(this.#store);
    if (next !== null) await this.ctx.storage.setAlarm(Math.max(next, Date.now() + 100));
    return n;
  }

  async #deliver(item: lists.OutboxItem): Promise<void> {
    if (item.kind === "rooms") {
      const rooms = await userActor(this.env, this.name).joinedRooms();
      this.#store.tx(() => lists.enqueueRooms(this.#store, rooms));
      return;
    }
    await roomActor(this.env, item.target).deviceListChanged(this.name);
    DEVICE_LIST_COUNTERS.roomNotices++;
  }

  override async onAlarm(): Promise<void> {
    await this.flushOutbox();
  }

  /** This user's waiting /sync long-polls look again (docs/design/sync.md). Not awaited. */
  #notifySync(): void {
    userActor(this.env, this.name)
      .syncNotify()
      .catch((e: unknown) => console.error("sync notify", e));
  }

  #afterCommit(): void {
    this.#notifySync();
    if (lists.nextDue(this.#store) === null) return;
    // The alarm is the safety net if this actor is evicted before the deliveries finish.
    void this.ctx.storage.setAlarm(Date.now() + OUTBOX_SAFETY_MS);
    void this.flushOutbox().catch((e) => console.error("device-list outbox", e));
  }

  #isLocal(userId: string): boolean {
    return serverNameOf(userId) === loadConfig(this.env).serverName;
  }

  // ---- to-device --------------------------------------------------------------------------

  /**
   * PUT /sendToDevice from this user's `senderDevice`. Idempotent per (device, txnId): the
   * sender remembers completed sends, recipients remember received ones. A full recipient
   * inbox makes the whole request 429 after the others were delivered; the retry delivers
   * only what is missing. Remote recipients are dropped until federation exists.
   */
  async sendToDevice(senderDevice: string, type: string, txnId: string, messages: Record<string, Record<string, JsonObject>>): Promise<void> {
    return rpcErrors(async () => {
      if (inbox.alreadySent(this.#store, senderDevice, txnId)) return;
      const delivery = { sender: this.name, senderDevice, txnId, type };
      const results = await Promise.all(
        Object.entries(messages)
          .filter(([userId]) => this.#isLocal(userId))
          .map(([userId, byDevice]) =>
            userId === this.name ? this.deliverToDevice({ ...delivery, messages: byDevice }) : deviceKeysActor(this.env, userId).deliverToDevice({ ...delivery, messages: byDevice }),
          ),
      );
      const full = results.flatMap((r) => r.full);
      if (full.length > 0) {
        throw new MatrixError("M_LIMIT_EXCEEDED", 429, `The to-device inbox of ${full.length} recipient device(s) is full; retry later`, {
          retry_after_ms: INBOX_FULL_RETRY_MS,
        });
      }
      this.#store.tx(() => inbox.markSent(this.#store, senderDevice, txnId));
    });
  }

  /** From a sender's actor (or this one): store messages for this user's devices. */
  async deliverToDevice(d: inbox.Delivery): Promise<{ full: string[] }> {
    const all = (await userActor(this.env, this.name).listDevices()).map((x) => x.device_id);
    // Appservice users' devices (MSC4203): handed to the appservice first; those it alone reads skip the inbox.
    const appserviceOnly = await toDeviceForAppservices(this.env, this.name, d, all);
    const devices = appserviceOnly.size === 0 ? all : all.filter((id) => !appserviceOnly.has(id));
    const result = this.#store.tx(() => inbox.deliver(this.#store, d, devices));
    this.#notifySync();
    return result;
  }

  /** Messages for `deviceId` after position `since`; nothing is deleted (see ackToDevice). */
  async toDeviceSince(deviceId: string, since: number, limit = inbox.TO_DEVICE_BATCH): Promise<inbox.ToDeviceBatch> {
    return inbox.since(this.#store, deviceId, since, limit);
  }

  /** The client has everything up to `upTo` (it sent that position back): delete it. */
  async ackToDevice(deviceId: string, upTo: number): Promise<number> {
    return this.#store.tx(() => inbox.ack(this.#store, deviceId, upTo));
  }

  /**
   * Everything /sync needs from this actor in one call: acknowledges `toDeviceSince` (the
   * position the client sent back), records what the sync's room answers said about the
   * users it shares rooms with (`observed`, docs/design/e2ee.md), then returns what follows
   * `toDeviceSince`, the device-list changes after `deviceListSince`, and the key counts.
   */
  async syncState(
    deviceId: string,
    p: { toDeviceSince: number; toDeviceLimit?: number; deviceListSince: number; observed?: RoomObservation[] },
  ): Promise<E2eeSyncState> {
    const s = this.#store;
    let recorded = false;
    const state = s.tx(() => {
      inbox.ack(s, deviceId, p.toDeviceSince);
      if (p.observed && p.observed.length > 0) {
        DEVICE_LIST_COUNTERS.observationCalls++;
        recorded = lists.observe(s, p.observed);
      }
      return {
        toDevice: inbox.since(s, deviceId, p.toDeviceSince, p.toDeviceLimit),
        deviceLists: lists.changesSince(s, p.deviceListSince),
        oneTimeKeyCounts: keys.oneTimeKeyCounts(s, deviceId),
        unusedFallbackKeyTypes: keys.unusedFallbackKeyTypes(s, deviceId),
      };
    });
    // The user's other devices' waiting syncs must see what this one recorded.
    if (recorded) this.#notifySync();
    return state;
  }

  // ---- key backup ---------------------------------------------------------------------------

  async createBackupVersion(body: BackupVersionBody): Promise<string> {
    return this.#store.tx(() => backup.createVersion(this.#store, body));
  }

  /** JSON text of the version's info; null: the current version. */
  async getBackupVersion(version: string | null): Promise<string> {
    return rpcErrors(() => JSON.stringify(backup.getVersion(this.#store, version)));
  }

  async updateBackupVersion(version: string, body: BackupVersionBody): Promise<void> {
    return rpcErrors(() => this.#store.tx(() => backup.updateVersion(this.#store, version, body)));
  }

  async deleteBackupVersion(version: string): Promise<void> {
    return rpcErrors(() => this.#store.tx(() => backup.deleteVersion(this.#store, version)));
  }

  async putRoomKeys(version: string, roomKeys: RoomKey[]): Promise<backup.BackupCounts> {
    return rpcErrors(() => this.#store.tx(() => backup.putKeys(this.#store, version, roomKeys)));
  }

  /** JSON text of the GET response at `scope`. */
  async getRoomKeys(version: string, scope: RoomKeysScope): Promise<string> {
    return rpcErrors(() => JSON.stringify(roomKeysResponse(backup.getKeys(this.#store, version, scope), scope)));
  }

  async deleteRoomKeys(version: string, scope: RoomKeysScope): Promise<backup.BackupCounts> {
    return rpcErrors(() => this.#store.tx(() => backup.deleteKeys(this.#store, version, scope)));
  }

  // ---- dehydrated device (MSC3814) -------------------------------------------------------------

  /**
   * PUT /dehydrated_device: validates the device's keys, has the User actor replace the old
   * dehydrated device (if any) by a new real device, then stores the new device's keys.
   */
  async putDehydratedDevice(body: JsonObject): Promise<{ device_id: string }> {
    return rpcErrors(async () => {
      const s = this.#store;
      const up = await dehydrated.parseUpload(body, this.name);
      const old = dehydrated.current(s)?.device_id ?? null;
      await userActor(this.env, this.name).replaceDehydratedDevice({ deviceId: up.deviceId, displayName: up.displayName }, old);
      s.tx(() => {
        if (old !== null) keys.removeDevices(s, [old]);
        keys.removeDevices(s, [up.deviceId]); // a reused device ID keeps nothing of a previous life
        this.#storeDevice(up.deviceKeys, up.deviceId, up.oneTimeKeys, up.fallbackKeys);
        dehydrated.setCurrent(s, up.deviceId, up.deviceData);
      });
      this.#afterCommit();
      return { device_id: up.deviceId };
    });
  }

  /** GET /dehydrated_device: JSON text of `{device_id, device_data}`, 404 when there is none. */
  async getDehydratedDevice(): Promise<string> {
    return rpcErrors(() => {
      const row = dehydrated.current(this.#store);
      if (!row) throw new MatrixError("M_NOT_FOUND", 404, "No dehydrated device");
      return JSON.stringify({ device_id: row.device_id, device_data: JSON.parse(row.device_data) });
    });
  }

  /** DELETE /dehydrated_device: the device, its keys and its messages go. */
  async deleteDehydratedDevice(): Promise<{ device_id: string }> {
    return rpcErrors(async () => {
      const row = dehydrated.current(this.#store);
      if (!row) throw new MatrixError("M_NOT_FOUND", 404, "No dehydrated device");
      await userActor(this.env, this.name).replaceDehydratedDevice(null, row.device_id);
      this.#store.tx(() => keys.removeDevices(this.#store, [row.device_id]));
      this.#afterCommit();
      return { device_id: row.device_id };
    });
  }

  /** POST /dehydrated_device/{deviceId}/events: JSON text of `{events, next_batch}`. */
  async dehydratedDeviceEvents(deviceId: string, nextBatch: string | null): Promise<string> {
    return rpcErrors(() => JSON.stringify(dehydrated.events(this.#store, deviceId, nextBatch)));
  }
}
