/**
 * Room actor, one per room ID: the single writer of the room's event graph and the one
 * place its state and history are read from. Design: docs/design/room-actor.md.
 *
 *   room/store.ts       SQLite (schema/room.sql)
 *   room/write-path.ts  the serialised, batched build → authorize → commit queue
 *   room/membership.ts  join, invite, leave, kick, ban, unban, knock, profile updates
 *   room/events.ts      send, state, redact; state and event reads
 *   room/create.ts      /createRoom on the creator's side
 *
 * An actor for a room ID that was never created stays empty: it creates no tables
 * (probing random room IDs writes nothing) and answers 404 M_NOT_FOUND.
 */
import { presenceContent, type PresenceRecord } from "../lib/presence.ts";
import { Server } from "partyserver";
import { badJson, MatrixError, notFound } from "../lib/errors.ts";
import { computeRoomIdForCreateEvent } from "../lib/event-id.ts";
import { parsePdu } from "../lib/event-format.ts";
import { serverNameOf } from "../lib/identifiers.ts";
import type { JsonObject } from "../lib/json.ts";
import { stateKey } from "../lib/pdu.ts";
import type { MemberProfile, StateTemplate } from "../lib/room-create.ts";
import { roomVersionRules, type RoomVersionRules } from "../lib/room-versions.ts";
import { rpcErrors } from "./edge/http.ts";
import { RoomAppservices } from "./appservice/room-hook.ts";
import { accessFacts, checkCanonicalAlias, setPublished } from "./directory/room-side.ts";
import { checkMayChangeVisibility, type DirectoryCaller, type RoomAccessFacts } from "../lib/directory/permissions.ts";
import { loadAppservices, loadConfig, type Env } from "./env.ts";
import { applyMigrations } from "./migrations.ts";
import { creatableRules } from "./room/create.ts";
import { messageIntent, readableState, redactionIntent, stateEventAt, stateEvents, stateIntent, toClientEvent } from "./room/events.ts";
import {
  allowedRooms,
  inviteIntent,
  joinIntent,
  joinRuleIn,
  knockIntent,
  leaveIntent,
  moderationIntent,
  profileIntent,
  type ModerationAction,
} from "./room/membership.ts";
import { deliverOutbox } from "./room/outbox.ts";
import { RoomReads } from "./room/read-api.ts";
import { serverSigningKey } from "./room/signing-key.ts";
import { RoomStore, roomTxnWindow } from "./room/store.ts";
import { roomSummary } from "./room/summary.ts";
import { catchUpIndex, searchRoom, type RoomSearchRequest, type RoomSearchResult } from "./room/search.ts";
import type { RoomSummaryFacts } from "../lib/spaces.ts";
import { restrictIntent, tombstoneIntent, upgradeSource } from "./room/upgrade.ts";
import { RoomHead, WritePath, writeNewRoom, type Intent, type WriteContext } from "./room/write-path.ts";
import { roomActor } from "./stubs.ts";
import { RoomSyncSource } from "./sync/room-source.ts";
import { slidingRoom } from "./sync/sliding/room-feed.ts";
import type { SlidingRoomRequest } from "../lib/sync/sliding/room-result.ts";
import type { RoomSyncRequest } from "../lib/sync/response.ts";
import type { PublishedPosition } from "../lib/sync/position.ts";
import { addPushNotices, pushCountScanLimit, PushMembers, RoomCounts, type RoomNotification } from "./room/push.ts";
import type { Ruleset } from "../lib/push/types.ts";
import type { CountResult } from "../lib/push/counts.ts";
import schema from "../schema/room.sql";
import { recordActorName } from "./actor-name.ts";

/** What a membership change answers: enough for the member's User actor to record it. */
export interface MembershipResult {
  room_id: string;
  event_id: string;
  stream: number;
  membership: string;
}

/** A JSON object as RPC results declare it (see RpcJson in user.ts). */
type RpcJson = Record<string, unknown>;

interface Loaded {
  rules: RoomVersionRules;
  head: RoomHead;
  writer: WritePath;
}

