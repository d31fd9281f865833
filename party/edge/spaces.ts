/**
 * Spaces and room summaries: `/rooms/{roomId}/hierarchy` walks a space's m.space.child
 * tree depth-first, and `/room_summary/{roomIdOrAlias}` summarises one room; each room's
 * facts come from its Room actor (party/room/summary.ts), the visibility decision from
 * lib/spaces.ts. Only rooms this server holds are shown: without federation a child room
 * held elsewhere is skipped (and `via` is not used).
 * https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv1roomsroomidhierarchy
 * https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv1room_summaryroomidoralias
 *
 * A hierarchy page token holds the walk's stack (lib/spaces.ts HierarchyCursor), so no
 * per-walk state is kept. Each page asks at most 2 × limit + max_depth rooms, so spaces
 * full of rooms the user may not see cost a bounded amount per request (the page is then
 * shorter and carries a next_batch). A room reachable through two spaces is shown once per
 * page; it may show again on a later page.
 */
import { forbidden, invalidParam, notFound } from "../../lib/errors.ts";
import { isValidRoomAlias, isValidRoomId } from "../../lib/identifiers.ts";
import {
  decodeCursor,
  encodeCursor,
  maySeeSummary,
  publiclySummarisable,
  type HierarchyCursor,
  type RoomSummary,
  type RoomSummaryFacts,
  type StrippedChildStateEvent,
} from "../../lib/spaces.ts";
import { resolveAlias } from "../directory/aliases.ts";
import type { Env } from "../env.ts";
import { roomActor, userActor } from "../stubs.ts";
import { authenticate, extractAccessToken } from "./auth.ts";
import { json } from "./http.ts";
import type { EdgeRequest } from "./router.ts";

/** The Room RPC, typed by hand: workers-types cannot map the JsonObject inside through its stub types. */
interface SummaryRpc {
  summary(p: { userId: string | null; children: boolean; suggestedOnly: boolean }): Promise<RoomSummaryFacts | null>;
}

const summaryOf = (env: Env, roomId: string, p: Parameters<SummaryRpc["summary"]>[0]) =>
  (roomActor(env, roomId) as unknown as SummaryRpc).summary(p);

/** `limit` when the client gives none. */
const DEFAULT_LIMIT = 50;
/** Children whose summaries are fetched at once while walking a space. */
const PREFETCH = 8;

type HierarchyRoom = RoomSummary & { children_state: StrippedChildStateEvent[] };

function integerParam(q: URLSearchParams, name: string, min: number): number | undefined {
  const raw = q.get(name);
  if (raw === null) return undefined;
  const n = Number(raw);
  if (!/^[0-9]+$/.test(raw) || !Number.isSafeInteger(n) || n < min) throw invalidParam(`'${name}' must be an integer ≥ ${min}`);
  return n;
}

function booleanParam(q: URLSearchParams, name: string): boolean {
  const raw = q.get(name);
  if (raw === null || raw === "false") return false;
  if (raw === "true") return true;
  throw invalidParam(`'${name}' must be true or false`);
}

