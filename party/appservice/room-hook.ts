/**
 * The Room actor's side of appservice delivery.
 *
 * While an event is built (inside the room's write queue) `outboxFor` decides, from
 * regexes held in memory and the per-appservice set of joined namespaced users
 * (lib/appservice/interest.ts), which appservices want it, and returns one outbox row
 * per interested appservice. The rows are committed in the event's own transaction, so
 * a restart loses nothing; after commit the room's outbox pass hands them, grouped per
 * appservice and in order, to that appservice's actor (`deliverToAppservices`). Per event
 * the room does a few regex tests per registration and writes one row per interested
 * appservice — nothing proportional to the member list, nothing awaited in the write path.
 */
import { RoomInterest, type EventFacts } from "../../lib/appservice/interest.ts";
import type { AppserviceRegistry } from "../../lib/appservice/registry.ts";
import { isJsonObject, type JsonObject } from "../../lib/json.ts";
import type { Pdu } from "../../lib/pdu.ts";
import type { Env } from "../env.ts";
import { toClientEvent } from "../room/events.ts";
import type { RoomStore } from "../room/store.ts";
import { appserviceActor } from "../stubs.ts";
import type { EnqueueItem } from "../appservice.ts";
import { onReceipt } from "../room/ephemeral.ts";
import { onTypingChange } from "../room/read-api.ts";

/** The outbox `kind` of rows for appservices; `target` is the appservice id. */
export const APPSERVICE_OUTBOX = "appservice";

export interface StateLookup {
  get(type: string, key: string): Pdu | undefined;
}

export interface OutboxRow {
  kind: string;
  target: string;
  payload: JsonObject;
}

/** What the room gives the hook so that typing and receipts reach appservices. */
export interface EphemeralSource {
  env: Env;
  store: RoomStore;
  sql: SqlStorage;
  /** The room's current state (for its aliases). */
  state: StateLookup;
  /** Who is typing now (joined members only), as /sync shows it. */
  typingUsers: () => string[];
}

export class RoomAppservices {
  #interest: RoomInterest | undefined;
  #watching = false;
  /** Ephemeral items waiting for the next hand-over, per appservice. */
  readonly #pending = new Map<string, EnqueueItem[]>();
  /** Per appservice, the last hand-over: the next waits for it, so typing start/stop keep their order. */
  readonly #handing = new Map<string, Promise<void>>();
  #flushScheduled = false;

  constructor(
    private readonly registry: AppserviceRegistry,
    private readonly serverName: string,
    private readonly roomId: string,
    /** The room's joined members as committed; read once, on first use. */
    private readonly joinedMembers: () => Iterable<string>,
  ) {}

  /** The hook for a room, or undefined when no registration wants traffic (then rooms do nothing at all). */
  static for(registry: AppserviceRegistry, serverName: string, roomId: string, joinedMembers: () => Iterable<string>): RoomAppservices | undefined {
    return registry.all.some((r) => r.url !== null) ? new RoomAppservices(registry, serverName, roomId, joinedMembers) : undefined;
  }

  /**
   * Outbox rows for an event about to be written. `state` is the state before it;
   * `batch` the state events accepted earlier in the same (uncommitted) batch.
   */
  outboxFor(pdu: Pdu, state: StateLookup, batch: Iterable<Pdu>): OutboxRow[] {
    const pending = new Map<string, string>();
    for (const p of batch) {
      if (p.type === "m.room.member" && p.state_key !== undefined) pending.set(p.state_key, membershipOf(p));
    }
    const facts: EventFacts = { roomId: this.roomId, sender: pdu.sender, type: pdu.type, stateKey: pdu.state_key, aliases: aliasesOf(state) };
    return this.#room()
      .interested(facts, pending)
      .filter((id) => this.registry.byId(id)?.url != null)
      .map((id) => ({ kind: APPSERVICE_OUTBOX, target: id, payload: { event_id: pdu.event_id } }));
  }

