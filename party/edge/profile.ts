/**
 * Profiles: displayname, avatar_url, m.tz and custom namespaced fields.
 * https://spec.matrix.org/v1.19/client-server-api/#profiles
 * (Propagating changes into room member events comes with the room actor.)
 */
import { MatrixError } from "../../lib/errors.ts";
import { isValidServerName, parseUserId } from "../../lib/identifiers.ts";
import type { JsonObject } from "../../lib/json.ts";
import { userActor } from "../stubs.ts";
import { body, jsonText, requireSelf } from "./account.ts";
import { withAppserviceUserQuery } from "./appservice.ts";
import { authenticate } from "./auth.ts";
import { json } from "./http.ts";
import type { EdgeRequest } from "./router.ts";

/** The spec's grammar for `keyName` (common namespaced identifiers, max 255 characters). */
const KEY_NAME = /^(avatar_url|displayname|m\.tz|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+)$/;
/** Per-field caps (the whole profile is capped at 64 KiB by the actor). */
export const MAX_DISPLAYNAME_LENGTH = 256;
export const MAX_AVATAR_URL_LENGTH = 1000;

/** `mxc://<server-name>/<media-id>` with the media ID grammar of the content repository. */
export function isMxcUri(s: string): boolean {
  const m = /^mxc:\/\/([^/]+)\/([A-Za-z0-9_-]+)$/.exec(s);
  return m !== null && isValidServerName(m[1]!);
}

/** A local user named in the path; remote profiles need federation, which Parley lacks yet. */
function localUser(r: EdgeRequest): string {
  const userId = r.params.userId!;
  const parsed = parseUserId(userId);
  if (!parsed) throw new MatrixError("M_INVALID_PARAM", 400, "Invalid user ID");
  if (parsed.serverName !== r.config.serverName) throw new MatrixError("M_NOT_FOUND", 404, "Profile not found");
  return userId;
}

function keyName(r: EdgeRequest): string {
  const key = r.params.keyName!;
  if (key.length > 255 || !KEY_NAME.test(key)) throw new MatrixError("M_INVALID_PARAM", 400, "Invalid profile field name");
  return key;
}

// GET /_matrix/client/v3/profile/{userId}
export async function getProfile(r: EdgeRequest): Promise<Response> {
  const userId = localUser(r);
  return jsonText(await withAppserviceUserQuery(r, userId, () => userActor(r.env, userId).getProfile()));
}

// GET /_matrix/client/v3/profile/{userId}/{keyName}
export async function getProfileField(r: EdgeRequest): Promise<Response> {
  const key = keyName(r);
  const userId = localUser(r);
  const profile = JSON.parse(await withAppserviceUserQuery(r, userId, () => userActor(r.env, userId).getProfile())) as JsonObject;
  if (!(key in profile)) throw new MatrixError("M_NOT_FOUND", 404, "Profile field not set");
  return json({ [key]: profile[key]! });
}

// PUT /_matrix/client/v3/profile/{userId}/{keyName}
export async function setProfileField(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const key = keyName(r);
  requireSelf(localUser(r), me.userId);
  const b = await body(r);
  if (!(key in b)) throw new MatrixError("M_MISSING_PARAM", 400, `Missing '${key}'`);
  const value = b[key]!;
  const user = userActor(r.env, me.userId);
  if (key === "displayname" || key === "avatar_url" || key === "m.tz") {
    if (typeof value !== "string") throw new MatrixError("M_BAD_JSON", 400, `'${key}' must be a string`);
    // An empty display name or avatar means "none": clients clear them this way.
    if (value === "" && key !== "m.tz") {
      await user.deleteProfileField(key);
      return json({});
    }
    if (key === "displayname" && [...value].length > MAX_DISPLAYNAME_LENGTH) {
      throw new MatrixError("M_INVALID_PARAM", 400, `'displayname' is longer than ${MAX_DISPLAYNAME_LENGTH} characters`);
    }
    if (key === "avatar_url" && (value.length > MAX_AVATAR_URL_LENGTH || !isMxcUri(value))) {
      throw new MatrixError("M_INVALID_PARAM", 400, "'avatar_url' must be an mxc:// URI");
    }
  }
  await user.setProfileField(key, value);
  return json({});
}

// DELETE /_matrix/client/v3/profile/{userId}/{keyName}
export async function deleteProfileField(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const key = keyName(r);
  requireSelf(localUser(r), me.userId);
  await userActor(r.env, me.userId).deleteProfileField(key);
  return json({});
}
