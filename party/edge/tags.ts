/**
 * Room tagging: a user's tags on a room, kept as that room's `m.tag` account data
 * (`{tags: {name: {order?}}}`) through the User actor's account-data RPCs, so /sync's
 * room account_data carries every change with no code of its own.
 * https://spec.matrix.org/v1.19/client-server-api/#room-tagging
 */
import { MatrixError } from "../../lib/errors.ts";
import { isValidRoomId } from "../../lib/identifiers.ts";
import { isJsonObject, type JsonObject } from "../../lib/json.ts";
import { userActor } from "../stubs.ts";
import { body, requireSelf } from "./account.ts";
import { authenticate } from "./auth.ts";
import { asMatrixError, json } from "./http.ts";
import type { EdgeRequest } from "./router.ts";

const TAG_EVENT = "m.tag";
/** The spec's recommended bound on tag names; longer ones would bloat every sync. */
export const MAX_TAG_BYTES = 255;

interface TagRequest {
  userId: string;
  roomId: string;
}

async function tagRequest(r: EdgeRequest): Promise<TagRequest> {
  const me = await authenticate(r);
  requireSelf(r.params.userId!, me.userId);
  const roomId = r.params.roomId!;
  if (!isValidRoomId(roomId)) throw new MatrixError("M_INVALID_PARAM", 400, "Invalid room ID");
  return { userId: me.userId, roomId };
}

function tagParam(r: EdgeRequest): string {
  const tag = r.params.tag!;
  if (tag === "") throw new MatrixError("M_INVALID_PARAM", 400, "Empty tag name");
  if (new TextEncoder().encode(tag).length > MAX_TAG_BYTES) {
    throw new MatrixError("M_INVALID_PARAM", 400, `Tag names are at most ${MAX_TAG_BYTES} bytes`);
  }
  return tag;
}

/** The room's tags as stored; none yet (or a malformed m.tag written through account_data) is `{}`. */
async function readTags(t: TagRequest, env: EdgeRequest["env"]): Promise<Record<string, JsonObject>> {
  let content: unknown;
  try {
    // The error comes back over RPC: asMatrixError restores its errcode.
    content = JSON.parse(await userActor(env, t.userId).getAccountData(t.roomId, TAG_EVENT));
  } catch (e) {
    if (asMatrixError(e)?.errcode === "M_NOT_FOUND") return {};
    throw e;
  }
  const tags = isJsonObject(content) ? content.tags : undefined;
  if (!isJsonObject(tags)) return {};
  const out: Record<string, JsonObject> = {};
  for (const [name, value] of Object.entries(tags)) if (isJsonObject(value)) out[name] = value;
  return out;
}

function writeTags(t: TagRequest, env: EdgeRequest["env"], tags: Record<string, JsonObject>): Promise<void> {
  return userActor(env, t.userId).setAccountData(t.roomId, TAG_EVENT, { tags });
}

// GET /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags
export async function getTags(r: EdgeRequest): Promise<Response> {
  const t = await tagRequest(r);
  return json({ tags: await readTags(t, r.env) });
}

// PUT /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag}
export async function putTag(r: EdgeRequest): Promise<Response> {
  const t = await tagRequest(r);
  const tag = tagParam(r);
  const content = await body(r);
  // The spec's Tag object: `order` a number in [0,1]; other fields are kept as extra data.
  const order = content.order;
  if (order !== undefined && (typeof order !== "number" || !Number.isFinite(order) || order < 0 || order > 1)) {
    throw new MatrixError("M_INVALID_PARAM", 400, "order must be a number in [0,1]");
  }
  const tags = await readTags(t, r.env);
  tags[tag] = content;
  await writeTags(t, r.env, tags);
  return json({});
}

// DELETE /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag}
export async function deleteTag(r: EdgeRequest): Promise<Response> {
  const t = await tagRequest(r);
  const tag = tagParam(r);
  const tags = await readTags(t, r.env);
  // Removing an absent tag succeeds without a write (no needless account-data sync entry).
  if (Object.hasOwn(tags, tag)) {
    delete tags[tag];
    await writeTags(t, r.env, tags);
  }
  return json({});
}
