/**
 * The room's single writer: every local event is built (prev_events = the tip, depth,
 * hashes, signature, ID), checked (auth_events list, then the authorization rules of the
 * room version against the state before it) and committed in one SQLite transaction
 * before anyone learns its event ID.
 *
 * Building awaits WebCrypto, and two sends that interleave there would pick the same
 * prev_events and fork the room's own graph. So writes go through a queue drained by
 * one loop: each event is built on the tip the previous one left, and every send that
 * arrived while a batch was being signed is committed together in the next transaction
 * (group commit). A failed event is refused alone; a failed commit refuses its batch and
 * leaves memory as it was.
 */
import { authEventTypes, authorizeEvent, checkAuthEventsList, type AuthState } from "../../lib/auth/index.ts";
import { forbidden } from "../../lib/errors.ts";
import { buildEvent } from "../../lib/event-build.ts";
import { serverNameOf } from "../../lib/identifiers.ts";
import { isJsonObject, type JsonObject } from "../../lib/json.ts";
import { stateKey, type Pdu, type StateKey, type StateMap } from "../../lib/pdu.ts";
import type { RoomVersionRules } from "../../lib/room-versions.ts";
import type { Ed25519Key } from "../../lib/signing.ts";
import { nextVersion, type StateVersionInfo } from "../../lib/state-store.ts";
import type { RoomAppservices } from "../appservice/room-hook.ts";
import { directoryOutboxFor } from "../directory/room-side.ts";
import type { CommitStats, NewEvent, RoomStore } from "./store.ts";

/** What a caller asks the room to write. */
export interface Intent {
  sender: string;
  type: string;
  stateKey?: string;
  content: JsonObject;
  redacts?: string;
  txn?: { deviceId: string; txnId: string };
  /** origin_server_ts to use instead of now (appservice timestamp massaging, `ts`). */
  originServerTs?: number;
  /**
   * Runs against the state right before the event, inside the queue: may refuse (throw a
   * MatrixError), replace the content, or answer with an existing event (nothing to write).
   */
  prepare?: (state: StateView) => Prepared | void;
}

export type Prepared = { content: JsonObject } | { existing: string };

export interface Accepted {
  eventId: string;
  stream: number;
  /** True when nothing was written: a repeated transaction ID or a no-op. */
  existing: boolean;
}

/** The room state as prepare functions and the auth rules see it. */
export interface StateView extends AuthState {
  idOf(type: string, stateKey: string): string | undefined;
}

export interface WriteContext {
  rules: RoomVersionRules;
  roomId: string;
  serverName: string;
  key(): Promise<Ed25519Key>;
  /** Appservices' interest in new events (party/appservice/room-hook.ts); absent when none are registered. */
  appservices?: RoomAppservices;
  /**
   * Adds outbox rows that depend on the whole batch (push notices, party/room/push.ts) to
   * its events before they are committed, reading the state after the batch.
   */
  beforeCommit?: (events: NewEvent[], state: StateView, joinedCount: () => number) => void;
}

/** The room's position: tip, depth, state version and current state. Kept in memory, rebuilt from SQLite. */
export class RoomHead {
  constructor(
    public stream: number,
    public depth: number,
    public extremities: string[],
    public version: StateVersionInfo | undefined,
    public lastVersion: number,
    readonly state: StateMap,
  ) {}

  static empty(): RoomHead {
    return new RoomHead(0, 0, [], undefined, 0, new Map());
  }

  static load(store: RoomStore): RoomHead {
    const newest = store.newest();
    const stored = store.storedExtremities();
    const version = store.latestVersion();
    return new RoomHead(
      newest?.stream ?? 0,
      store.maxDepth(),
      stored.length > 0 ? stored : newest ? [newest.eventId] : [],
      version,
      version?.version ?? 0,
      store.currentState(),
    );
  }
}

/** A batch's view: the head plus the events accepted so far in the batch. */
class Working implements StateView {
  readonly overlay = new Map<StateKey, Pdu>();
  readonly byId = new Map<string, Pdu>();
  stream: number;
  depth: number;
  extremities: string[];
  version: StateVersionInfo | undefined;
  lastVersion: number;

  constructor(
    readonly head: RoomHead,
    readonly store: RoomStore,
  ) {
    this.stream = head.stream;
    this.depth = head.depth;
    this.extremities = head.extremities;
    this.version = head.version;
    this.lastVersion = head.lastVersion;
  }

  idOf(type: string, key: string): string | undefined {
    const k = stateKey(type, key);
    return this.overlay.get(k)?.event_id ?? this.head.state.get(k);
  }

  get(type: string, key: string): Pdu | undefined {
    const k = stateKey(type, key);
    const own = this.overlay.get(k);
    if (own) return own;
    const id = this.head.state.get(k);
    return id === undefined ? undefined : this.store.event(id)?.pdu;
  }

