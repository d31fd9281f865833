/**
 * Simplified sliding sync (MSC4186) on the User actor's side: load the connection's
 * state named by `pos`, sort the user's rooms by recency (hub positions), apply the lists
 * and subscriptions, ask the rooms that have something new for this connection, add the
 * extensions, store the new state and answer — or wait for a wake-up (long-poll).
 * POST /_matrix/client/unstable/org.matrix.simplified_msc3575/sync
 * https://github.com/matrix-org/matrix-spec-proposals/pull/4186
 * Design and costs: docs/design/sync.md ("Simplified sliding sync").
 *
 * Transport-neutral: the HTTP handler and the WebSocket transport (party/sync/socket.ts)
 * both call `request`; the WebSocket one also listens to UserSync.onChange.
 */
import { forEachLimited } from "../../../lib/concurrency.ts";
import { MatrixError } from "../../../lib/errors.ts";
import type { RoomAnswerFacts } from "../../../lib/e2ee/device-list-tracking.ts";
import type { JsonObject, JsonValue } from "../../../lib/json.ts";
import type { CountPoint, UnreadCounts } from "../../../lib/push/counts.ts";
import type { Ruleset } from "../../../lib/push/types.ts";
import { neutralRules, type NeutralRules } from "../../../lib/push/shared-outcome.ts";
import { JsonParseError, parseJsonStrict } from "../../../lib/json-parse.ts";
import { MAX_BUFFERED_EVENTS, MAX_BUFFERED_RECEIPTS } from "../../../lib/sync/hub.ts";
import { isSyncMembership, type PublishedPosition, type RoomPosition, type SyncMembership } from "../../../lib/sync/position.ts";
import { MAX_SYNC_TIMEOUT_MS } from "../../../lib/sync/request.ts";
import type { RoomSyncResult } from "../../../lib/sync/response.ts";
import { cloneConnectionState, emptyConnectionState, encodeConnectionState, inScope, rememberLazy, roomAction, type ConnectionState, type RoomAction } from "../../../lib/sync/sliding/connection.ts";
import { countOn, countsUnchanged, fastSlidingRoom, mergeNews, rulesKey, type RoomNews } from "../../../lib/sync/sliding/fast-room.ts";
import { applyList, combineConfigs, needsRoomMeta, sortByRecency, type ListRoom } from "../../../lib/sync/sliding/lists.ts";
import { DEFAULT_TO_DEVICE_LIMIT, parseSlidingRequest, type ExtensionScope, type RoomConfig, type SlidingRequest } from "../../../lib/sync/sliding/request.ts";
import { roomResultJson, type RoomResultJson, type SlidingRoomAnswer, type SlidingRoomRequest } from "../../../lib/sync/sliding/room-result.ts";
import type { Env } from "../../env.ts";
import { attachUnreadCounts } from "../../push/sync-counts.ts";
import { pushRulesJson } from "../../user/push-rules.ts";
import { pushCountScanLimit } from "../../room/push.ts";
import { accountDataPosition } from "../account-data.ts";
import { deviceKeysActor, roomActor } from "../../stubs.ts";
import { pollHubShards } from "../hub-poll.ts";
import type { E2eeAnswers } from "../e2ee.ts";
import type { Signal } from "../signal.ts";
import { SLIDING_COUNTERS } from "./counters.ts";
import { slidingSettings, type SlidingSettings } from "./settings.ts";
import { SlidingStore } from "./store.ts";

/** Rooms asked at once. */
const ROOM_CONCURRENCY = 32;
/** How long the hub keeps the user armed after a poll; re-polled once half of it is gone. */
const ARM_AHEAD_MS = 60_000;

export interface SlidingAnswer {
  body: string;
  pos: string;
  empty: boolean;
}

interface Row {
  roomId: string;
  membership: SyncMembership;
  stream: number;
  updatedTs: number;
}

interface Attempt {
  answer: SlidingAnswer;
  commit(): SlidingAnswer;
}

interface RoomMeta {
  encrypted: boolean;
  roomType: string | null;
  /** Event stream it was read at (encryption can be switched on later, never off). */
  s: number;
}

/** The parts of a response outside `rooms` and `lists`. */
interface Extensions {
  to_device?: { next_batch: string; events: JsonObject[] };
  e2ee?: { device_lists?: { changed: string[]; left: string[] }; device_one_time_keys_count: Record<string, number>; device_unused_fallback_key_types: string[] };
  account_data?: { global?: JsonObject[]; rooms?: Record<string, JsonObject[]> };
  receipts?: { rooms: Record<string, JsonObject> };
  typing?: { rooms: Record<string, JsonObject> };
}

