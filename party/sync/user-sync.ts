/**
 * /sync v2 on the User actor's side: decode the client's token, find the rooms that
 * moved (memberships here, joined rooms via the hub shards), ask those rooms, add
 * account data and the E2EE parts, answer with a new token — or wait for a wake-up.
 * https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3sync
 * Design, tokens and costs: docs/design/sync.md.
 *
 * Attempts run one at a time per user (a sync mutex): two devices syncing at once
 * must not interleave their reads of the same tables. Waiting happens outside it.
 */
import { forEachLimited } from "../../lib/concurrency.ts";
import { MatrixError } from "../../lib/errors.ts";
import { eventMatchesFilter } from "../../lib/event-filter.ts";
import { validateFilter, type Filter } from "../../lib/filter.ts";
import { planSync, type MembershipRow } from "../../lib/sync/plan.ts";
import { isAhead, isSyncMembership, streamsOf, type PublishedPosition, type RoomPosition, type RoomView } from "../../lib/sync/position.ts";
import { roomAllowed, subFilterAllows, syncFilter, type SyncFilter, type SyncParams } from "../../lib/sync/request.ts";
import { LazyMemberCache } from "../../lib/sync/lazy-members.ts";
import { fastRoomResult, type HubRoomDelta } from "../../lib/sync/shared-event.ts";
import { assembleResponse, hasNews, type RoomSyncRequest, type RoomSyncResult, type SyncParts } from "../../lib/sync/response.ts";
import { decodeSyncToken, encodeSyncToken, nextInline, tokenViews, type SyncToken } from "../../lib/sync/token.ts";
import type { Env } from "../env.ts";
import { roomActor } from "../stubs.ts";
import { pollHubShards } from "./hub-poll.ts";
import { accountDataPosition, globalAccountData, roomAccountData } from "./account-data.ts";
import { E2eeAnswers } from "./e2ee.ts";
import { SYNC_COUNTERS } from "./counters.ts";
import { Signal } from "./signal.ts";
import { attachUnreadCounts } from "../push/sync-counts.ts";
import { SyncStore } from "./store.ts";
import { SlidingSync } from "./sliding/sliding-sync.ts";
import { applyEventFields } from "../../lib/sync/event-fields.ts";
import { newestPerUser, presenceEvent, type PresenceFact, type PresenceRecord } from "../../lib/presence.ts";
import { loadConfig } from "../env.ts";
import type { JsonObject } from "../../lib/json.ts";

/** What /sync needs of the user's own presence (party/user/presence.ts). */
export interface OwnPresence {
  readonly enabled: boolean;
  /** The own record when its serial is after `serial`. */
  ownSince(serial: number): PresenceRecord | undefined;
}

/** Rooms asked at once during one sync. */
const ROOM_CONCURRENCY = 32;

/** Users whose last presence serial is remembered per device (see #presenceSent). */
const PRESENCE_SENT_MAX = 10_000;

/** How long the hub keeps this user armed after an answer (the client's next long-poll comes back within it). */
const ARM_AHEAD_MS = 60_000;

export { SYNC_COUNTERS } from "./counters.ts";

interface Attempt {
  json: string;
  token: string;
  news: boolean;
  /** The hub shards hold this user armed at exactly this token's positions. */
  armedAtToken: boolean;
  commit(): void;
}

/** The token's views: by room ID (for the plan) and by index (for the next token). */
interface Resolved {
  token: SyncToken;
  text: string;
  byIdx: Map<number, RoomView>;
  checkpointViews: Map<number, RoomView>;
}

