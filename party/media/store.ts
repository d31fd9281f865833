/**
 * Local media in R2 (the `MEDIA` binding). Layout, metadata and the async-upload
 * life cycle are described in docs/design/media.md:
 *
 *   media/{mediaId}              the upload; or, for /create, an empty placeholder
 *                                (customMetadata.state = "pending") until its PUT
 *   pending/{uploader}/{expiresTs}.{mediaId}
 *                                one empty marker per pending upload, to count them
 *   thumb/{mediaId}/{plan}       generated thumbnails (lib/media/thumbnail.ts planKey)
 *
 * Everything about an upload lives in its object's metadata (content type in
 * httpMetadata, uploader, file name, creation time in customMetadata): one R2
 * read serves a download, and there is no second store to keep consistent.
 */

/** The spec's recommended lifetime of an unused /create media ID. */
export const UNUSED_EXPIRY_MS = 24 * 60 * 60 * 1000;

export interface MediaMeta {
  uploader: string;
  contentType: string;
  /** As the uploader gave it (`filename` query parameter), or null. */
  filename: string | null;
  createdTs: number;
}

export type MediaState =
  | { state: "absent" }
  | { state: "pending"; uploader: string; expiresTs: number; etag: string }
  | { state: "ready"; meta: MediaMeta; size: number };

export const mediaKey = (mediaId: string) => `media/${mediaId}`;
const pendingPrefix = (uploader: string) => `pending/${encodeURIComponent(uploader)}/`;
// The expiry is in the marker's name, so counting needs only a listing (no metadata reads).
const pendingKey = (uploader: string, expiresTs: number, mediaId: string) => `${pendingPrefix(uploader)}${expiresTs}.${mediaId}`;
export const thumbnailKey = (mediaId: string, plan: string) => `thumb/${mediaId}/${plan}`;

/** What R2 knows about a media ID (a HEAD; no body is read). */
export async function mediaState(bucket: R2Bucket, mediaId: string): Promise<MediaState> {
  const head = await bucket.head(mediaKey(mediaId));
  return head ? stateOf(head) : { state: "absent" };
}

export function stateOf(obj: R2Object): MediaState {
  const m = obj.customMetadata ?? {};
  if (m.state === "pending") {
    return { state: "pending", uploader: m.uploader ?? "", expiresTs: Number(m.expires_ts), etag: obj.etag };
  }
  return { state: "ready", meta: metaOf(obj), size: obj.size };
}

export function metaOf(obj: R2Object): MediaMeta {
  const m = obj.customMetadata ?? {};
  return {
    uploader: m.uploader ?? "",
    contentType: obj.httpMetadata?.contentType ?? "application/octet-stream",
    filename: m.filename !== undefined ? decodeURIComponent(m.filename) : null,
    createdTs: Number(m.created_ts ?? 0),
  };
}

/** The body R2 accepts: bytes, or a stream whose length is known (from Content-Length). */
export type UploadBody = Uint8Array | ReadableStream;

function putOptions(meta: MediaMeta): R2PutOptions {
  const customMetadata: Record<string, string> = {
    state: "ready",
    uploader: meta.uploader,
    created_ts: String(meta.createdTs),
  };
  // Encoded: R2 metadata travels as HTTP headers in some APIs; the name may hold any character.
  if (meta.filename !== null) customMetadata.filename = encodeURIComponent(meta.filename);
  return { httpMetadata: { contentType: meta.contentType }, customMetadata };
}

/** POST /upload: a fresh media ID, stored at once. */
export async function putMedia(bucket: R2Bucket, mediaId: string, body: UploadBody, meta: MediaMeta): Promise<void> {
  await bucket.put(mediaKey(mediaId), body, putOptions(meta));
}

/**
 * PUT /upload/{server}/{id}: fills a placeholder only if it is still the one
 * read (its etag), so of two concurrent uploads exactly one wins. False when
 * the placeholder had already been replaced.
 */
export async function fillPlaceholder(
  bucket: R2Bucket,
  mediaId: string,
  placeholder: Extract<MediaState, { state: "pending" }>,
  body: UploadBody,
  meta: MediaMeta,
): Promise<boolean> {
  const done = await bucket.put(mediaKey(mediaId), body, { ...putOptions(meta), onlyIf: { etagMatches: placeholder.etag } });
  if (done) await bucket.delete(pendingKey(placeholder.uploader, placeholder.expiresTs, mediaId));
  return done !== null;
}

/** POST /create: the placeholder and the uploader's pending marker. */
export async function createPlaceholder(bucket: R2Bucket, mediaId: string, uploader: string, expiresTs: number): Promise<void> {
  const customMetadata = { state: "pending", uploader, expires_ts: String(expiresTs) };
  await bucket.put(pendingKey(uploader, expiresTs, mediaId), new Uint8Array(0));
  await bucket.put(mediaKey(mediaId), new Uint8Array(0), { customMetadata });
}

/**
 * The uploader's pending uploads that have not expired, oldest expiry first.
 * Expired ones are cleaned up on the way (their marker, and their placeholder
 * if it was never filled).
 */
export async function livePendingUploads(bucket: R2Bucket, uploader: string, now: number): Promise<number[]> {
  const live: number[] = [];
  const expired: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix: pendingPrefix(uploader), cursor });
    for (const o of page.objects) {
      const name = o.key.slice(o.key.lastIndexOf("/") + 1);
      const expires = Number(name.slice(0, name.indexOf(".")));
      if (expires > now) live.push(expires);
      else expired.push(o.key);
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  for (const key of expired) {
    const mediaId = key.slice(key.lastIndexOf(".") + 1);
    const head = await bucket.head(mediaKey(mediaId));
    if (head?.customMetadata?.state === "pending") await bucket.delete(mediaKey(mediaId));
    await bucket.delete(key);
  }
  return live.sort((a, b) => a - b);
}