export class SlidingSync {
  readonly #store: SlidingStore;
  readonly #settings: SlidingSettings;
  /** Newest known position of each of the user's rooms (from the hub shards or the rooms). */
  readonly #positions = new Map<string, PublishedPosition>();
  readonly #seeds = new Map<string, PublishedPosition>();
  readonly #meta = new Map<string, RoomMeta>();
  /** Per joined room, the push context and position of the last counts the room gave (lib/push/counts.ts CountPoint). */
  readonly #countPoints = new Map<string, CountPoint>();
  /** Per space room: its children as read at the space's event stream `s` (memory only). */
  readonly #spaceChildren = new Map<string, { s: number; children: Set<string> }>();
  /** Per joined room, the events, receipts and typing set the hub polls brought (the fast path). */
  readonly #news = new Map<string, RoomNews>();
  /**
   * Per joined room, the positions up to which its member and key facts went to the
   * user's DeviceKeys actor (memory only: after a restart every room is asked once more),
   * and the rooms whose new events may hold a member change (so must be asked again).
   */
  readonly #observed = new Map<string, { s: number; d: number }>();
  readonly #memberDirty = new Set<string>();
  /** The shards hold this user armed at #positions since signal generation g (no wake since: nothing moved). */
  #armed: { generation: number; until: number } | undefined;
  #lock: Promise<unknown> = Promise.resolve();
  /** Per device, the last DeviceKeys answer with nothing new, reused while no notification came (as v2, party/sync/e2ee.ts). */
  readonly #e2eeQuiet = new Map<string, { epoch: number; toDeviceSince: number; state: E2eeState }>();
  #e2eeEpoch = 0;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: Env,
    private readonly userId: string,
    private readonly signal: Signal,
    private readonly e2eeAnswers: E2eeAnswers,
  ) {
    this.#settings = slidingSettings(env);
    this.#store = new SlidingStore(ctx.storage, this.#settings.maxConnections);
  }

  devicesDeleted(deviceIds: string[] | null): void {
    this.#store.deleteDevices(deviceIds);
  }

  /** The DeviceKeys actor notified a change: cached quiet answers are stale. */
  stale(): void {
    this.#e2eeEpoch++;
  }

  /**
   * One request of one connection. `timeoutMs` 0 (and every first request of a
   * connection) answers at once; otherwise an answer with nothing new waits for a wake
   * until the timeout. `empty`: nothing new (the pos may be the same as before).
   */
  async request(deviceId: string, requestJson: string, pos: string | null, timeoutMs: number): Promise<SlidingAnswer> {
    let body: JsonValue;
    try {
      body = parseJsonStrict(requestJson, { maxBytes: 1024 * 1024 });
    } catch (e) {
      if (e instanceof JsonParseError) throw new MatrixError("M_NOT_JSON", 400, `Content not JSON: ${e.message}`);
      throw e;
    }
    const req = parseSlidingRequest(body, this.#settings);
    const wait = pos === null || !Number.isFinite(timeoutMs) ? 0 : Math.min(Math.max(0, timeoutMs), MAX_SYNC_TIMEOUT_MS);
    const deadline = Date.now() + wait;
    for (;;) {
      const generation = this.signal.generation;
      const a = await this.#exclusive(() => this.#attempt(deviceId, req, pos, generation));
      if (!a.answer.empty || Date.now() >= deadline) return a.commit();
      await this.signal.wait(generation, deadline);
    }
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn, fn);
    this.#lock = run.catch(() => {});
    return run;
  }

  async #attempt(deviceId: string, req: SlidingRequest, posText: string | null, generation: number): Promise<Attempt> {
    const loaded = posText === null ? undefined : this.#store.load(deviceId, req.connId, posText);
    const prev = loaded?.state ?? emptyConnectionState();
    const next = cloneConnectionState(prev);
    const now = Date.now();
    const rows = this.#memberships();
    const byRoom = new Map(rows.map((r) => [r.roomId, r]));
    await this.#refreshPositions(rows.filter((r) => r.membership === "join").map((r) => r.roomId), generation);

    // The server's room list: joined, invited, knocked, banned; left only if this connection had the room.
    const accountDataAt = accountDataPosition(this.ctx.storage.sql);
    const dms = this.#dmRooms(accountDataAt);
    const tags = this.#tags(accountDataAt);
    const listRooms: ListRoom[] = rows
      .filter((r) => r.membership !== "leave" || prev.rooms.has(r.roomId))
      .map((r) => ({
        roomId: r.roomId,
        membership: r.membership,
        recency: r.membership === "join" ? (this.#positions.get(r.roomId)?.b ?? 0) : r.updatedTs,
        isDm: dms.has(r.roomId),
        tags: tags.get(r.roomId) ?? [],
      }));
    if ([...req.lists.values()].some((l) => needsRoomMeta(l.filters))) {
      await this.#ensureMeta(deviceId, listRooms.map((r) => r.roomId));
      for (const r of listRooms) {
        const m = this.#meta.get(r.roomId);
        if (m) Object.assign(r, { encrypted: m.encrypted, roomType: m.roomType });
      }
    }
    const sorted = sortByRecency(listRooms);
    const lists: Record<string, { count: number }> = {};
    const roomLists = new Map<string, string[]>();
    const configs = new Map<string, RoomConfig[]>();
    const add = (roomId: string, c: RoomConfig) => {
      const list = configs.get(roomId);
      if (list) list.push(c);
      else configs.set(roomId, [c]);
    };
    next.counts = new Map();
    await this.#applySpaces(req, byRoom);
    for (const [key, list] of req.lists) {
      const res = applyList(sorted, list);
      lists[key] = { count: res.count };
      next.counts.set(key, res.count);
      for (const id of res.roomIds) {
        roomLists.set(id, [...(roomLists.get(id) ?? []), key]);
        add(id, list);
      }
    }
    // Subscriptions to rooms the user is not (and was never) in are ignored (MSC4186).
    for (const [roomId, c] of req.subscriptions) if (byRoom.has(roomId)) add(roomId, c);

    // What each selected room needs.
    const ext = req.extensions;
    const asks = new Map<string, { req: SlidingRoomRequest; action: RoomAction; config: RoomConfig }>();
    const countRooms = new Set<string>();
    for (const [roomId, cs] of configs) {
      const row = byRoom.get(roomId)!;
      const config = combineConfigs(cs);
      const pos = this.#positions.get(roomId);
      const sent = prev.rooms.get(roomId);
      // A room the user is not joined to ends at their membership event: its later events never count.
      const action = roomAction(sent, { m: row.membership, ms: row.stream, s: row.membership === "join" ? (pos?.s ?? 0) : row.stream }, config);
      const q: SlidingRoomRequest = { userId: this.userId, deviceId };
      if (action.kind !== "none") {
        q.room = {
          since: action.kind === "incremental" ? action.since : null,
          timelineLimit: config.timelineLimit,
          requiredState: config.requiredState,
          lazySent: action.kind === "incremental" ? (sent?.lz ?? []) : [],
          liveAfterTs: loaded ? prev.ts : 0,
        };
      }
      const subscribed = req.subscriptions.has(roomId);
      const listsOf = roomLists.get(roomId) ?? [];
      const joined = row.membership === "join";
      if (joined && ext.receipts && inScope(ext.receipts, listsOf, subscribed, roomId)) {
        const had = prev.receipts.get(roomId);
        if (had === undefined || action.kind === "initial") q.receiptsSince = -1;
        else if ((pos?.r ?? 0) > had) q.receiptsSince = had;
      }
      if (joined && ext.typing && inScope(ext.typing, listsOf, subscribed, roomId)) {
        const had = prev.typing.get(roomId);
        if (had === undefined || (pos?.t ?? 0) > had) q.typing = true;
      }
      // Counts change with new events and with the user's own receipts.
      if (joined && (action.kind !== "none" || sent?.n === undefined || (pos?.r ?? 0) > (sent.cr ?? -1))) countRooms.add(roomId);
      if (q.room || q.receiptsSince !== undefined || q.typing) asks.set(roomId, { req: q, action, config });
    }
    const factRooms = ext.e2ee ? this.#deviceListAsks(rows, deviceId, asks) : [];
    // The fast path: rooms already sent whose news the hub polls brought are answered here.
    const fast = new Map<string, SlidingRoomAnswer>();
    for (const [roomId, ask] of asks) {
      const row = byRoom.get(roomId)!;
      const sent = prev.rooms.get(roomId);
      const pos = this.#positions.get(roomId);
      if (ask.req.deviceLists || row.membership !== "join" || sent?.m !== "join" || sent.ms !== row.stream || !pos) continue;
      if (ask.action.kind === "initial") continue;
      const r = ask.req.room;
      const a = fastSlidingRoom({
        userId: this.userId,
        deviceId,
        news: this.#news.get(roomId),
        pos,
        sent,
        room: r && r.since !== null ? { since: r.since, timelineLimit: r.timelineLimit, lazyMembers: r.requiredState.lazyMembers, liveAfterTs: r.liveAfterTs } : undefined,
        receiptsSince: ask.req.receiptsSince,
        typing: ask.req.typing,
        now,
      });
      if (!a || (r && !a.room)) continue;
      fast.set(roomId, a);
      SLIDING_COUNTERS.fromHub++;
    }
    // A room asked anyway counts in the same call; the others (receipts moved) are asked for counts alone.
    let pushRules: string | undefined;
    const rules = () => (pushRules ??= pushRulesJson(this.ctx.storage.sql, this.userId));
    let rulesFingerprint: string | undefined;
    const rk = () => (rulesFingerprint ??= rulesKey(rules()));
    for (const roomId of countRooms) {
      const ask = asks.get(roomId);
      if (ask && !fast.has(roomId)) ask.req.pushRules = rules();
    }
    const answers = await this.#askRooms([...asks].filter(([roomId]) => !fast.has(roomId)).map(([roomId, a]) => [roomId, a.req] as const));
    for (const [roomId, a] of fast) answers.set(roomId, a);

    const observed = factRooms.length > 0 ? await this.#recordDeviceLists(deviceId, req, prev, factRooms, answers) : undefined;

    // Notification counts for joined rooms whose events or receipts moved.
    const counts = new Map<string, UnreadCounts>();
    /** Where each room's counts stand (SentRoom cs/ce), when known. */
    const countAt = new Map<string, { cs: number; ce: number }>();
    const countTargets: Array<[string, null, RoomSyncResult]> = [];
    let ruleset: Ruleset | undefined;
    let neutral: NeutralRules | null | undefined;
    for (const roomId of countRooms) {
      const a = answers.get(roomId);
      if (a?.counts !== undefined) {
        if (a.counts) counts.set(roomId, a.counts);
        if (a.counts && a.countPoint) this.#notePoint(roomId, a.countPoint, countAt);
        continue;
      }
      const p = a?.position ?? this.#positions.get(roomId);
      if (!p) continue;
      // Only the user's own events or others' receipts since the counts were sent, under the same rules: they hold.
      const sent = prev.rooms.get(roomId);
      if (sent?.n && sent.cr !== undefined && sent.nh === rk() && countsUnchanged(this.#news.get(roomId), this.userId, p, sent.s, sent.cr)) {
        counts.set(roomId, { notification_count: sent.n[0], highlight_count: sent.n[1] });
        if (sent.cs !== undefined && sent.ce !== undefined) countAt.set(roomId, { cs: sent.cs, ce: sent.ce });
        SLIDING_COUNTERS.countsKept++;
        continue;
      }
      // New messages only: counted on here from the room's last counts, with its push context.
      const point = this.#countPoints.get(roomId);
      if (sent?.n && sent.cr !== undefined && sent.cs !== undefined && sent.ce !== undefined && point && point.at <= sent.cs && sent.nh === rk()) {
        const on = countOn({
          userId: this.userId,
          roomId,
          news: this.#news.get(roomId),
          pos: p,
          from: { n: sent.n, at: sent.cs, examined: sent.ce, countedR: sent.cr },
          point,
          ruleset: (ruleset ??= (JSON.parse(rules()) as { global: Ruleset }).global),
          neutral: (neutral ??= neutralRules(rules(), this.userId)),
          scanLimit: pushCountScanLimit(this.env),
        });
        if (on) {
          counts.set(roomId, { notification_count: on.n[0], highlight_count: on.n[1] });
          countAt.set(roomId, { cs: on.at, ce: on.examined });
          SLIDING_COUNTERS.countedOn++;
          continue;
        }
      }
      countTargets.push([roomId, null, { membership: "join", memberStream: byRoom.get(roomId)!.stream, position: p }]);
    }
    SLIDING_COUNTERS.countCalls += countTargets.length;
    const points = new Map<string, CountPoint>();
    await attachUnreadCounts(this.env, this.ctx.storage.sql, this.userId, countTargets, false, points);
    for (const [id, , r] of countTargets) if (r.unreadNotifications) counts.set(id, r.unreadNotifications);
    for (const [id, point] of points) this.#notePoint(id, point, countAt);

    // Room results.
    const rooms: Record<string, RoomResultJson> = {};
    const extensions: Extensions = {};
    const receipts: Record<string, JsonObject> = {};
    const typing: Record<string, JsonObject> = {};
    for (const [roomId] of configs) {
      const ask = asks.get(roomId);
      const a = answers.get(roomId);
      const sent = prev.rooms.get(roomId);
      const isDm = dms.has(roomId);
      const c = counts.get(roomId);
      const countsChanged = c !== undefined && (sent?.n?.[0] !== c.notification_count || sent?.n?.[1] !== c.highlight_count);
      if (a && !fast.has(roomId)) this.#noteMeta(roomId, a);
      const counted = c ? { n: [c.notification_count, c.highlight_count] as [number, number], cr: (a?.position ?? this.#positions.get(roomId))?.r ?? 0, nh: rk(), ...countAt.get(roomId) } : {};
      if (ask?.req.room && a?.room) {
        const initial = ask.action.kind === "initial";
        rooms[roomId] = roomResultJson({ answer: a, initial, isDm, dmChanged: sent?.dm !== isDm, lists: roomLists.get(roomId) ?? [], counts: c });
        next.rooms.set(roomId, {
          ...(sent?.n ? { n: sent.n, cr: sent.cr, ...(sent.nh !== undefined ? { nh: sent.nh } : {}), ...(sent.cs !== undefined && sent.ce !== undefined ? { cs: sent.cs, ce: sent.ce } : {}) } : {}),
          m: a.membership,
          ms: a.memberStream,
          // Everything up to the room's published position was considered (no re-ask for it).
          s: a.membership === "join" ? Math.max(a.room.stream, a.position.s) : a.room.stream,
          tl: ask.config.timelineLimit,
          rs: ask.config.requiredState,
          lz: rememberLazy(sent?.lz ?? [], a.room.lazy, initial),
          dm: isDm,
          ...counted,
        });
      } else if (sent) {
        const entry: RoomResultJson = {};
        if (sent.dm !== isDm) entry.is_dm = isDm;
        if (c && countsChanged) {
          entry.notification_count = c.notification_count;
          entry.highlight_count = c.highlight_count;
        }
        if (Object.keys(entry).length > 0) rooms[roomId] = entry;
        next.rooms.set(roomId, { ...sent, dm: isDm, ...counted });
      }
      if (a?.receipts) {
        if (Object.keys(a.receipts.content).length > 0) receipts[roomId] = { type: "m.receipt", content: a.receipts.content };
        next.receipts.set(roomId, a.receipts.position);
      }
      if (a?.typing) {
        const had = prev.typing.get(roomId);
        if (had !== undefined || a.typing.length > 0) typing[roomId] = { type: "m.typing", content: { user_ids: a.typing } };
        next.typing.set(roomId, a.position.t);
      }
    }
    if (ext.receipts) extensions.receipts = { rooms: receipts };
    if (ext.typing) extensions.typing = { rooms: typing };
    if (ext.accountData) extensions.account_data = this.#accountData(ext.accountData, prev, next, roomLists, req, byRoom);
    await this.#e2eeParts(deviceId, req, prev, next, extensions, observed);
    next.ts = now;

    const response: JsonObject = { pos: "" };
    if (req.txnId !== undefined) response.txn_id = req.txnId;
    response.lists = lists;
    response.rooms = rooms as unknown as JsonObject;
    response.extensions = extensions as unknown as JsonObject;
    const countsMoved = [...next.counts].some(([k, n]) => prev.counts.get(k) !== n);
    const empty = loaded !== undefined && Object.keys(rooms).length === 0 && !countsMoved && !extensionNews(extensions);
    const unchanged = loaded !== undefined && encodeConnectionState({ ...next, ts: prev.ts }) === loaded.text;
    const finish = (pos: string): SlidingAnswer => {
      response.pos = pos;
      return { body: JSON.stringify(response), pos, empty };
    };
    return {
      answer: { body: "", pos: posText ?? "", empty },
      commit: () => finish(unchanged ? posText! : this.#store.commit(deviceId, req.connId, loaded, next)),
    };
  }

  #memberships(): Row[] {
    return this.ctx.storage.sql
      .exec<{ room_id: string; membership: string; stream: number; updated_ts: number }>(
        "SELECT room_id, membership, stream, updated_ts FROM rooms WHERE forgotten = 0",
      )
      .toArray()
      .flatMap((r) => (isSyncMembership(r.membership) ? [{ roomId: r.room_id, membership: r.membership, stream: r.stream, updatedTs: r.updated_ts }] : []));
  }

  /** Rooms named in the user's m.direct account data (read again only after an account-data change). */
  #dmRooms(at: number): Set<string> {
    if (this.#dmCache?.at === at) return this.#dmCache.rooms;
    const rooms = this.#readDmRooms();
    this.#dmCache = { at, rooms };
    return rooms;
  }

  #dmCache: { at: number; rooms: Set<string> } | undefined;
  #tagCache: { at: number; tags: Map<string, string[]> } | undefined;

  #readDmRooms(): Set<string> {
    const row = this.ctx.storage.sql.exec<{ content: string }>("SELECT content FROM account_data WHERE room_id = '' AND type = 'm.direct'").toArray()[0];
    const out = new Set<string>();
    if (!row) return out;
    const content = JSON.parse(row.content) as Record<string, unknown>;
    for (const v of Object.values(content)) if (Array.isArray(v)) for (const id of v) if (typeof id === "string") out.add(id);
    return out;
  }

  /** Each room's tag names (m.tag room account data; read again only after an account-data change). */
  #tags(at: number): Map<string, string[]> {
    if (this.#tagCache?.at === at) return this.#tagCache.tags;
    const tags = this.#readTags();
    this.#tagCache = { at, tags };
    return tags;
  }

  #readTags(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const r of this.ctx.storage.sql.exec<{ room_id: string; content: string }>("SELECT room_id, content FROM account_data WHERE type = 'm.tag' AND room_id != ''")) {
      const tags = (JSON.parse(r.content) as { tags?: unknown }).tags;
      if (tags && typeof tags === "object") out.set(r.room_id, Object.keys(tags));
    }
    return out;
  }

  /**
   * Brings #positions up to date for the joined rooms: one poll per hub shard (arming the
   * user at the answer's positions, so the next change wakes it), rooms a shard does not
   * know asked directly. Skipped while the shards hold the user armed and nothing woke it.
   */
  async #refreshPositions(joined: string[], generation: number): Promise<void> {
    const now = Date.now();
    const a = this.#armed;
    if (a && a.generation === generation && now < a.until - ARM_AHEAD_MS / 2 && joined.every((id) => this.#positions.has(id))) return;
    this.#armed = undefined;
    if (joined.length === 0) return;
    const armUntil = now + ARM_AHEAD_MS;
    const knownOf = new Map(joined.map((roomId): [string, RoomPosition] => [roomId, this.#positions.get(roomId) ?? { s: 0, r: 0, t: 0 }]));
    const look = await pollHubShards({ env: this.env, userId: this.userId, known: knownOf, seeds: this.#seeds, armUntil, maxEvents: MAX_BUFFERED_EVENTS, label: "sliding sync" });
    // The shards' buffered events feed the fast path (and, with the e2ee extension, tell whether a member changed).
    for (const d of look.changed) {
      this.#rememberNews(d.roomId, mergeNews(this.#news.get(d.roomId), knownOf.get(d.roomId) ?? { s: 0, r: 0, t: 0 }, d, this.#settings.fastPathEvents, MAX_BUFFERED_RECEIPTS));
      this.#positions.set(d.roomId, d.pos);
      if (d.events === undefined || d.events.some((e) => e.type === "m.room.member")) this.#memberDirty.add(d.roomId);
    }
    for (const [roomId, pos] of look.asked) {
      this.#positions.set(roomId, pos);
      this.#memberDirty.add(roomId);
    }
    if (look.allArmed) this.#armed = { generation, until: armUntil };
  }

  /**
   * Keeps a room's news as the most recent, within SLIDING_SYNC_FAST_PATH_EVENTS events
   * over all rooms (the least recently moved rooms' news go first: they only narrow the fast path).
   */
  #rememberNews(roomId: string, news: RoomNews): void {
    this.#news.delete(roomId);
    this.#news.set(roomId, news);
    let total = 0;
    for (const n of this.#news.values()) total += n.events.length;
    for (const [id, n] of this.#news) {
      if (total <= this.#settings.fastPathEvents) break;
      if (id === roomId) continue;
      total -= n.events.length;
      this.#news.delete(id);
    }
  }

  /**
   * The e2ee extension's device lists need the DeviceKeys actor to know whom the user
   * shares rooms with (docs/design/e2ee.md): joined rooms never observed, whose
   * device-list position moved, or whose new events may hold a member change are asked
   * for their facts (added to the room asks); rooms left since are reported gone.
   */
  #deviceListAsks(rows: readonly Row[], deviceId: string, asks: Map<string, { req: SlidingRoomRequest; action: RoomAction; config: RoomConfig }>): Array<[string, Row]> {
    const out: Array<[string, Row]> = [];
    for (const row of rows) {
      const o = this.#observed.get(row.roomId);
      if (row.membership !== "join") {
        if (o) out.push([row.roomId, row]);
        continue;
      }
      const pos = this.#positions.get(row.roomId);
      const need = !o || (pos?.d ?? 0) > o.d || ((pos?.s ?? 0) > o.s && this.#memberDirty.has(row.roomId));
      if (!need) {
        // Only messages since: nothing for the DeviceKeys actor; later facts start from here.
        if (o && pos && pos.s > o.s) o.s = pos.s;
        continue;
      }
      out.push([row.roomId, row]);
      const ask = asks.get(row.roomId);
      const deviceLists = { since: o ? { s: o.s, d: o.d } : null };
      if (ask) ask.req.deviceLists = deviceLists;
      else asks.set(row.roomId, { req: { userId: this.userId, deviceId, deviceLists }, action: { kind: "none" }, config: { timelineLimit: 0, requiredState: { include: [], exclude: [], lazyMembers: false } } });
    }
    return out;
  }

  /** Hands the rooms' facts to the DeviceKeys actor (through the v2 bookkeeping); its fresh state when it was called. */
  async #recordDeviceLists(
    deviceId: string,
    req: SlidingRequest,
    prev: ConnectionState,
    rooms: ReadonlyArray<[string, Row]>,
    answers: ReadonlyMap<string, SlidingRoomAnswer>,
  ): Promise<E2eeState | undefined> {
    const facts: Array<[string, null, RoomAnswerFacts]> = [];
    for (const [roomId, row] of rooms) {
      if (row.membership !== "join") {
        // A room left since it was observed: the answer form of a departure.
        facts.push([roomId, null, { membership: row.membership, position: { s: row.stream } }]);
        continue;
      }
      const a = answers.get(roomId);
      if (!a) continue; // asked again next time
      const f: RoomAnswerFacts = { membership: a.membership, position: a.position };
      if (a.members) f.members = a.members;
      if (a.memberChanges) f.memberChanges = a.memberChanges;
      if (a.deviceListChanged) f.deviceListChanged = a.deviceListChanged;
      facts.push([roomId, null, f]);
    }
    // Departures travel as answers above; the separate `departed` list (rooms no answer covered) stays empty.
    const record: (deviceId: string, toDeviceSince: number, deviceListSince: number, answers: typeof facts, departed: Array<[string, number]>) => Promise<E2eeState | undefined> =
      this.e2eeAnswers.record.bind(this.e2eeAnswers);
    const state = await record(deviceId, req.extensions.toDevice?.since ?? 0, prev.deviceLists ?? 0, facts, []);
    for (const [roomId, , f] of facts) {
      if (f.membership !== "join") this.#observed.delete(roomId);
      else this.#observed.set(roomId, { s: f.position.s, d: f.position.d ?? 0 });
      this.#memberDirty.delete(roomId);
    }
    if (this.#observed.size > 100_000) this.#observed.clear();
    return state;
  }

  /** Encryption and room type of rooms a filter needs them for (cached; only encryption can change, once). */
  async #ensureMeta(deviceId: string, roomIds: string[]): Promise<void> {
    const missing = roomIds.filter((id) => {
      const m = this.#meta.get(id);
      return !m || (!m.encrypted && (this.#positions.get(id)?.s ?? 0) > m.s);
    });
    const answers = await this.#askRooms(missing.map((roomId) => [roomId, { userId: this.userId, deviceId }] as const));
    for (const [roomId, a] of answers) this.#noteMeta(roomId, a);
  }

  /**
   * Lists filtered by `spaces` get the rooms those spaces name as children (m.space.child
   * with a `via`), only for spaces the user is joined to, subspaces not followed (MSC4186).
   * A space's children are read from it once per position of the space room.
   */
  async #applySpaces(req: SlidingRequest, byRoom: ReadonlyMap<string, Row>): Promise<void> {
    const lists = [...req.lists.values()].filter((l) => l.filters.spaces);
    if (lists.length === 0) return;
    const joined = [...new Set(lists.flatMap((l) => l.filters.spaces!))].filter((id) => byRoom.get(id)?.membership === "join");
    await forEachLimited(joined, ROOM_CONCURRENCY, async (spaceId) => {
      const s = this.#positions.get(spaceId)?.s;
      const held = this.#spaceChildren.get(spaceId);
      if (held && s !== undefined && held.s === s) return;
      try {
        const rpc = roomActor(this.env, spaceId) as unknown as SpaceSummaryRpc;
        const facts = await rpc.summary({ userId: this.userId, children: true, suggestedOnly: false });
        if (this.#spaceChildren.size > 10_000) this.#spaceChildren.clear();
        this.#spaceChildren.set(spaceId, { s: s ?? -1, children: new Set((facts?.children ?? []).map((c) => c.state_key)) });
      } catch (e) {
        console.error(`sliding sync: space ${spaceId} unavailable`, e);
      }
    });
    for (const l of lists) {
      const rooms = new Set<string>();
      for (const id of l.filters.spaces!) if (joined.includes(id)) for (const c of this.#spaceChildren.get(id)?.children ?? []) rooms.add(c);
      l.filters.inRooms = rooms;
    }
  }

  /** Counts the room gave: where they stand, and its push context for counting on (memory only). */
  #notePoint(roomId: string, point: CountPoint, countAt: Map<string, { cs: number; ce: number }>): void {
    countAt.set(roomId, { cs: point.at, ce: point.examined });
    if (this.#countPoints.size > 100_000) this.#countPoints.clear();
    this.#countPoints.set(roomId, point);
  }

  #noteMeta(roomId: string, a: SlidingRoomAnswer): void {
    if (this.#meta.size > 100_000) this.#meta.clear();
    this.#meta.set(roomId, { encrypted: a.encrypted, roomType: a.roomType, s: a.position.s });
  }

  async #askRooms(asks: ReadonlyArray<readonly [string, SlidingRoomRequest]>): Promise<Map<string, SlidingRoomAnswer>> {
    const out = new Map<string, SlidingRoomAnswer>();
    SLIDING_COUNTERS.roomCalls += asks.length;
    await forEachLimited(asks, ROOM_CONCURRENCY, async ([roomId, q]) => {
      try {
        const a = JSON.parse(await roomActor(this.env, roomId).slidingRoom(q)) as SlidingRoomAnswer;
        out.set(roomId, a);
        // The room's own answer is newer than anything the hub said.
        const known = this.#positions.get(roomId);
        if (a.membership === "join" && (!known || a.position.s >= known.s)) this.#positions.set(roomId, a.position);
      } catch (e) {
        // The room keeps its old record in the connection and is asked again next time.
        console.error(`sliding sync: room ${roomId} unavailable`, e);
      }
    });
    return out;
  }

  /**
   * Account data: global changes since the connection's position (all of it the first
   * time), and for each room in scope what changed since that room was last covered.
   */
  #accountData(
    scope: ExtensionScope,
    prev: ConnectionState,
    next: ConnectionState,
    roomLists: ReadonlyMap<string, string[]>,
    req: SlidingRequest,
    byRoom: ReadonlyMap<string, Row>,
  ): NonNullable<Extensions["account_data"]> {
    const sql = this.ctx.storage.sql;
    const current = accountDataPosition(sql);
    const out: NonNullable<Extensions["account_data"]> = {};
    const global = sql
      .exec<{ type: string; content: string }>("SELECT type, content FROM account_data WHERE room_id = '' AND stream_pos > ? ORDER BY stream_pos", prev.globalAccountData ?? -1)
      .toArray()
      .map((r) => ({ type: r.type, content: JSON.parse(r.content) as JsonObject }));
    if (global.length > 0) out.global = global;
    next.globalAccountData = current;
    const rooms: Record<string, JsonObject[]> = {};
    const candidates = new Set([...roomLists.keys(), ...[...req.subscriptions.keys()].filter((id) => byRoom.has(id))]);
    for (const roomId of candidates) {
      if (!inScope(scope, roomLists.get(roomId) ?? [], req.subscriptions.has(roomId), roomId)) continue;
      const since = prev.roomAccountData.get(roomId) ?? -1;
      const rows = sql
        .exec<{ type: string; content: string; stream_pos: number }>(
          "SELECT type, content, stream_pos FROM account_data WHERE room_id = ? AND stream_pos > ? ORDER BY stream_pos",
          roomId,
          since,
        )
        .toArray();
      if (rows.length > 0) rooms[roomId] = rows.map((r) => ({ type: r.type, content: JSON.parse(r.content) as JsonObject }));
      // Remember only when something was sent or the room is new to the extension, so the state does not churn.
      if (rows.length > 0) next.roomAccountData.set(roomId, Math.max(...rows.map((r) => r.stream_pos)));
      else if (since < 0) next.roomAccountData.set(roomId, current);
    }
    if (Object.keys(rooms).length > 0) out.rooms = rooms;
    return out;
  }

  /**
   * The DeviceKeys actor's state for this device (acknowledging to-device messages up to
   * `toDeviceSince`); a quiet answer is reused while no notification came in.
   */
  async #e2eeState(deviceId: string, toDeviceSince: number, deviceListSince: number, toDeviceLimit: number): Promise<E2eeState | undefined> {
    const epoch = this.#e2eeEpoch;
    const q = this.#e2eeQuiet.get(deviceId);
    if (q && q.epoch === epoch && q.toDeviceSince === toDeviceSince && q.state.deviceLists.pos === deviceListSince) return q.state;
    try {
      const rpc = deviceKeysActor(this.env, this.userId) as unknown as E2eeSyncRpc;
      const state = await rpc.syncState(deviceId, { toDeviceSince, toDeviceLimit, deviceListSince });
      const nothing = state.toDevice.events.length === 0 && !state.toDevice.more && state.deviceLists.changed.length === 0 && state.deviceLists.left.length === 0;
      if (nothing) this.#e2eeQuiet.set(deviceId, { epoch, toDeviceSince, state });
      else this.#e2eeQuiet.delete(deviceId);
      return state;
    } catch (e) {
      console.error("sliding sync: E2EE state unavailable", e);
      return undefined;
    }
  }

  /** to_device and e2ee: one DeviceKeys call (or its cached quiet answer). */
  async #e2eeParts(deviceId: string, req: SlidingRequest, prev: ConnectionState, next: ConnectionState, out: Extensions, fresh?: E2eeState): Promise<void> {
    const td = req.extensions.toDevice;
    if (!td && !req.extensions.e2ee) return;
    const state = fresh ?? (await this.#e2eeState(deviceId, td?.since ?? 0, prev.deviceLists ?? 0, td?.limit ?? DEFAULT_TO_DEVICE_LIMIT));
    if (!state) return;
    if (td) out.to_device = { next_batch: String(state.toDevice.next), events: state.toDevice.events };
    if (req.extensions.e2ee) {
      const e: NonNullable<Extensions["e2ee"]> = {
        device_one_time_keys_count: state.oneTimeKeyCounts,
        device_unused_fallback_key_types: state.unusedFallbackKeyTypes,
      };
      // The first response has no changes to report: the client queries the keys it needs.
      if (prev.deviceLists !== undefined && (state.deviceLists.changed.length > 0 || state.deviceLists.left.length > 0)) {
        e.device_lists = { changed: state.deviceLists.changed, left: state.deviceLists.left };
      }
      out.e2ee = e;
      next.deviceLists = state.deviceLists.pos;
    }
  }
}

/** The DeviceKeys actor's sync RPC (party/device-keys.ts `syncState`), typed without the recursive event JSON. */
interface E2eeSyncRpc {
  syncState(
    deviceId: string,
    p: { toDeviceSince: number; toDeviceLimit?: number; deviceListSince: number },
  ): Promise<{
    toDevice: { events: JsonObject[]; next: number; more: boolean };
    deviceLists: { changed: string[]; left: string[]; pos: number };
    oneTimeKeyCounts: Record<string, number>;
    unusedFallbackKeyTypes: string[];
  }>;
}

type E2eeState = Awaited<ReturnType<E2eeSyncRpc["syncState"]>>;

function extensionNews(e: Extensions): boolean {
  return (
    (e.to_device?.events.length ?? 0) > 0 ||
    e.e2ee?.device_lists !== undefined ||
    e.account_data?.global !== undefined ||
    e.account_data?.rooms !== undefined ||
    Object.keys(e.receipts?.rooms ?? {}).length > 0 ||
    Object.keys(e.typing?.rooms ?? {}).length > 0
  );
}


/** Room.summary (party/room/summary.ts), typed with only what the `spaces` filter reads. */
interface SpaceSummaryRpc {
  summary(p: { userId: string; children: boolean; suggestedOnly: boolean }): Promise<{ children: Array<{ state_key: string }> } | null>;
}
