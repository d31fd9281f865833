/**
 * The Room actor's read-side RPC surface, one method per endpoint, so party/room.ts only
 * delegates. Every method is synchronous: reads never wait for the write queue, and each
 * answers from one consistent moment of the actor (no await between its SQL reads).
 *
 * RPCs for the sync engine (documented in docs/design/room-actor.md):
 *   typingUsers()                 → { user_ids, serial }
 *   receiptsSince(since, userId)  → { position, content }   (m.receipt content)
 */
import { forbidden, invalidParam } from "../../lib/errors.ts";
import type { RoomEventFilter } from "../../lib/filter.ts";
import type { Membership } from "../../lib/history-visibility.ts";
import type { Direction } from "../../lib/pagination-token.ts";
import { stateKey } from "../../lib/pdu.ts";
import { receiptTarget, Receipts, RECEIPT_TYPES, Typing, type ReceiptContent, type ReceiptType } from "./ephemeral.ts";
import { context, event, joinedMembers, members, messages, timestampToEvent } from "./reads.ts";
import { relations, threads } from "./relations.ts";
import type { RoomStore } from "./store.ts";
import { Viewer, type ReadRoom } from "./visibility.ts";

/** Who reads: the user and, for `transaction_id`, their device. */
export interface Requester {
  requester: string;
  deviceId?: string;
}

type Rpc = Record<string, unknown>;

/** Typing state per actor instance (memory-only by design, see ephemeral.ts). */
const typingByStore = new WeakMap<RoomStore, Typing>();
/** Called when typing changes (incl. a lapse); the sync engine hooks its wake-up here. */
const typingListeners = new WeakMap<RoomStore, Set<() => void>>();

export function typingOf(store: RoomStore): Typing {
  let t = typingByStore.get(store);
  if (!t) {
    t = new Typing(() => {
      for (const l of typingListeners.get(store) ?? []) l();
    });
    typingByStore.set(store, t);
  }
  return t;
}

/** Subscribe to typing changes of one actor (returns the unsubscribe function). */
export function onTypingChange(store: RoomStore, listener: () => void): () => void {
  let set = typingListeners.get(store);
  if (!set) typingListeners.set(store, (set = new Set()));
  set.add(listener);
  return () => set.delete(listener);
}

export class RoomReads {
  readonly #room: ReadRoom;

  constructor(room: ReadRoom) {
    this.#room = room;
  }

  messages(p: Requester & { dir: Direction; from?: string; to?: string; limit?: number; filter: RoomEventFilter }): Rpc {
    return messages(this.#room, p.requester, p, p);
  }

  context(p: Requester & { eventId: string; limit?: number; filter: RoomEventFilter }): Rpc {
    return context(this.#room, p.requester, p, p);
  }

  timestampToEvent(p: Requester & { ts: number; dir: Direction }): Rpc {
    return timestampToEvent(this.#room, p.requester, p.ts, p.dir);
  }

  members(p: Requester & { at?: string; membership?: Membership; notMembership?: Membership }): Rpc {
    return { chunk: members(this.#room, p.requester, p, p) };
  }

  joinedMembers(p: Requester): Rpc {
    return joinedMembers(this.#room, p.requester);
  }

  event(p: Requester & { eventId: string }): Rpc {
    return event(this.#room, p.requester, p, p.eventId) as unknown as Rpc;
  }

  relations(
    p: Requester & { eventId: string; relType?: string; eventType?: string; from?: string; to?: string; limit?: number; dir?: Direction; recurse?: boolean },
  ): Rpc {
    return relations(this.#room, new Viewer(this.#room, p.requester), p, p);
  }

  threads(p: Requester & { include?: "all" | "participated"; from?: string; limit?: number }): Rpc {
    const viewer = new Viewer(this.#room, p.requester);
    if (!viewer.mayReadHistory()) throw forbidden("You are not allowed to view this room");
    return threads(this.#room, viewer, p, p);
  }

  // ---- ephemeral ----------------------------------------------------------------------

  /** PUT /typing/{userId}: only a joined member (the edge checks the user is the requester). */
  setTyping(p: { userId: string; typing: boolean; timeout: number }): Rpc {
    this.#requireJoined(p.userId);
    typingOf(this.#room.store).set(p.userId, p.typing, p.timeout);
    return {};
  }

  typingUsers(): { user_ids: string[]; serial: number } {
    const t = typingOf(this.#room.store);
    // A member who left while typing is not shown (their timer lapses on its own).
    return { user_ids: t.users().filter((u) => this.#joined(u)), serial: t.serial };
  }

  /** POST /receipt/{m.read|m.read.private}/{eventId}; m.fully_read goes through setReadMarkers. */
  sendReceipt(p: { userId: string; receiptType: string; eventId: string; threadId?: string }): Rpc {
    if (!RECEIPT_TYPES.has(p.receiptType)) throw invalidParam(`unknown receipt type ${p.receiptType}`);
    const viewer = this.#requireJoined(p.userId);
    const ev = receiptTarget(this.#room, viewer, p.eventId, p.threadId);
    new Receipts(this.#room.sql).put(p.userId, p.receiptType as ReceiptType, p.threadId, ev, Date.now());
    return {};
  }

  /**
   * POST /read_markers (and /receipt/m.fully_read): checks every event named, stores the
   * receipts; the edge then sets m.fully_read in the User actor's room account data.
   */
  setReadMarkers(p: { userId: string; fullyRead?: string; read?: string; readPrivate?: string }): Rpc {
    const viewer = this.#requireJoined(p.userId);
    if (p.fullyRead !== undefined) receiptTarget(this.#room, viewer, p.fullyRead, undefined);
    const receipts = new Receipts(this.#room.sql);
    const now = Date.now();
    const targets: Array<[ReceiptType, string | undefined]> = [
      ["m.read", p.read],
      ["m.read.private", p.readPrivate],
    ];
    const checked = targets.map(([type, id]) => [type, id === undefined ? undefined : receiptTarget(this.#room, viewer, id, undefined)] as const);
    for (const [type, ev] of checked) if (ev) receipts.put(p.userId, type, undefined, ev, now);
    return {};
  }

  receiptsSince(p: { since: number; userId: string }): { position: number; content: ReceiptContent } {
    return new Receipts(this.#room.sql).since(p.since, p.userId);
  }

  #joined(userId: string): boolean {
    const id = this.#room.head.state.get(stateKey("m.room.member", userId));
    return id !== undefined && this.#room.store.event(id)?.pdu.content.membership === "join";
  }

  #requireJoined(userId: string): Viewer {
    if (!this.#joined(userId)) throw forbidden("You are not joined to this room");
    return new Viewer(this.#room, userId);
  }
}

