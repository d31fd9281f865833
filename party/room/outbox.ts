/**
 * Delivery of the room's outbox: effects written in the same transaction as their event
 * (so none is lost), delivered after commit, retried with backoff by the actor's alarm.
 * Deliveries are idempotent at the receiver (a membership carries its stream position),
 * so a retry after a delivery whose answer was lost does no harm.
 */
import { APPSERVICE_OUTBOX, deliverToAppservices, type DueRow } from "../appservice/room-hook.ts";
import { deliverDirectory, DIRECTORY_OUTBOX } from "../directory/room-side.ts";
import type { Env } from "../env.ts";
import { userActor } from "../stubs.ts";
import { PUSH_OUTBOX, PushMembers } from "./push.ts";
import type { RoomStore } from "./store.ts";

const MAX_BACKOFF_MS = 10 * 60 * 1000;
const backoff = (attempts: number) => Math.min(MAX_BACKOFF_MS, 1000 * 2 ** attempts);

/** One delivery pass at a time per actor; a call made during a pass runs another after it. */
const passes = new WeakMap<object, Promise<void>>();

export function deliverOutbox(ctx: DurableObjectState, env: Env, store: RoomStore): Promise<void> {
  const previous = passes.get(ctx) ?? Promise.resolve();
  const next = previous.then(() => deliverOnce(ctx, env, store));
  passes.set(ctx, next.catch(() => {}));
  return next;
}

async function deliverOnce(ctx: DurableObjectState, env: Env, store: RoomStore): Promise<void> {
  const now = Date.now();
  const forAppservices: DueRow[] = [];
  const forDirectory: DueRow[] = [];
  for (const item of store.dueOutbox(now)) {
    // Directory rows coalesce into one D1 batch per pass (party/directory/room-side.ts).
    if (item.kind === DIRECTORY_OUTBOX) {
      forDirectory.push(item);
      continue;
    }
    // Appservice rows go together, per appservice and in order (party/appservice/room-hook.ts).
    if (item.kind === APPSERVICE_OUTBOX) {
      forAppservices.push(item);
      continue;
    }
    try {
      switch (item.kind) {
        case "membership":
          await userActor(env, item.target).noteRoomMembership(item.payload as never);
          break;
        case PUSH_OUTBOX: {
          // Pusher delivery (party/push/deliver.ts); a user with no pusher left is forgotten.
          const r = await userActor(env, item.target).pushNotify(item.payload as never);
          if (r.noPushers) PushMembers.of(ctx.storage.sql).set(item.target, false);
          break;
        }
        default:
          throw new Error(`unknown outbox kind ${item.kind}`);
      }
      store.outboxDone(item.id);
    } catch (e) {
      console.error(`room outbox: delivering ${item.kind} to ${item.target} failed (attempt ${item.attempts + 1})`, e);
      store.outboxRetry(item.id, now + backoff(item.attempts));
    }
  }
  if (forAppservices.length > 0) await deliverToAppservices(env, store, forAppservices, (attempts) => Date.now() + backoff(attempts));
  if (forDirectory.length > 0) await deliverDirectory(ctx.storage, env, store, forDirectory, (attempts) => Date.now() + backoff(attempts));
  const due = store.nextOutboxTs();
  if (due !== null) {
    // Never postpone an alarm already set sooner (the room's backstop for rows whose
    // hand-over a restart may have interrupted): a later retry would hold them back.
    const want = Math.max(due, Date.now() + 100);
    const current = await ctx.storage.getAlarm();
    if (current === null || current > want) await ctx.storage.setAlarm(want);
  }
}