// GET /_matrix/client/v1/rooms/{roomId}/hierarchy
export async function hierarchy(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const rootId = r.params.roomId!;
  if (!isValidRoomId(rootId)) throw invalidParam("Invalid room ID");
  const q = r.url.searchParams;
  const limit = Math.min(integerParam(q, "limit", 1) ?? DEFAULT_LIMIT, r.config.spaceHierarchyMaxLimit);
  const maxDepth = Math.min(integerParam(q, "max_depth", 0) ?? r.config.spaceHierarchyMaxDepth, r.config.spaceHierarchyMaxDepth);
  const suggestedOnly = booleanParam(q, "suggested_only");
  const from = q.get("from");

  let joined: Promise<Set<string>> | undefined;
  const joinedRooms = () => (joined ??= userActor(r.env, me.userId).joinedRooms().then((ids) => new Set(ids)));
  const cache = new Map<string, Promise<RoomSummaryFacts | null>>();
  /** The room's facts when the user may see it, else null; children only when asked. */
  const visible = (roomId: string, children: boolean) => {
    const key = `${roomId}\u0000${children}`;
    let p = cache.get(key);
    if (!p) {
      p = (async () => {
        const f = await summaryOf(r.env, roomId, { userId: me.userId, children, suggestedOnly });
        if (!f) return null;
        const needJoined = f.restricted && !f.summary.world_readable && f.membership !== "join" && f.membership !== "invite";
        return maySeeSummary(f, needJoined ? await joinedRooms() : new Set()) ? f : null;
      })().catch((e: unknown) => {
        // A room that cannot answer is left out of the walk (prefetched ones may never be awaited).
        console.error(`hierarchy: room ${roomId} unavailable`, e);
        return null;
      });
      cache.set(key, p);
    }
    return p;
  };

  const rooms: HierarchyRoom[] = [];
  const shown = new Set<string>();
  const entry = (f: RoomSummaryFacts): HierarchyRoom => ({ ...f.summary, children_state: f.children });
  // The walk's stack: a space, its children, and the index of the next child.
  let stack: Array<{ roomId: string; children: StrippedChildStateEvent[]; next: number }>;
  if (from === null) {
    const root = await visible(rootId, maxDepth > 0);
    if (!root) throw forbidden("You may not view this room");
    rooms.push(entry(root));
    shown.add(rootId);
    stack = maxDepth > 0 ? [{ roomId: rootId, children: root.children, next: 0 }] : [];
  } else {
    const cursor = decodeCursor(from, maxDepth);
    if (!cursor || cursor.stack[0]!.roomId !== rootId) throw invalidParam("Unknown 'from' token");
    if (cursor.maxDepth !== maxDepth || cursor.suggestedOnly !== suggestedOnly) {
      throw invalidParam("'max_depth' and 'suggested_only' cannot change while paginating");
    }
    // Every space on the stack is asked again: its children, and whether the user still may see it.
    const facts = await Promise.all(cursor.stack.map((f) => visible(f.roomId, true)));
    if (!facts[0]) throw forbidden("You may not view this room");
    stack = cursor.stack.map((f, i) => ({ roomId: f.roomId, children: facts[i]?.children ?? [], next: f.next }));
  }

  let budget = 2 * limit + maxDepth;
  while (stack.length > 0 && rooms.length < limit && budget > 0) {
    const top = stack[stack.length - 1]!;
    if (top.next >= top.children.length) {
      stack.pop();
      continue;
    }
    const depth = stack.length; // of the child
    const expand = depth < maxDepth;
    // Ask the next few children together; the walk still takes them one by one, in order.
    for (const c of top.children.slice(top.next, top.next + PREFETCH)) void visible(c.state_key, expand);
    const childId = top.children[top.next++]!.state_key;
    // A space that contains itself, or an ancestor: not walked twice.
    if (shown.has(childId) || stack.some((f) => f.roomId === childId)) continue;
    budget--;
    const f = await visible(childId, expand);
    if (!f) continue;
    rooms.push(entry(f));
    shown.add(childId);
    if (expand && f.children.length > 0) stack.push({ roomId: childId, children: f.children, next: 0 });
  }
  // Drop exhausted frames from the top, so that a finished walk has no token.
  while (stack.length > 0 && stack[stack.length - 1]!.next >= stack[stack.length - 1]!.children.length) stack.pop();
  const body: { rooms: HierarchyRoom[]; next_batch?: string } = { rooms };
  if (stack.length > 0) {
    const cursor: HierarchyCursor = { maxDepth, suggestedOnly, stack: stack.map((f) => ({ roomId: f.roomId, next: f.next })) };
    body.next_batch = encodeCursor(cursor);
  }
  return json(body as unknown as Parameters<typeof json>[0]);
}

// GET /_matrix/client/v1/room_summary/{roomIdOrAlias}
export async function roomSummary(r: EdgeRequest): Promise<Response> {
  // A token is optional here; one that is sent must be valid.
  const me = extractAccessToken(r) === null ? null : await authenticate(r);
  const target = r.params.roomIdOrAlias!;
  let roomId: string;
  if (isValidRoomId(target)) roomId = target;
  else if (isValidRoomAlias(target)) roomId = (await resolveAlias(r.env, target)).roomId;
  else throw invalidParam("Not a room ID or alias");
  const f = await summaryOf(r.env, roomId, { userId: me?.userId ?? null, children: false, suggestedOnly: false });
  // A room the caller may not see looks the same as one that does not exist.
  const notThere = () => notFound("Room not found or not accessible");
  if (!f) throw notThere();
  if (me === null) {
    if (!publiclySummarisable(f)) throw notThere();
    return json({ ...f.summary });
  }
  const needJoined = f.restricted && !f.summary.world_readable && f.membership !== "join" && f.membership !== "invite";
  const joined = needJoined ? new Set(await userActor(r.env, me.userId).joinedRooms()) : new Set<string>();
  if (!maySeeSummary(f, joined)) throw notThere();
  return json({ ...f.summary, membership: f.membership ?? "leave" });
}
