/**
 * Pagination of the published room directory: keyset tokens over the directory's order.
 * https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3publicrooms
 *
 * Rooms are listed largest first (num_joined_members descending), ties by room ID
 * ascending — a total, stable order, as the spec recommends. A token names a position in
 * that order (the key of a room) and a direction: `next_batch` continues after the last
 * room of a page, `prev_batch` goes back before its first. "The direction of pagination
 * is specified solely by which token is supplied", so the direction is part of the token.
 * A keyset position stays meaningful while rooms are added, removed or change size:
 * pages never repeat a room of the same key and never skip one that kept its key (a
 * room whose member count moves across the boundary between two reads can move pages,
 * which no order over live counts avoids).
 *
 * Written form: `<f|b><members>.<room ID as unpadded URL-safe base64>`; opaque to clients.
 */
import { Base64Error, decodeBase64Url, encodeBase64Url } from "../base64.ts";
import { invalidParam } from "../errors.ts";

/** A room's place in the directory order. */
export interface PageKey {
  numJoinedMembers: number;
  roomId: string;
}

export interface DirectoryToken {
  /** f: rooms after the key (next_batch); b: rooms before it (prev_batch). */
  dir: "f" | "b";
  key: PageKey;
}

export function encodeDirectoryToken(t: DirectoryToken): string {
  return `${t.dir}${t.key.numJoinedMembers}.${encodeBase64Url(new TextEncoder().encode(t.key.roomId))}`;
}

/** A client's `since`; 400 M_INVALID_PARAM when it is not a token this server made. */
export function parseDirectoryToken(s: string): DirectoryToken {
  const bad = () => invalidParam("Unknown pagination token in 'since'");
  const m = /^([fb])(\d{1,15})\.([A-Za-z0-9_-]{1,400})$/.exec(s);
  if (!m) throw bad();
  let roomId: string;
  try {
    roomId = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(decodeBase64Url(m[3]!));
  } catch (e) {
    if (e instanceof Base64Error || e instanceof TypeError) throw bad();
    throw e;
  }
  if (!roomId.startsWith("!")) throw bad();
  return { dir: m[1] as "f" | "b", key: { numJoinedMembers: Number(m[2]), roomId } };
}

/** Whether room `a` comes before room `b` in the directory order. */
export function precedes(a: PageKey, b: PageKey): boolean {
  if (a.numJoinedMembers !== b.numJoinedMembers) return a.numJoinedMembers > b.numJoinedMembers;
  return a.roomId < b.roomId;
}

export interface Page<T> {
  items: T[];
  nextBatch?: string;
  prevBatch?: string;
}

/**
 * One page from the rows a query returned: up to `limit + 1` of them, in the order of
 * the page's direction — directory order when going forward (no token or an `f` token),
 * reversed when going back (a `b` token). The extra row only tells that more follow.
 */
export function assemblePage<T extends PageKey>(rows: readonly T[], limit: number, since: DirectoryToken | undefined): Page<T> {
  const backward = since?.dir === "b";
  const more = rows.length > limit;
  const items = rows.slice(0, limit);
  if (backward) items.reverse();
  const page: Page<T> = { items };
  if (items.length === 0) return page;
  const key = (r: T): PageKey => ({ numJoinedMembers: r.numJoinedMembers, roomId: r.roomId });
  const first = items[0]!;
  const last = items[items.length - 1]!;
  // Forward: more rows follow when the query found one beyond the page; something precedes
  // the page whenever it started from a token. Backward: the mirror image.
  if (backward ? true : more) page.nextBatch = encodeDirectoryToken({ dir: "f", key: key(last) });
  if (backward ? more : since !== undefined) page.prevBatch = encodeDirectoryToken({ dir: "b", key: key(first) });
  return page;
}