  pdu(id: string): Pdu | undefined {
    return this.byId.get(id) ?? this.store.event(id)?.pdu;
  }

  fullState(): StateMap {
    const s = new Map(this.head.state);
    for (const [k, p] of this.overlay) s.set(k, p.event_id);
    return s;
  }

  accept(e: NewEvent): void {
    this.byId.set(e.pdu.event_id, e.pdu);
    if (e.pdu.state_key !== undefined) this.overlay.set(stateKey(e.pdu.type, e.pdu.state_key), e.pdu);
    if (e.version) {
      this.version = e.version.info;
      this.lastVersion = e.version.info.version;
    }
    this.stream = e.stream;
    this.depth = Math.max(this.depth, e.pdu.depth ?? 0);
    this.extremities = [e.pdu.event_id];
  }

  /** Joined members after the accepted events: the stored count corrected by the batch's member events. */
  joinedCount(): number {
    let n = this.store.joinedMembers().length;
    for (const [k, p] of this.overlay) {
      if (p.type !== "m.room.member") continue;
      const before = this.head.state.get(k);
      const was = before !== undefined && this.store.event(before)?.pdu.content.membership === "join";
      const is = p.content.membership === "join";
      n += (is ? 1 : 0) - (was ? 1 : 0);
    }
    return n;
  }

  /** Makes the accepted events the head's (after their commit). */
  applyToHead(): void {
    const h = this.head;
    for (const [k, p] of this.overlay) h.state.set(k, p.event_id);
    h.stream = this.stream;
    h.depth = this.depth;
    h.extremities = this.extremities;
    h.version = this.version;
    h.lastVersion = this.lastVersion;
  }
}

/** Everything stored with an accepted event besides the event itself. */
function describe(pdu: Pdu, wire: JsonObject, w: Working, ctx: WriteContext, intent: Pick<Intent, "txn" | "redacts">): NewEvent {
  const e: NewEvent = { pdu, wire, stream: w.stream + 1, stateBefore: w.version?.version ?? 0, outbox: [] };
  if (pdu.state_key !== undefined) {
    const added = w.idOf(pdu.type, pdu.state_key) === undefined ? 1 : 0;
    const info = nextVersion(w.lastVersion + 1, w.version, 1, added);
    e.version = { info };
    if (info.snapshot) e.version.snapshot = w.fullState().set(stateKey(pdu.type, pdu.state_key), pdu.event_id);
  }
  if (pdu.type === "m.room.member" && pdu.state_key !== undefined) {
    const membership = typeof pdu.content.membership === "string" ? pdu.content.membership : "leave";
    e.membership = membership;
    // The local user's own actor learns of every change of their membership, durably.
    if (serverNameOf(pdu.state_key) === ctx.serverName) {
      e.outbox.push({
        kind: "membership",
        target: pdu.state_key,
        payload: { room_id: ctx.roomId, event_id: pdu.event_id, stream: e.stream, membership, sender: pdu.sender },
      });
    }
  }
  // Appservices that want the event: one outbox row each, committed with the event.
  if (ctx.appservices) e.outbox.push(...ctx.appservices.outboxFor(pdu, w, w.overlay.values()));
  // Directory entry and user directory (party/directory/room-side.ts): state changes only, never messages.
  e.outbox.push(...directoryOutboxFor(ctx.roomId, pdu));
  if (intent.txn) e.txn = intent.txn;
  if (intent.redacts) e.redacts = intent.redacts;
  const rel = pdu.content["m.relates_to"];
  if (isJsonObject(rel) && typeof rel.rel_type === "string" && typeof rel.event_id === "string") {
    e.relation = { relType: rel.rel_type, relatesTo: rel.event_id };
  }
  return e;
}

/** Authorizes a built event against the working state; throws M_FORBIDDEN naming the failing rule. */
function authorize(pdu: Pdu, w: Working, rules: RoomVersionRules): void {
  const authPdus = pdu.auth_events.map((id) => w.pdu(id)).filter((p): p is Pdu => p !== undefined);
  let r = checkAuthEventsList(pdu, authPdus, rules);
  if (r.allowed) r = authorizeEvent(pdu, w, rules);
  if (!r.allowed) throw forbidden(`${r.reason} (auth rule ${r.rule})`);
}