  /** After commit: membership changes update the joined sets. */
  committed(events: ReadonlyArray<{ pdu: Pdu }>): void {
    if (!this.#interest) return; // not built yet: it will read the committed members when it is
    for (const { pdu } of events) {
      if (pdu.type === "m.room.member" && pdu.state_key !== undefined) this.#interest.noteMembership(pdu.state_key, membershipOf(pdu));
    }
  }

  /**
   * Typing and receipts for appservices that asked for ephemeral data (receive_ephemeral
   * or the MSC2409 names), in rooms they are interested in. Called by the room before
   * its first typing or receipt change; wires listeners once per actor instance.
   *
   * Not durable like events: the data is handed to the appservice's actor right after the
   * change (coalesced per microtask, one RPC per appservice), and once there it is queued
   * durably and delivered in order; a failed hand-over is logged and dropped — typing
   * lapses within minutes anyway, and the receipt itself stays in the room (/sync).
   * Private receipts (m.read.private) never go to appservices.
   */
  watchEphemeral(src: EphemeralSource): void {
    if (this.#watching) return;
    this.#watching = true;
    if (!this.registry.all.some((r) => r.url !== null && r.receiveEphemeral)) return;
    onTypingChange(src.store, () => this.#ephemeral(src, { type: "m.typing", content: { user_ids: src.typingUsers() } }));
    onReceipt(src.sql, (r) => {
      if (r.type !== "m.read") return;
      const receipt: JsonObject = r.threadId === undefined ? { ts: r.ts } : { ts: r.ts, thread_id: r.threadId };
      this.#ephemeral(src, { type: "m.receipt", content: { [r.eventId]: { [r.type]: { [r.userId]: receipt } } } });
    });
  }

  /**
   * MSC3202: `userId`'s device list changed and this room recorded it (they are joined).
   * Appservices that set org.matrix.msc3202 and have a user joined here share the room
   * with them, so they get `device_lists.changed`. Awaited, so that a failed hand-over
   * fails the room's RPC and the DeviceKeys outbox retries it (a repeat is harmless).
   */
  async deviceListChanged(env: Env, userId: string): Promise<void> {
    const targets = this.#room()
      .withJoinedUsers()
      .filter((id) => {
        const r = this.registry.byId(id);
        return r !== undefined && r.url !== null && r.msc3202;
      });
    const json = JSON.stringify({ changed: userId });
    await Promise.all(targets.map((id) => appserviceActor(env, id).enqueue([{ kind: "device_list", json }])));
  }

  /**
   * A member's presence changed and this room recorded it (docs/design/presence.md):
   * appservices with receive_ephemeral that have a user joined here get an m.presence
   * item (no room_id; one per shared room — a repeat carries the same state). Awaited, so
   * a failed hand-over fails the room's RPC and the User actor's outbox retries it.
   */
  async presenceChanged(env: Env, userId: string, content: JsonObject): Promise<void> {
    const targets = this.#room()
      .withJoinedUsers()
      .filter((id) => {
        const r = this.registry.byId(id);
        return r !== undefined && r.url !== null && r.receiveEphemeral;
      });
    const json = JSON.stringify({ type: "m.presence", sender: userId, content });
    await Promise.all(targets.map((id) => appserviceActor(env, id).enqueue([{ kind: "ephemeral", json }])));
  }

  #ephemeral(src: EphemeralSource, edu: { type: string; content: JsonObject }): void {
    const targets = this.#room()
      .interestedInRoom(this.roomId, aliasesOf(src.state))
      .filter((id) => {
        const r = this.registry.byId(id);
        return r !== undefined && r.url !== null && r.receiveEphemeral;
      });
    if (targets.length === 0) return;
    const json = JSON.stringify({ ...edu, room_id: this.roomId });
    for (const id of targets) {
      const list = this.#pending.get(id) ?? [];
      list.push({ kind: "ephemeral", json });
      this.#pending.set(id, list);
    }
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      for (const [id, items] of this.#pending) {
        const previous = this.#handing.get(id) ?? Promise.resolve();
        const next = previous
          .then(() => appserviceActor(src.env, id).enqueue(items))
          .then(
            () => undefined,
            (e: unknown) => console.error(`room ${this.roomId}: handing ${items.length} ephemeral items to appservice ${id} failed (dropped)`, e),
          );
        this.#handing.set(id, next);
        void next.then(() => {
          if (this.#handing.get(id) === next) this.#handing.delete(id);
        });
      }
      this.#pending.clear();
    });
  }

  #room(): RoomInterest {
    this.#interest ??= new RoomInterest(this.registry, this.serverName, this.joinedMembers());
    return this.#interest;
  }
}

function membershipOf(p: Pdu): string {
  return typeof p.content.membership === "string" ? p.content.membership : "leave";
}

/** m.room.canonical_alias `alias` and `alt_aliases`. */
function aliasesOf(state: StateLookup): string[] {
  const c = state.get("m.room.canonical_alias", "")?.content;
  if (!isJsonObject(c)) return [];
  const out = typeof c.alias === "string" ? [c.alias] : [];
  if (Array.isArray(c.alt_aliases)) for (const a of c.alt_aliases) if (typeof a === "string") out.push(a);
  return out;
}

export interface DueRow {
  id: number;
  target: string;
  payload: JsonObject;
  attempts: number;
}

/**
 * Hands due appservice outbox rows to the appservices' actors: one `enqueue` per
 * appservice with its events in stream order. An appservice whose oldest row is not yet
 * due (an earlier hand-over failed and waits for its retry) gets nothing now — its later
 * rows wait behind it — so events reach every appservice actor in the room's order.
 */
export async function deliverToAppservices(
  env: Env,
  store: RoomStore,
  rows: readonly DueRow[],
  retryAt: (attempts: number) => number,
): Promise<void> {
  const byTarget = new Map<string, DueRow[]>();
  for (const r of rows) {
    const list = byTarget.get(r.target) ?? [];
    list.push(r);
    byTarget.set(r.target, list);
  }
  for (const [target, list] of byTarget) {
    const head = store.outboxHead(APPSERVICE_OUTBOX, target);
    if (head && head.id < list[0]!.id) {
      for (const r of list) store.outboxRetry(r.id, Math.max(head.nextTs, Date.now() + 100));
      continue;
    }
    const items: EnqueueItem[] = [];
    for (const r of list) {
      const eventId = r.payload.event_id;
      const ev = typeof eventId === "string" ? store.event(eventId) : undefined;
      if (ev) items.push({ kind: "event", json: JSON.stringify(toClientEvent(ev, store, undefined)), dedupe: ev.pdu.event_id });
    }
    try {
      if (items.length > 0) await appserviceActor(env, target).enqueue(items);
      for (const r of list) store.outboxDone(r.id);
    } catch (e) {
      console.error(`room outbox: handing ${list.length} events to appservice ${target} failed`, e);
      const at = retryAt(list[0]!.attempts);
      for (const r of list) store.outboxRetry(r.id, at);
    }
  }
}