/** How long after a commit with outbox rows the backstop alarm fires (see #armOutboxBackstop). */
const OUTBOX_BACKSTOP_MS = 5_000;

export class Room extends Server<Env> {
  readonly store: RoomStore;
  #loaded: Loaded | undefined;
  #appservices: RoomAppservices | undefined | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    recordActorName(ctx);
    this.store = new RoomStore(ctx.storage, roomTxnWindow(env));
    // Only a room that exists has tables to migrate (see the header).
    void ctx.blockConcurrencyWhile(async () => {
      if (this.#hasSchema()) applyMigrations(ctx.storage, schema);
    });
  }

  // ---- creation ---------------------------------------------------------------------

  /** Stores a new room: the signed create event (checked against this actor's name), then the plan's events. */
  async create(p: { createEvent: JsonObject; events: StateTemplate[] }): Promise<MembershipResult> {
    return rpcErrors(async () => {
      const version = p.createEvent.content && (p.createEvent.content as JsonObject).room_version;
      const rules = creatableRules(typeof version === "string" ? version : undefined);
      const roomId = rules.eventFormat.roomIdIsCreateEventHash
        ? await computeRoomIdForCreateEvent(p.createEvent, rules)
        : p.createEvent.room_id;
      if (roomId !== this.name) throw badJson("the create event does not belong to this room");
      const pdu = await parsePdu(p.createEvent, rules);
      await this.#key();
      applyMigrations(this.ctx.storage, schema);
      if (this.store.room()) throw new MatrixError("M_ROOM_IN_USE", 400, "the room already exists");
      this.store.setRules(rules);
      const creator = pdu.sender;
      const intents: Intent[] = p.events.map((e) => ({ sender: creator, type: e.type, stateKey: e.stateKey, content: e.content }));
      const { head, events } = await writeNewRoom(this.#context(rules), this.store, { pdu, wire: p.createEvent }, intents);
      this.#loaded = { rules, head, writer: this.#writer(rules, head) };
      this.#appserviceHook()?.committed(events);
      this.#sync().eventsCommitted(events);
      this.#armOutboxBackstop();
      void this.#deliver();
      const join = events.find((e) => e.pdu.type === "m.room.member" && e.pdu.state_key === creator)!;
      return { room_id: this.name, event_id: join.pdu.event_id, stream: join.stream, membership: "join" };
    });
  }

  // ---- membership -------------------------------------------------------------------

  async join(p: { userId: string; profile: MemberProfile; reason?: string }): Promise<MembershipResult> {
    return rpcErrors(async () => {
      const room = this.#room();
      let meets = false;
      const view = { get: (t: string, k: string) => this.#current(t, k), idOf: () => undefined };
      const rule = joinRuleIn(view);
      const current = this.#current("m.room.member", p.userId)?.content.membership;
      if ((rule === "restricted" || rule === "knock_restricted") && current !== "invite" && current !== "join") {
        // Before the write queue: asking other rooms must not hold up this room's writes.
        for (const other of allowedRooms(view)) {
          if (other === this.name) continue;
          if ((await roomActor(this.env, other).membership(p.userId).catch(() => null)) === "join") {
            meets = true;
            break;
          }
        }
      }
      const intent = joinIntent({
        ...p,
        meetsAllowCondition: meets,
        localJoinedMembers: () => this.store.joinedMembers().filter((u) => serverNameOf(u) === this.#serverName()),
        rules: room.rules,
      });
      return this.#membership(intent);
    });
  }

  async leave(p: { userId: string; reason?: string }): Promise<MembershipResult> {
    return rpcErrors(() => this.#membership(leaveIntent(p.userId, p.reason)));
  }

  async knock(p: { userId: string; profile: MemberProfile; reason?: string }): Promise<MembershipResult> {
    return rpcErrors(() => this.#membership(knockIntent(p.userId, p.profile, p.reason)));
  }

  async invite(p: { sender: string; target: string; reason?: string; isDirect?: boolean }): Promise<MembershipResult> {
    return rpcErrors(() => this.#membership(inviteIntent(p.sender, p.target, p.reason, p.isDirect ?? false)));
  }

  async moderate(p: { action: ModerationAction; sender: string; target: string; reason?: string }): Promise<MembershipResult> {
    return rpcErrors(() => this.#membership(moderationIntent(p.action, p.sender, p.target, p.reason)));
  }

  /** A joined member's new profile as a new member event; nothing for others. */
  async updateProfile(p: { userId: string; profile: MemberProfile }): Promise<void> {
    return rpcErrors(async () => {
      await this.#submit(profileIntent(p.userId, p.profile));
    });
  }

  /** The user's current membership, or null when the room does not exist here. */
  async membership(userId: string): Promise<string | null> {
    if (!this.#exists()) return null;
    const m = this.#current("m.room.member", userId)?.content.membership;
    return typeof m === "string" ? m : "leave";
  }

  // ---- events -----------------------------------------------------------------------

  /** `originServerTs`: an appservice's `ts` (timestamp massaging), checked by the edge. */
  async send(p: { sender: string; deviceId: string; type: string; content: JsonObject; txnId: string; originServerTs?: number }): Promise<{ event_id: string }> {
    return rpcErrors(async () => {
      if (p.type === "m.room.redaction" && typeof p.content.redacts === "string") {
        return this.redact({ ...p, eventId: p.content.redacts, reason: typeof p.content.reason === "string" ? p.content.reason : undefined });
      }
      const a = await this.#submit({ ...messageIntent(p.sender, p.deviceId, p.type, p.content, p.txnId), originServerTs: p.originServerTs });
      return { event_id: a.eventId };
    });
  }

  async setState(p: { sender: string; type: string; stateKey: string; content: JsonObject; originServerTs?: number }): Promise<{ event_id: string }> {
    return rpcErrors(async () => {
      // New aliases must point here (D1 read before the queue; this event type only).
      if (p.type === "m.room.canonical_alias" && p.stateKey === "") {
        await checkCanonicalAlias(this.env, this.name, p.content, this.#current(p.type, "")?.content);
      }
      const a = await this.#submit({ ...stateIntent(p.sender, p.type, p.stateKey, p.content), originServerTs: p.originServerTs });
      if (p.type === "m.room.member") await this.#deliver();
      return { event_id: a.eventId };
    });
  }

  async redact(p: { sender: string; deviceId: string; eventId: string; txnId: string; reason?: string }): Promise<{ event_id: string }> {
    return rpcErrors(async () => {
      const { rules } = this.#room();
      const a = await this.#submit(redactionIntent({ ...p, target: p.eventId }, this.store, rules));
      return { event_id: a.eventId };
    });
  }

  // ---- reads ------------------------------------------------------------------------

  async state(p: { requester: string; deviceId?: string }): Promise<RpcJson[]> {
    return rpcErrors(() => {
      const { head } = this.#room();
      const state = readableState(p.requester, head, this.store);
      return stateEvents(state, this.store, { userId: p.requester, deviceId: p.deviceId }) as unknown as RpcJson[];
    });
  }

  /** One state event: its content, or (format "event") the whole ClientEvent. */
  async stateEvent(p: { requester: string; type: string; stateKey: string; format: "content" | "event" }): Promise<RpcJson> {
    return rpcErrors(() => {
      const { head } = this.#room();
      const ev = stateEventAt(readableState(p.requester, head, this.store), this.store, p.type, p.stateKey);
      if (p.format === "event") return toClientEvent(ev, this.store, { userId: p.requester }) as unknown as RpcJson;
      return ev.pdu.content;
    });
  }

  /** One event, under full history visibility, with bundled aggregations (room/reads.ts). */
  async event(p: { requester: string; deviceId?: string; eventId: string }): Promise<RpcJson> {
    return rpcErrors(() => this.#reads().event(p));
  }

  // ---- history, relations, ephemeral (room/read-api.ts: one delegating line each) ----

  async messages(p: Parameters<RoomReads["messages"]>[0]): Promise<RpcJson> {
    return rpcErrors(() => this.#reads().messages(p));
  }
  async context(p: Parameters<RoomReads["context"]>[0]): Promise<RpcJson> {
    return rpcErrors(() => this.#reads().context(p));
  }
  async timestampToEvent(p: Parameters<RoomReads["timestampToEvent"]>[0]): Promise<RpcJson> {
    return rpcErrors(() => this.#reads().timestampToEvent(p));
  }
  async members(p: Parameters<RoomReads["members"]>[0]): Promise<RpcJson> {
    return rpcErrors(() => this.#reads().members(p));
  }
  async joinedMembers(p: Parameters<RoomReads["joinedMembers"]>[0]): Promise<RpcJson> {
    return rpcErrors(() => this.#reads().joinedMembers(p));
  }
  async relations(p: Parameters<RoomReads["relations"]>[0]): Promise<RpcJson> {
    return rpcErrors(() => this.#reads().relations(p));
  }
  async threads(p: Parameters<RoomReads["threads"]>[0]): Promise<RpcJson> {
    return rpcErrors(() => this.#reads().threads(p));
  }
  async setTyping(p: Parameters<RoomReads["setTyping"]>[0]): Promise<RpcJson> {
    return rpcErrors(() => {
      this.#appserviceEphemeral();
      return this.#reads().setTyping(p);
    });
  }
  async sendReceipt(p: Parameters<RoomReads["sendReceipt"]>[0]): Promise<RpcJson> {
    return rpcErrors(() => {
      this.#appserviceEphemeral();
      return this.#afterReceipt(this.#reads().sendReceipt(p));
    });
  }
  async setReadMarkers(p: Parameters<RoomReads["setReadMarkers"]>[0]): Promise<RpcJson> {
    return rpcErrors(() => {
      this.#appserviceEphemeral();
      return this.#afterReceipt(this.#reads().setReadMarkers(p));
    });
  }
  /** For /sync: who is typing now, and the typing serial (bumped on every change). */
  async typingUsers(): Promise<{ user_ids: string[]; serial: number }> {
    return rpcErrors(() => this.#reads().typingUsers());
  }
  /** For /sync: receipts after position `since` as m.receipt content; others' private receipts left out. */
  async receiptsSince(p: { since: number; userId: string }): Promise<ReturnType<RoomReads["receiptsSince"]>> {
    return rpcErrors(() => this.#reads().receiptsSince(p));
  }

  #reads(): RoomReads {
    const { head } = this.#room();
    return new RoomReads({ roomId: this.name, store: this.store, sql: this.ctx.storage.sql, head });
  }

  /** Rows the last write-path commit wrote (tests, the design doc's cost figures). */
  lastCommitStats() {
    return this.#loaded?.writer.lastCommit;
  }

  /** The room version (read paths and tests). */
  async roomVersion(): Promise<string> {
    return rpcErrors(() => this.#room().rules.id);
  }

  // ---- upgrades (room/upgrade.ts) ----------------------------------------------------

  /** /upgrade, old room: 403 unless `userId` may send the tombstone; else what the new room copies. */
  async upgradeSource(p: { userId: string }): Promise<RpcJson> {
    return rpcErrors(() => {
      const { rules, head } = this.#room();
      const view = { get: (t: string, k: string) => this.#current(t, k), idOf: (t: string, k: string) => head.state.get(stateKey(t, k)) };
      return upgradeSource(this.name, p.userId, view, head, this.store, rules) as unknown as RpcJson;
    });
  }

  /** /upgrade, old room: the tombstone, then restricted power levels if the upgrader may send them. */
  async tombstone(p: { sender: string; replacementRoom: string }): Promise<{ event_id: string }> {
    return rpcErrors(async () => {
      const a = await this.#submit(tombstoneIntent(p.sender, p.replacementRoom));
      await this.#submit(restrictIntent(p.sender)).catch((e: unknown) => {
        if (!(e instanceof MatrixError)) throw e; // refused by the auth rules: the tombstone stands alone
      });
      return { event_id: a.eventId };
    });
  }

  // ---- directories (party/directory/room-side.ts) ------------------------------------

  /** What the alias and directory permission rules need about a user; null when this actor holds no room. */
  async directoryAccess(userId: string): Promise<RoomAccessFacts | null> {
    return rpcErrors(() => (this.#exists() ? accessFacts({ get: (t, k) => this.#current(t, k) }, userId, this.#room().rules) : null));
  }

  /**
   * Publishes the room in a directory list ('' = this server's) or takes it out. `caller`
   * null: the edge authorised it (an appservice's own network list). D1 follows in the
   * outbox pass awaited here (retried with backoff if D1 fails).
   */
  async setDirectoryVisibility(p: { caller: DirectoryCaller | null; list: string; visible: boolean }): Promise<void> {
    return rpcErrors(async () => {
      if (!this.#exists()) throw notFound("Room not found");
      if (p.caller) checkMayChangeVisibility(p.caller, accessFacts({ get: (t, k) => this.#current(t, k) }, p.caller.userId, this.#room().rules));
      setPublished(this.ctx.storage, this.name, p.list, p.visible);
      await this.#deliver();
    });
  }

  // ---- spaces and room summaries (party/room/summary.ts) -----------------------------

  /** /hierarchy and /room_summary: the summary as `userId` (null: no token) sees it; null when no room is here. */
  async summary(p: { userId: string | null; children: boolean; suggestedOnly: boolean }): Promise<RoomSummaryFacts | null> {
    return rpcErrors(() => (this.#exists() ? roomSummary({ roomId: this.name, sql: this.ctx.storage.sql, store: this.store, rules: this.#room().rules }, p) : null));
  }

  /** POST /search: this room's matches for one user, after indexing what is new (party/room/search.ts). */
  async search(p: RoomSearchRequest): Promise<RoomSearchResult> {
    return rpcErrors(() => {
      const view = this.#syncRoomView();
      catchUpIndex(view, this.ctx.storage, p.indexBudget);
      return searchRoom(view, p);
    });
  }

  // ---- outbox -----------------------------------------------------------------------

  override async onAlarm(): Promise<void> {
    this.#backstopArmed = false;
    if (this.#exists()) await this.#deliver();
  }

  #backstopArmed = false;
  /**
   * Outbox rows are committed with their events and handed over right after, but if the
   * process stops before that pass ends nothing would bring this room back to finish it
   * (nobody calls an idle room). So the first commit with outbox rows in this instance's
   * lifetime, and the first after each alarm, also sets an alarm: the write is issued
   * before the reply leaves (output gate), so an acknowledged event's effects are always
   * delivered. A pass that leaves nothing due makes that alarm a no-op.
   */
  #armOutboxBackstop(): void {
    if (this.#backstopArmed) return;
    this.#backstopArmed = true;
    void this.ctx.storage.setAlarm(Date.now() + OUTBOX_BACKSTOP_MS);
  }

  // ---- internals --------------------------------------------------------------------

  async #membership(intent: Intent): Promise<MembershipResult> {
    const a = await this.#submit(intent);
    // Membership effects reach the member's User actor before the caller hears back
    // (read-your-writes for /joined_rooms and invites); failures stay in the outbox.
    await this.#deliver();
    const ev = this.store.event(a.eventId);
    const m = ev?.pdu.content.membership;
    return { room_id: this.name, event_id: a.eventId, stream: a.stream, membership: typeof m === "string" ? m : "leave" };
  }

  #submit(intent: Intent) {
    return this.#room().writer.submit(intent);
  }

  #deliver(): Promise<void> {
    return deliverOutbox(this.ctx, this.env, this.store);
  }

  #hasSchema(): boolean {
    return this.ctx.storage.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'").toArray().length > 0;
  }

  #exists(): boolean {
    return this.#loaded !== undefined || (this.#hasSchema() && this.store.room() !== null);
  }

  /** The loaded room; 404 M_NOT_FOUND when this actor holds no room. */
  #room(): Loaded {
    if (this.#loaded) return this.#loaded;
    const info = this.#hasSchema() ? this.store.room() : null;
    if (!info) throw notFound("room not found");
    const rules = roomVersionRules(info.roomVersion);
    if (!rules) throw new Error(`room ${info.roomId} has unknown version ${info.roomVersion}`);
    this.store.setRules(rules);
    const head = RoomHead.load(this.store);
    this.#loaded = { rules, head, writer: this.#writer(rules, head) };
    return this.#loaded;
  }

  #current(type: string, key: string) {
    const { head } = this.#room();
    const id = head.state.get(stateKey(type, key));
    return id === undefined ? undefined : this.store.event(id)?.pdu;
  }

  // ---- sync (party/sync/room-source.ts) ----------------------------------------------------

  /** /sync: this room's part of one user's response, as JSON text (party/sync/room-feed.ts). */
  async syncRoom(req: RoomSyncRequest): Promise<string> {
    return rpcErrors(() => JSON.stringify(this.#sync().feed(req)));
  }

  /** /sync: the room's position, for a user whose hub shard did not know it. */
  async syncPosition(): Promise<PublishedPosition> {
    return rpcErrors(() => this.#sync().position());
  }

  /** Sliding sync (MSC4186): this room's part for one connection, as JSON text (party/sync/sliding/room-feed.ts). */
  async slidingRoom(req: SlidingRoomRequest): Promise<string> {
    // Notification counts in the same call when asked (the counting memo is behind unreadCounts).
    const counts = req.pushRules === undefined ? undefined : await this.unreadCounts({ userId: req.userId, pushRules: req.pushRules, perThread: false, point: true });
    return rpcErrors(() => {
      const answer = slidingRoom(this.#syncRoomView(), this.#sync().position(), req);
      if (counts !== undefined) answer.counts = counts?.room ?? null;
      if (counts?.point) answer.countPoint = counts.point;
      return JSON.stringify(answer);
    });
  }

  /**
   * From `userId`'s DeviceKeys actor: their device list changed. Recorded in this room's
   * device-list stream when they are joined (party/sync/device-lists.ts); false otherwise.
   */
  async deviceListChanged(userId: string): Promise<boolean> {
    return rpcErrors(async () => {
      if (!this.#exists() || !this.#sync().deviceListChanged(userId)) return false;
      // MSC3202 appservices sharing this room hear of it (party/appservice/room-hook.ts).
      await this.#appserviceHook()?.deviceListChanged(this.env, userId);
      return true;
    });
  }

  /**
   * From `userId`'s User actor: their presence changed (docs/design/presence.md). Recorded
   * in this room's presence stream when they are joined and the copy is newer; false otherwise.
   */
  async presenceChanged(userId: string, rec: PresenceRecord): Promise<boolean> {
    return rpcErrors(async () => {
      if (!this.#exists() || !this.#sync().presenceChanged(userId, rec)) return false;
      // Appservices sharing this room with receive_ephemeral hear of it (party/appservice/room-hook.ts).
      await this.#appserviceHook()?.presenceChanged(this.env, userId, presenceContent(rec, Date.now()));
      return true;
    });
  }

  /**
   * /sync: `userId`'s notification counts (party/room/push.ts), with their ruleset as JSON
   * text `{ global: ruleset }`; null when they are not joined.
   */
  async unreadCounts(p: { userId: string; pushRules: string; perThread: boolean; point?: boolean }): Promise<CountResult | null> {
    return rpcErrors(() => {
      const ruleset = this.#parsedRules(p.pushRules);
      const req = { userId: p.userId, ruleset, rulesetKey: p.pushRules, perThread: p.perThread, scanLimit: pushCountScanLimit(this.env) };
      return this.#roomCounts().counts(req, p.point === true) ?? null;
    });
  }

  /** How the counts were computed since this instance started (tests and the cost figures). */
  async unreadCountStats(): Promise<{ scans: number; increments: number }> {
    return { scans: this.#counts?.scans ?? 0, increments: this.#counts?.increments ?? 0 };
  }

  /** GET /notifications: this room's notifying events for `userId` (party/room/push.ts). */
  async notifications(p: { userId: string; pushRules: string; before: number; limit: number; onlyHighlight: boolean }): Promise<RoomNotification[]> {
    return rpcErrors(() => {
      const ruleset = (JSON.parse(p.pushRules) as { global: Ruleset }).global;
      return this.#roomCounts().notifications({ ...p, ruleset, rulesetKey: p.pushRules, perThread: false, scanLimit: pushCountScanLimit(this.env) });
    });
  }

  /** From a User actor: whether `userId` has ≥1 pusher (written only on change; party/room/push.ts). */
  async setPushMember(p: { userId: string; has: boolean }): Promise<void> {
    return rpcErrors(() => this.#pushMembers().set(p.userId, p.has));
  }

  #counts: RoomCounts | undefined;
  /** Rulesets by their JSON text: each listener's sync hands in the same text again and again. */
  readonly #rulesets = new Map<string, Ruleset>();
  #parsedRules(text: string): Ruleset {
    let r = this.#rulesets.get(text);
    if (!r) {
      r = (JSON.parse(text) as { global: Ruleset }).global;
      if (this.#rulesets.size >= 256) this.#rulesets.delete(this.#rulesets.keys().next().value!);
      this.#rulesets.set(text, r);
    }
    return r;
  }
  #roomCounts(): RoomCounts {
    return (this.#counts ??= new RoomCounts(this.#syncRoomView(), () => this.#room().rules));
  }
  #pushMembers(): PushMembers {
    return PushMembers.of(this.ctx.storage.sql);
  }
  #syncRoomView(head = this.#room().head) {
    return { roomId: this.name, store: this.store, sql: this.ctx.storage.sql, head };
  }

  #syncSource: RoomSyncSource | undefined;
  #sync(): RoomSyncSource {
    const { head } = this.#room();
    return (this.#syncSource ??= new RoomSyncSource(this.env, { roomId: this.name, store: this.store, sql: this.ctx.storage.sql, head }, (sender) => this.#roomCounts().senderLevel(sender)));
  }

  #afterReceipt<T>(result: T): T {
    this.#sync().receiptsChanged();
    return result;
  }

  #writer(rules: RoomVersionRules, head: RoomHead): WritePath {
    return new WritePath(this.#context(rules), this.store, head, (events) => {
      this.#sync().eventsCommitted(events);
      this.#appserviceHook()?.committed(events);
      if (events.some((e) => e.outbox.length > 0)) {
        this.#armOutboxBackstop();
        void this.#deliver();
      }
    });
  }

  #context(rules: RoomVersionRules): WriteContext {
    return {
      rules,
      roomId: this.name,
      serverName: this.#serverName(),
      key: () => this.#key(),
      appservices: this.#appserviceHook(),
      // Push notices go into the events' own transaction (party/room/push.ts).
      beforeCommit: (events, state, joinedCount) => addPushNotices(this.name, rules, this.#pushMembers(), state, joinedCount, events),
    };
  }

  /** Appservice interest (party/appservice/room-hook.ts); undefined when no registration wants traffic. */
  #appserviceHook(): RoomAppservices | undefined {
    if (this.#appservices === null) {
      this.#appservices = RoomAppservices.for(loadAppservices(this.env), this.#serverName(), this.name, () => this.store.joinedMembers());
    }
    return this.#appservices;
  }

  /** Typing and receipts to appservices that want them (wired once, before the first change). */
  #appserviceEphemeral(): void {
    this.#appserviceHook()?.watchEphemeral({
      env: this.env,
      store: this.store,
      sql: this.ctx.storage.sql,
      state: { get: (t, k) => this.#current(t, k) },
      typingUsers: () => this.#reads().typingUsers().user_ids,
    });
  }

  #serverName(): string {
    return loadConfig(this.env).serverName;
  }

  #key() {
    return serverSigningKey(this.env);
  }
}