export class UserSync {
  readonly #store: SyncStore;
  readonly #lazy = new LazyMemberCache();
  readonly #signal = new Signal();
  readonly #seeds = new Map<string, PublishedPosition>();
  #lock: Promise<unknown> = Promise.resolve();
  /**
   * The last token whose positions the hub shards hold this user armed at, and the signal
   * generation then: a sync from that token with no wake or notification since has
   * nothing new from rooms and need not poll the shards.
   */
  #armedAt: { token: string; generation: number; until: number } | undefined;
  readonly #e2ee: E2eeAnswers;
  /**
   * Per device: the presence serials its last token's response carried, per user. A
   * change reaches the user's rooms one after another, so a later sync may hear it again
   * from a slower room; a client continuing from that token is not told twice. Memory
   * only (after a restart, at most one repeat); a client resending an older token gets
   * everything again.
   */
  readonly #presenceSent = new Map<string, { token: string; serials: Map<string, number> }>();

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: Env,
    private readonly userId: string,
    private readonly presence?: OwnPresence,
  ) {
    this.#store = new SyncStore(ctx.storage.sql);
    this.#e2ee = new E2eeAnswers(env, userId);
  }

  /** A hub shard saw one of this user's rooms move (the user was armed there). */
  wake(): void {
    this.#signal.fire();
  }

  /** Something local changed (account data, a membership, to-device, device lists). */
  notify(): void {
    this.#e2ee.stale();
    this.#sliding?.stale();
    this.#signal.fire();
  }

  /**
   * Calls `listener` whenever something a sync may want happened (hub wake, local change,
   * DeviceKeys notification); returns the unsubscribe function. The WebSocket transport
   * of sliding sync (party/sync/socket.ts) pushes from here instead of polling.
   */
  onChange(listener: () => void): () => void {
    return this.#signal.subscribe(listener);
  }

  #sliding: SlidingSync | undefined;
  /** Simplified sliding sync (MSC4186) of this user, on the same signal and hub arming. */
  sliding(): SlidingSync {
    return (this.#sliding ??= new SlidingSync(this.ctx, this.env, this.userId, this.#signal, this.#e2ee));
  }

  /** Long-polls waiting now. */
  get waiting(): number {
    return this.#signal.waiting;
  }

  devicesDeleted(deviceIds: string[] | null): void {
    this.#store.deleteDevices(deviceIds);
    this.sliding().devicesDeleted(deviceIds);
    for (const d of deviceIds ?? []) this.#lazy.forget(d);
  }

  /** GET /sync for one device: the response as JSON text. */
  async sync(deviceId: string, p: SyncParams): Promise<string> {
    const sf = syncFilter(this.#filter(p.filter));
    let since = p.since;
    if (since !== undefined && !decodeSyncToken(since)) throw new MatrixError("M_INVALID_PARAM", 400, "Unknown 'since' token");
    // An initial sync and full_state answer at once (spec: full_state ignores timeout).
    const deadline = Date.now() + (since === undefined || p.fullState ? 0 : p.timeoutMs);
    for (;;) {
      const generation = this.#signal.generation;
      const a = await this.#exclusive(() => this.#attempt(deviceId, since, p, sf, deadline, generation));
      a.commit();
      const until = Math.max(deadline, Date.now() + ARM_AHEAD_MS) - 1000;
      this.#armedAt = a.armedAtToken ? { token: a.token, generation, until } : undefined;
      if (a.news || Date.now() >= deadline) return a.json;
      // Nothing for the client: what moved (if anything) was filtered out, so continue
      // from the new token and wait for the next change.
      since = a.token;
      await this.#signal.wait(generation, deadline);
    }
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn, fn);
    this.#lock = run.catch(() => {});
    return run;
  }

  #filter(ref: SyncParams["filter"]): Filter | undefined {
    if (ref === undefined) return undefined;
    if ("inline" in ref) return ref.inline;
    const row = /^\d{1,15}$/.test(ref.id)
      ? this.ctx.storage.sql.exec<{ filter: string }>("SELECT filter FROM filters WHERE filter_id = ?", Number(ref.id)).toArray()[0]
      : undefined;
    if (!row) throw new MatrixError("M_INVALID_PARAM", 400, `Unknown filter ${ref.id}`);
    return validateFilter(JSON.parse(row.filter));
  }

  /** The token's views, or undefined when it expired (its checkpoint was collected) or is another device's. */
  #resolve(deviceId: string, text: string | undefined): Resolved | undefined {
    const token = text === undefined ? undefined : decodeSyncToken(text);
    if (!token || text === undefined) return undefined;
    const checkpointViews = this.#store.checkpoint(token.checkpoint, deviceId);
    if (!checkpointViews) return undefined;
    return { token, text, byIdx: tokenViews(checkpointViews, token.inline), checkpointViews };
  }

  async #attempt(
    deviceId: string,
    sinceText: string | undefined,
    p: SyncParams,
    sf: SyncFilter,
    deadline: number,
    generation: number,
  ): Promise<Attempt> {
    const resolved = this.#resolve(deviceId, sinceText);
    const views = resolved ? this.#byRoom(resolved.byIdx) : undefined;
    const rows = this.#memberships();
    const plan = planSync({ rows, views, includeLeave: sf.includeLeave, fullState: p.fullState, roomAllowed: (r) => roomAllowed(sf, r) });
    const lazy = this.#lazy.begin(deviceId, resolved?.text);
    const ephemeralWanted = ["m.typing", "m.receipt"].some((type) => eventMatchesFilter(sf.ephemeral, { type, sender: "", content: {} }));
    // Rooms the hub can answer alone (the fast path) are not asked.
    const fast: Array<[string, RoomPosition | null, RoomSyncResult]> = [];
    const now = Date.now();
    // Armed at exactly this token and nothing woke us since: no room moved.
    const armed = this.#armedAt;
    const quiet = armed !== undefined && armed.token === sinceText && armed.generation === generation && now < armed.until && !p.fullState;
    if (quiet) SYNC_COUNTERS.hubPollsSkipped++;
    const polled = quiet ? { moved: [], allArmed: true } : await this.#pollHubs(plan.poll, Math.max(deadline, now + ARM_AHEAD_MS), sf.timeline.limit);
    // The hub holds us armed at the new token's positions only if it answered for every
    // joined room and every answer made it into the new views.
    let armedAtToken = polled.allArmed && plan.fetch.size === 0;
    for (const { roomId, view, delta } of polled.moved) {
      const allowed = subFilterAllows(sf.timeline, roomId) && subFilterAllows(sf.ephemeral, roomId);
      const known = sf.state.lazy_load_members ? (u: string) => u === this.userId || lazy.knowsUser(roomId, u) : undefined;
      const r =
        delta && allowed
          ? fastRoomResult({ userId: this.userId, deviceId, view, delta, timeline: sf.timeline, lazy: known, ephemeralWanted, now, stateAfter: p.useStateAfter })
          : undefined;
      if (r) {
        fast.push([roomId, view, r]);
        SYNC_COUNTERS.fromHub++;
      }
      else plan.fetch.set(roomId, view);
    }

    const accountSince = resolved?.token.accountData ?? 0;
    const toFetch = plan.fetch.size;
    const e2eeSince = { toDevice: resolved?.token.toDevice ?? 0, deviceLists: resolved?.token.deviceLists ?? 0 };
    const [fetched, e2eeFirst] = await Promise.all([
      this.#fetchRooms(deviceId, plan.fetch, p, sf, ephemeralWanted),
      this.#e2ee.answer(deviceId, e2eeSince.toDevice, e2eeSince.deviceLists),
    ]);
    if (fetched.length < toFetch) armedAtToken = false;
    await attachUnreadCounts(this.env, this.ctx.storage.sql, this.userId, [...fast, ...fetched], sf.timeline.unread_thread_notifications === true);

    // New views: the rooms' answers; rooms the client is told nothing about keep theirs.
    const results = [...fast, ...fetched];
    // What the answers say about the users this user shares rooms with goes to the
    // DeviceKeys actor before the response (docs/design/e2ee.md): one more call, only when
    // memberships or device lists changed in a room.
    const departed = rows.filter((r) => r.membership === "leave" || r.membership === "ban").map((r) => [r.roomId, r.memberStream] as const);
    const e2ee = (await this.#e2ee.record(deviceId, e2eeSince.toDevice, e2eeSince.deviceLists, results, departed)) ?? e2eeFirst;
    const sent = this.#presenceSent.get(deviceId);
    const presence = this.#presenceEvents(sf, results, resolved?.token.presence ?? 0, sent && sent.token === sinceText ? sent.serials : undefined);
    const newViews = new Map(views ?? []);
    const parts: SyncParts["rooms"] = [];
    const roomData = roomAccountData(this.ctx.storage.sql, accountSince, sf, this.userId);
    for (const [roomId, since, result] of results) {
      if (result.memberStream === 0 && !views?.has(roomId)) continue; // never a member
      const pos = result.position;
      const view: RoomView = { m: result.membership, ms: result.memberStream, s: pos.s, r: pos.r, t: pos.t };
      if (pos.d) view.d = pos.d;
      if (pos.p) view.p = pos.p;
      newViews.set(roomId, view);
      if (result.membership === "join" && since === null) lazy.reset(roomId);
      if (result.lazyMembers) result.lazyMembers = lazy.filter(roomId, result.lazyMembers, sf.state.include_redundant_members === true);
      const members = [...(result.state ?? []), ...(result.timeline?.events ?? [])].filter((e) => e.type === "m.room.member");
      lazy.noteUsers(roomId, members.map((e) => e.state_key ?? ""));
      if (result.ephemeral) result.ephemeral = result.ephemeral.filter((e) => eventMatchesFilter(sf.ephemeral, { type: String(e.type), sender: "", content: {} }));
      const present = result.membership === "join" || result.membership === "leave" || result.membership === "ban";
      parts.push({ roomId, result, accountData: present ? (roomData.get(roomId) ?? []) : [] });
      roomData.delete(roomId);
    }
    for (const row of rows) {
      if (!newViews.has(row.roomId)) newViews.set(row.roomId, { m: row.membership, ms: row.memberStream, s: 0, r: 0, t: 0 });
    }
    const accountDataOnly: SyncParts["roomAccountDataOnly"] = [];
    for (const [roomId, events] of roomData) {
      const v = views?.get(roomId);
      if (v && (v.m === "join" || v.m === "leave" || v.m === "ban")) accountDataOnly.push({ roomId, membership: v.m, accountData: events });
    }

    const token = this.#nextToken(deviceId, resolved, newViews, {
      accountData: accountDataPosition(this.ctx.storage.sql),
      toDevice: e2ee?.toDevice.next ?? resolved?.token.toDevice ?? 0,
      deviceLists: e2ee?.deviceLists.pos ?? resolved?.token.deviceLists ?? 0,
      presence: presence.ownSerial,
    });
    const initial = resolved === undefined;
    const response = assembleResponse({
      nextBatch: token,
      rooms: parts,
      roomAccountDataOnly: accountDataOnly,
      accountData: globalAccountData(this.ctx.storage.sql, accountSince, sf, this.userId),
      presence: presence.events,
      toDevice: e2ee?.toDevice.events ?? [],
      // A first sync has no device-list changes to report: the client queries what it needs.
      deviceLists: initial || !e2ee ? { changed: [], left: [] } : { changed: e2ee.deviceLists.changed, left: e2ee.deviceLists.left },
      oneTimeKeyCounts: e2ee?.oneTimeKeyCounts,
      fallbackKeyTypes: e2ee?.unusedFallbackKeyTypes,
      stateAfter: p.useStateAfter,
      everyRoom: initial || p.fullState,
    });
    applyEventFields(response, sf.eventFields);
    return {
      json: JSON.stringify(response),
      token,
      news: initial || p.fullState || hasNews(response),
      armedAtToken,
      commit: () => {
        lazy.commit(token);
        this.#presenceSent.set(deviceId, { token, serials: presence.serials });
      },
    };
  }

  /**
   * The top-level `presence` section (docs/design/presence.md): the rooms' facts merged,
   * one event per user (highest serial wins), the user's own record when it moved past
   * the token's, the filter's `presence` EventFilter applied, at most PRESENCE_SYNC_LIMIT.
   */
  #presenceEvents(
    sf: SyncFilter,
    results: ReadonlyArray<readonly [string, RoomPosition | null, RoomSyncResult]>,
    ownSerial: number,
    sentBefore: ReadonlyMap<string, number> | undefined,
  ): { events: JsonObject[]; ownSerial: number; serials: Map<string, number> } {
    const serials = new Map(sentBefore ?? []);
    if (!this.presence?.enabled) return { events: [], ownSerial, serials };
    const facts: PresenceFact[] = results.flatMap(([, , r]) => r.presence ?? []);
    const own = this.presence.ownSince(ownSerial);
    if (own) facts.push({ ...own, user_id: this.userId });
    const now = Date.now();
    const limit = loadConfig(this.env).presence.syncLimit;
    const events: JsonObject[] = [];
    for (const f of newestPerUser(facts).values()) {
      if ((serials.get(f.user_id) ?? 0) >= f.serial) continue;
      if (!eventMatchesFilter(sf.presence, { type: "m.presence", sender: f.user_id, content: {} })) continue;
      if (events.length >= limit) break;
      events.push(presenceEvent(f.user_id, f, now));
      serials.set(f.user_id, f.serial);
    }
    // Bounded memory: forgetting costs at most a repeated event.
    if (serials.size > PRESENCE_SENT_MAX) serials.clear();
    return { events, ownSerial: own?.serial ?? ownSerial, serials };
  }

  #byRoom(byIdx: ReadonlyMap<number, RoomView>): Map<string, RoomView> {
    const out = new Map<string, RoomView>();
    for (const [idx, v] of byIdx) {
      const roomId = this.#store.roomOf(idx);
      if (roomId !== undefined) out.set(roomId, v);
    }
    return out;
  }

  #memberships(): MembershipRow[] {
    return this.ctx.storage.sql
      .exec<{ room_id: string; membership: string; stream: number }>("SELECT room_id, membership, stream FROM rooms WHERE forgotten = 0")
      .toArray()
      .flatMap((r) => (isSyncMembership(r.membership) ? [{ roomId: r.room_id, membership: r.membership, memberStream: r.stream }] : []));
  }

  /**
   * Asks the hub shards which joined rooms moved past the client's views (≤ one RPC per
   * shard), arming this user where nothing did; rooms a shard does not know are asked
   * directly and their positions seed the shard on the next poll.
   */
  async #pollHubs(
    rooms: Array<[string, RoomView]>,
    armUntil: number,
    maxEvents: number,
  ): Promise<{ moved: Array<{ roomId: string; view: RoomView; delta?: HubRoomDelta }>; allArmed: boolean }> {
    if (rooms.length === 0) return { moved: [], allArmed: true };
    const views = new Map(rooms);
    const look = await pollHubShards({
      env: this.env,
      userId: this.userId,
      known: rooms.map(([roomId, v]) => [roomId, streamsOf(v)] as [string, RoomPosition]),
      seeds: this.#seeds,
      armUntil,
      maxEvents,
      onPoll: () => SYNC_COUNTERS.hubPolls++,
      label: "sync",
    });
    const moved: Array<{ roomId: string; view: RoomView; delta?: HubRoomDelta }> = look.changed.map((delta) => ({ roomId: delta.roomId, view: views.get(delta.roomId)!, delta }));
    for (const [roomId, pos] of look.asked) {
      const v = views.get(roomId)!;
      if (isAhead(pos, v)) moved.push({ roomId, view: v });
    }
    return { moved, allArmed: look.allArmed };
  }

  async #fetchRooms(
    deviceId: string,
    fetch: Map<string, RoomPosition | null>,
    p: SyncParams,
    sf: SyncFilter,
    ephemeralWanted: boolean,
  ): Promise<Array<[string, RoomPosition | null, RoomSyncResult]>> {
    const out: Array<[string, RoomPosition | null, RoomSyncResult]> = [];
    await forEachLimited([...fetch], ROOM_CONCURRENCY, async ([roomId, since]) => {
      const req: RoomSyncRequest = {
        userId: this.userId,
        deviceId,
        since: since && streamsOf(since),
        fullState: p.fullState,
        timeline: subFilterAllows(sf.timeline, roomId) ? sf.timeline : { ...sf.timeline, limit: 0 },
        state: subFilterAllows(sf.state, roomId) ? sf.state : { ...sf.state, types: [] },
        ephemeral: ephemeralWanted && subFilterAllows(sf.ephemeral, roomId),
        stateAfter: p.useStateAfter,
      };
      if (this.presence?.enabled) req.presence = { limit: loadConfig(this.env).presence.syncLimit };
      try {
        SYNC_COUNTERS.fromRoom++;
        out.push([roomId, since, JSON.parse(await roomActor(this.env, roomId).syncRoom(req)) as RoomSyncResult]);
      } catch (e) {
        // The room keeps the client's old view and is asked again next time.
        console.error(`sync: room ${roomId} unavailable`, e);
      }
    });
    return out;
  }

  /** The token after this response: the same checkpoint plus inline views, or a new checkpoint. */
  #nextToken(
    deviceId: string,
    resolved: Resolved | undefined,
    views: ReadonlyMap<string, RoomView>,
    scalars: Pick<SyncToken, "accountData" | "toDevice" | "deviceLists" | "presence">,
  ): string {
    return this.ctx.storage.transactionSync(() => {
      const byIdx = new Map<number, RoomView>();
      for (const [roomId, v] of views) byIdx.set(this.#store.indexOf(roomId), v);
      const inline = resolved ? nextInline(resolved.checkpointViews, byIdx) : undefined;
      if (resolved && inline) return encodeSyncToken({ ...scalars, checkpoint: resolved.token.checkpoint, inline });
      return encodeSyncToken({ ...scalars, checkpoint: this.#store.writeCheckpoint(deviceId, byIdx), inline: new Map() });
    });
  }
}
