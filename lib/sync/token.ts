/**
 * /sync `since`/`next_batch` tokens: the User actor's own positions, opaque to clients.
 * https://spec.matrix.org/v1.19/client-server-api/#syncing — design: docs/design/sync.md.
 *
 *     y<checkpoint>_<accountData>_<toDevice>_<deviceLists>[_<presence>][~<inline views>]
 *
 * all numbers base 36. `checkpoint` names a stored full set of room views (0: none, the
 * empty set); the inline part carries the views of rooms that changed since that
 * checkpoint, so a sync that moves a few rooms writes nothing. A token is complete: the
 * views of every room are the checkpoint's, overridden by the inline ones.
 */
import { b36, decodeViews, encodeViews, parseB36, type RoomView } from "./position.ts";

export interface SyncToken {
  /** Row ID of the checkpoint holding the base views; 0 means the empty set. */
  checkpoint: number;
  /** Account-data stream position (global and room account data share it). */
  accountData: number;
  /** Position in this device's to-device inbox up to which messages were delivered. */
  toDevice: number;
  /** Device-list change stream position. */
  deviceLists: number;
  /** The user's own presence serial the client has (docs/design/presence.md); absent from the text when 0. */
  presence?: number;
  /** Room index → view, for rooms that changed since the checkpoint. */
  inline: Map<number, RoomView>;
}

/** More inline rooms than this and the next token gets a checkpoint of its own. */
export const MAX_INLINE_ROOMS = 12;

const PREFIX = "y";

export function encodeSyncToken(t: SyncToken): string {
  const head = `${PREFIX}${b36(t.checkpoint)}_${b36(t.accountData)}_${b36(t.toDevice)}_${b36(t.deviceLists)}`;
  const base = t.presence ? `${head}_${b36(t.presence)}` : head;
  return t.inline.size === 0 ? base : `${base}~${encodeViews(t.inline)}`;
}

/** The token a client sent back, or undefined when it is not one of ours (or was altered). */
export function decodeSyncToken(text: string): SyncToken | undefined {
  if (!text.startsWith(PREFIX) || text.length > 4096) return undefined;
  const tilde = text.indexOf("~");
  const head = tilde < 0 ? text.slice(1) : text.slice(1, tilde);
  const parts = head.split("_");
  if (parts.length !== 4 && parts.length !== 5) return undefined;
  const [checkpoint, accountData, toDevice, deviceLists] = parts.map(parseB36);
  if (checkpoint === undefined || accountData === undefined || toDevice === undefined || deviceLists === undefined) return undefined;
  const presence = parts.length === 5 ? parseB36(parts[4]) : undefined;
  if (parts.length === 5 && !presence) return undefined; // 0 is never written: the text was altered
  const inline = tilde < 0 ? new Map<number, RoomView>() : decodeViews(text.slice(tilde + 1));
  if (!inline || (tilde >= 0 && inline.size === 0)) return undefined;
  const token: SyncToken = { checkpoint, accountData, toDevice, deviceLists, inline };
  if (presence) token.presence = presence;
  return token;
}

/** Every room's view under a token: the checkpoint's views overridden by the inline ones. */
export function tokenViews(checkpointViews: ReadonlyMap<number, RoomView>, inline: ReadonlyMap<number, RoomView>): Map<number, RoomView> {
  const all = new Map(checkpointViews);
  for (const [idx, v] of inline) all.set(idx, v);
  return all;
}

/**
 * The inline part of the token that follows one whose views were `previous` (the
 * checkpoint's views are `base`): every room whose view differs from the checkpoint's.
 * Returns undefined when that exceeds MAX_INLINE_ROOMS: time for a new checkpoint.
 */
export function nextInline(
  base: ReadonlyMap<number, RoomView>,
  views: ReadonlyMap<number, RoomView>,
): Map<number, RoomView> | undefined {
  const inline = new Map<number, RoomView>();
  for (const [idx, v] of views) {
    const b = base.get(idx);
    if (b && sameView(b, v)) continue;
    inline.set(idx, v);
    if (inline.size > MAX_INLINE_ROOMS) return undefined;
  }
  // A room dropped from the views (forgotten) cannot be expressed inline.
  for (const idx of base.keys()) if (!views.has(idx)) return undefined;
  return inline;
}

export function sameView(a: RoomView, b: RoomView): boolean {
  return a.m === b.m && a.ms === b.ms && a.s === b.s && a.r === b.r && a.t === b.t && (a.d ?? 0) === (b.d ?? 0) && (a.p ?? 0) === (b.p ?? 0);
}