/** Builds, signs and authorizes the next event on the working tip; returns it without storing it. */
async function buildNext(ctx: WriteContext, w: Working, intent: Intent): Promise<NewEvent | { existing: string }> {
  const prepared = intent.prepare?.(w);
  if (prepared && "existing" in prepared) return prepared;
  const content = prepared?.content ?? intent.content;
  const draft = { type: intent.type, sender: intent.sender, state_key: intent.stateKey, content };
  const authEvents = authEventTypes(draft, ctx.rules)
    .map(([t, k]) => w.idOf(t, k))
    .filter((id): id is string => id !== undefined);
  const built = await buildEvent(
    {
      rules: ctx.rules,
      roomId: ctx.roomId,
      sender: intent.sender,
      type: intent.type,
      stateKey: intent.stateKey,
      content,
      prevEvents: w.extremities,
      authEvents,
      depth: w.depth + 1,
      originServerTs: intent.originServerTs ?? Date.now(),
      origin: ctx.serverName,
      redacts: intent.redacts,
    },
    await ctx.key(),
    ctx.serverName,
  );
  authorize(built.pdu, w, ctx.rules);
  const e = describe(built.pdu, built.wire, w, ctx, intent);
  if (built.canonical !== undefined) e.canonical = built.canonical; // stored as is: not serialised again
  w.accept(e);
  return e;
}

/**
 * A new room's events in one transaction: the signed create event (built by the caller,
 * since in v12 it names the room), then each template in order. All or nothing.
 */
export async function writeNewRoom(
  ctx: WriteContext,
  store: RoomStore,
  create: { pdu: Pdu; wire: JsonObject },
  intents: Intent[],
): Promise<{ head: RoomHead; events: NewEvent[]; stats: CommitStats }> {
  const head = RoomHead.empty();
  const w = new Working(head, store);
  authorize(create.pdu, w, ctx.rules);
  const events = [describe(create.pdu, create.wire, w, ctx, {})];
  w.accept(events[0]!);
  for (const intent of intents) {
    const e = await buildNext(ctx, w, intent);
    if ("existing" in e) continue;
    events.push(e);
  }
  const stats = store.commit(events, {
    roomId: ctx.roomId,
    roomVersion: ctx.rules.id,
    createEventId: create.pdu.event_id,
    createdTs: Date.now(),
  });
  w.applyToHead();
  store.remember(events);
  return { head, events, stats };
}

interface Pending {
  intent: Intent;
  resolve(a: Accepted): void;
  reject(e: unknown): void;
}

const MAX_BATCH = 100;

export class WritePath {
  readonly #queue: Pending[] = [];
  #draining = false;
  readonly #inflight = new Map<string, Promise<Accepted>>();
  /** The last commit's cost, for tests and the design doc's rows-per-message figure. */
  lastCommit: CommitStats | undefined;

  constructor(
    private readonly ctx: WriteContext,
    private readonly store: RoomStore,
    private readonly head: RoomHead,
    private readonly onCommitted: (events: NewEvent[]) => void,
  ) {}

  submit(intent: Intent): Promise<Accepted> {
    const txnKey = intent.txn ? `${intent.sender}\u0000${intent.txn.deviceId}\u0000${intent.txn.txnId}` : undefined;
    // The same transaction sent again while the first is still in the queue: one event.
    const inflight = txnKey === undefined ? undefined : this.#inflight.get(txnKey);
    if (inflight) return inflight.then((a) => ({ ...a, existing: true }));
    const p = new Promise<Accepted>((resolve, reject) => this.#queue.push({ intent, resolve, reject }));
    if (txnKey !== undefined) {
      this.#inflight.set(txnKey, p);
      const done = () => this.#inflight.delete(txnKey);
      p.then(done, done);
    }
    if (!this.#draining) void this.#drain();
    return p;
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      while (this.#queue.length > 0) await this.#run(this.#queue.splice(0, MAX_BATCH));
    } finally {
      this.#draining = false;
    }
  }

  async #run(batch: Pending[]): Promise<void> {
    const w = new Working(this.head, this.store);
    const accepted: Array<{ p: Pending; e: NewEvent }> = [];
    for (const p of batch) {
      try {
        const t = p.intent.txn;
        const earlier = t && this.store.eventForTxn(p.intent.sender, t.deviceId, t.txnId);
        if (earlier) {
          p.resolve({ eventId: earlier, stream: this.store.event(earlier)?.stream ?? 0, existing: true });
          continue;
        }
        const e = await buildNext(this.ctx, w, p.intent);
        if ("existing" in e) p.resolve({ eventId: e.existing, stream: this.store.event(e.existing)?.stream ?? 0, existing: true });
        else accepted.push({ p, e });
      } catch (err) {
        p.reject(err);
      }
    }
    if (accepted.length === 0) return;
    const events = accepted.map((a) => a.e);
    try {
      this.ctx.beforeCommit?.(events, w, () => w.joinedCount());
      this.lastCommit = this.store.commit(events);
    } catch (err) {
      for (const a of accepted) a.p.reject(err);
      return;
    }
    w.applyToHead();
    this.store.remember(events);
    for (const a of accepted) a.p.resolve({ eventId: a.e.pdu.event_id, stream: a.e.stream, existing: false });
    this.onCommitted(events);
  }
}
