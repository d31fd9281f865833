/**
 * Media IDs and `mxc://` URIs. https://spec.matrix.org/v1.19/client-server-api/#matrix-content-mxc-uris
 *
 * A media ID is the only secret guarding unauthenticated (legacy) downloads and
 * the only name of an upload, so it is unguessable: 192 random bits from the
 * CSPRNG, written as unpadded URL-safe Base64 (32 characters of [A-Za-z0-9_-],
 * the alphabet the spec allows).
 */
import { encodeBase64Url } from "../base64.ts";
import { isValidServerName } from "../identifiers.ts";

export const MEDIA_ID_RANDOM_BYTES = 24;
/** Longest media ID accepted from a path (other servers' IDs may be longer than ours). */
export const MAX_MEDIA_ID_LENGTH = 255;

export function generateMediaId(): string {
  return encodeBase64Url(crypto.getRandomValues(new Uint8Array(MEDIA_ID_RANDOM_BYTES)));
}

/** Only [A-Za-z0-9_-]: the spec's guard against path traversal through mxc URIs. */
export function isValidMediaId(id: string): boolean {
  return id.length > 0 && id.length <= MAX_MEDIA_ID_LENGTH && /^[A-Za-z0-9_-]+$/.test(id);
}

export function mxcUri(serverName: string, mediaId: string): string {
  return `mxc://${serverName}/${mediaId}`;
}

/** `mxc://server/id` split, or undefined when either part is invalid. */
export function parseMxcUri(uri: string): { serverName: string; mediaId: string } | undefined {
  const m = /^mxc:\/\/([^/]+)\/([^/]+)$/.exec(uri);
  if (!m || !isValidServerName(m[1]!) || !isValidMediaId(m[2]!)) return undefined;
  return { serverName: m[1]!, mediaId: m[2]! };
}
