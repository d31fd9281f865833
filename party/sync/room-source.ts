/**
 * Everything sync needs inside one Room actor, behind three hooks the room calls
 * (events committed, receipts changed, typing changed — the last subscribed here):
 * the publisher that tells the hub shard, and the feed that answers `syncRoom`.
 * party/room.ts holds one instance and delegates; design: docs/design/sync.md.
 */
import { clientEventFromPdu } from "../../lib/event-format.ts";
import type { JsonObject } from "../../lib/json.ts";
import type { PublishedPosition } from "../../lib/sync/position.ts";
import type { SharedEvent, SharedReceipt } from "../../lib/sync/shared-event.ts";
import type { RoomSyncRequest, RoomSyncResult } from "../../lib/sync/response.ts";
import type { Env } from "../env.ts";
import { Receipts } from "../room/ephemeral.ts";
import { onTypingChange, RoomReads } from "../room/read-api.ts";
import type { NewEvent } from "../room/store.ts";
import { stateContentAt, type ReadRoom } from "../room/visibility.ts";
import { deviceListPosition, recordDeviceListChange } from "./device-lists.ts";
import { presencePosition, recordPresence } from "../room/presence.ts";
import type { PresenceRecord } from "../../lib/presence.ts";
import { newestBumpStamp, newestStateStream, RoomPublisher } from "./publisher.ts";
import { roomSync, type FeedSource } from "./room-feed.ts";

export class RoomSyncSource {
  readonly #room: ReadRoom;
  readonly #publisher: RoomPublisher;
  readonly #feedSource: FeedSource;

  readonly #senderLevel: ((sender: string) => number) | undefined;
  #deviceListPos: number | undefined;
  #presencePos: number | undefined;

  constructor(env: Env, room: ReadRoom, senderLevel?: (sender: string) => number) {
    this.#room = room;
    this.#senderLevel = senderLevel;
    const receipts = new Receipts(room.sql);
    const reads = () => new RoomReads(this.#room);
    this.#publisher = new RoomPublisher(
      env,
      room.roomId,
      room.head,
      () => receipts.position(),
      () => newestBumpStamp(room.sql),
      () => reads().typingUsers().user_ids,
      () => newestStateStream(room.sql),
      (pos) => receiptsAfter(room.sql, pos),
      // Read once, then kept: only deviceListChanged / presenceChanged below move them.
      () => (this.#deviceListPos ??= deviceListPosition(room.sql)),
      () => (this.#presencePos ??= presencePosition(room.sql)),
    );
    onTypingChange(room.store, () => this.#publisher.typingChanged());
    this.#feedSource = {
      position: () => this.#publisher.position(),
      typingUsers: () => reads().typingUsers().user_ids,
      receiptsSince: (since, forUserId) => reads().receiptsSince({ since, userId: forUserId }),
    };
    // A room that (re)starts publishes once: it repairs a shard that missed its last
    // publish (see the design's failure modes).
    this.#publisher.changed();
  }

  /** After a commit (not inside it). */
  eventsCommitted(events: readonly NewEvent[]): void {
    this.#publisher.eventsCommitted(events.map((e) => this.#shared(e)));
  }

  /** The event as every joined member receives it, minus the per-reader `unsigned` fields. */
  #shared(e: NewEvent): SharedEvent {
    const { room_id: _, ...ev } = clientEventFromPdu(e.pdu);
    const unsigned: JsonObject = { ...(ev.unsigned ?? {}) };
    if (e.pdu.state_key !== undefined) {
      const prev = stateContentAt(this.#room, e.stateBefore, e.pdu.type, e.pdu.state_key);
      if (prev) unsigned.prev_content = prev.content;
    }
    const out: SharedEvent = {
      stream: e.stream,
      json: JSON.stringify({ ...ev, unsigned }),
      type: e.pdu.type,
      sender: e.pdu.sender,
      originServerTs: e.pdu.origin_server_ts,
    };
    if (e.pdu.state_key !== undefined) out.stateKey = e.pdu.state_key;
    if (e.txn) out.txn = { deviceId: e.txn.deviceId, txnId: e.txn.txnId };
    if (this.#senderLevel) out.senderLevel = this.#senderLevel(e.pdu.sender);
    return out;
  }

  /** A member's device list changed (from their DeviceKeys actor): recorded, then published. */
  deviceListChanged(userId: string): boolean {
    const pos = recordDeviceListChange(this.#room.sql, userId);
    if (pos !== null) {
      this.#deviceListPos = undefined;
      this.#publisher.changed();
    }
    return pos !== null;
  }

  /** A member's presence changed (from their User actor): recorded, then published (party/room/presence.ts). */
  presenceChanged(userId: string, rec: PresenceRecord): boolean {
    const recorded = recordPresence(this.#room.sql, userId, rec);
    if (recorded) {
      this.#presencePos = undefined;
      this.#publisher.changed();
    }
    return recorded;
  }

  /** After a receipt was stored. */
  receiptsChanged(): void {
    this.#publisher.changed();
  }

  position(): PublishedPosition {
    return this.#publisher.position();
  }

  feed(req: RoomSyncRequest): RoomSyncResult {
    return roomSync(this.#room, this.#feedSource, req);
  }

  /** Publishes sent so far (tests, cost figures). */
  get published(): number {
    return this.#publisher.published;
  }
}

/** Receipts written after `pos`, in position order, private ones included (the reader filters). */
function receiptsAfter(sql: SqlStorage, pos: number): SharedReceipt[] {
  return sql
    .exec<{ user_id: string; receipt_type: string; thread_id: string; event_id: string; ts: number; pos: number }>(
      "SELECT user_id, receipt_type, thread_id, event_id, ts, pos FROM receipts WHERE pos > ? ORDER BY pos",
      pos,
    )
    .toArray()
    .map((r) => ({ pos: r.pos, userId: r.user_id, type: r.receipt_type, threadId: r.thread_id, eventId: r.event_id, ts: r.ts }));
}
