/**
 * The Worker's bindings (wrangler.toml) and the configuration read from its
 * vars. Every setting, its default and its meaning is in docs/configuration.md;
 * keep the two in step.
 */
import type { ServerActor } from "./server.ts";
import type { User } from "./user.ts";
import type { Room } from "./room.ts";
import type { DeviceKeys } from "./device-keys.ts";
import type { RateLimiter } from "./rate-limiter.ts";
import type { Appservice } from "./appservice.ts";
import { parseRegistrationsVar } from "../lib/appservice/config.ts";
import { RegistrationError } from "../lib/appservice/registration.ts";
import type { AppserviceRegistry } from "../lib/appservice/registry.ts";
import type { SyncHub } from "./sync-hub.ts";
import {
  DEFAULT_BLOCKED_RANGES,
  type PreviewTargetPolicy,
  parseCidr,
  parseCidrList,
  parseUrlBlocklist,
} from "../lib/media/preview-target.ts";

export interface Env {
  SERVER: DurableObjectNamespace<ServerActor>;
  USER: DurableObjectNamespace<User>;
  ROOM: DurableObjectNamespace<Room>;
  DEVICE_KEYS: DurableObjectNamespace<DeviceKeys>;
  RATE_LIMITER: DurableObjectNamespace<RateLimiter>;
  /** One per appservice registration id: its transaction queue (party/appservice.ts). */
  APPSERVICE: DurableObjectNamespace<Appservice>;
  SYNC_HUB: DurableObjectNamespace<SyncHub>;
  /** Cross-room indexes only (aliases, room directory, user directory). */
  DB: D1Database;
  MEDIA: R2Bucket;
  SECRETS: KVNamespace;

  SERVER_NAME?: string;
  PUBLIC_BASEURL?: string;
  REGISTRATION_MODE?: string;
  REGISTRATION_SHARED_SECRET?: string;
  /** Appservice registrations as JSON (docs/appservices.md); a secret, since it holds tokens. */
  APPSERVICE_REGISTRATIONS?: string;
  /** Number of sync hub shards (docs/design/sync.md); default 16. */
  SYNC_HUB_SHARDS?: string;
  /** Simplified sliding sync (docs/configuration.md): connections kept per device (default 10). */
  SLIDING_SYNC_MAX_CONNECTIONS?: string;
  /** Events kept per User actor for sliding sync's hub fast path, all rooms together (default 2048). */
  SLIDING_SYNC_FAST_PATH_EVENTS?: string;
  /** Lists per request (default 100, the MSC's bound). */
  SLIDING_SYNC_MAX_LISTS?: string;
  /** Room subscriptions per request (default 500). */
  SLIDING_SYNC_MAX_SUBSCRIPTIONS?: string;
  /** Largest timeline_limit honoured; larger ones are capped (default 500). */
  SLIDING_SYNC_MAX_TIMELINE_LIMIT?: string;
  /** required_state entries per list or subscription (default 100). */
  SLIDING_SYNC_MAX_REQUIRED_STATE?: string;
  /** Sliding sync over WebSocket (docs/sliding-sync-websocket.md): sockets per user (default 10). */
  SLIDING_SYNC_WS_MAX_SOCKETS?: string;
  /** Largest frame a client may send, in bytes (default 262144). */
  SLIDING_SYNC_WS_MAX_FRAME_BYTES?: string;
  /** How often an idle socket's user is re-armed on the hub shards, in ms (default 30000). */
  SLIDING_SYNC_WS_REARM_MS?: string;
  /** Edge token-check cache, ms (party/edge/session-cache.ts; default 2000, 0 = off, at most 60000). */
  AUTH_CACHE_TTL_MS?: string;
  /** Tokens one edge isolate caches (default 10000). */
  AUTH_CACHE_MAX_ENTRIES?: string;
  /** Transaction IDs a room remembers for send idempotency, newest first (party/room/store.ts; default 10000). */
  ROOM_TXN_WINDOW?: string;
  RATE_LIMITS_ENABLED?: string;
  MAX_REQUEST_BYTES?: string;
  RATE_LOGIN_BURST?: string;
  RATE_LOGIN_PER_SECOND?: string;
  RATE_REGISTER_BURST?: string;
  RATE_REGISTER_PER_SECOND?: string;
  RATE_REPORT_BURST?: string;
  /** Events a user may send at once (messages, state, redactions), then RATE_MESSAGE_PER_SECOND. */
  RATE_MESSAGE_BURST?: string;
  RATE_MESSAGE_PER_SECOND?: string;
  RATE_REPORT_PER_SECOND?: string;
  /** Longest `reason` of a content report, in characters. */
  REPORT_REASON_MAX_LENGTH?: string;
  MAX_UPLOAD_BYTES?: string;
  MEDIA_MAX_PENDING_UPLOADS?: string;
  MAX_THUMBNAIL_PIXELS?: string;
  LEGACY_MEDIA_ENABLED?: string;
  /** URL previews (docs/configuration.md, docs/design/media.md): "false" makes the routes absent. */
  URL_PREVIEW_ENABLED?: string;
  /** Most bytes downloaded of a previewed image (default 10485760). */
  URL_PREVIEW_MAX_BYTES?: string;
  /** Most bytes of an HTML page read for its OpenGraph (default 1048576). */
  URL_PREVIEW_MAX_PAGE_BYTES?: string;
  /** Time for one fetch (page or image), headers and body, ms (default 10000). */
  URL_PREVIEW_TIMEOUT_MS?: string;
  /** Redirects followed per fetch (default 5). */
  URL_PREVIEW_MAX_REDIRECTS?: string;
  /** How long an answer is reused, seconds (default 3600, at least 60). */
  URL_PREVIEW_CACHE_TTL_SECONDS?: string;
  /** OpenGraph properties per answer (default 50) and longest value kept (default 1000 characters). */
  URL_PREVIEW_MAX_TAGS?: string;
  URL_PREVIEW_MAX_VALUE_LENGTH?: string;
  /** JSON array of {URL part: glob or ^regex} entries never fetched. */
  URL_PREVIEW_URL_BLOCKLIST?: string;
  /** Comma-separated CIDR ranges refused in addition to the built-in private ones. */
  URL_PREVIEW_IP_RANGE_BLOCKLIST?: string;
  /** Comma-separated CIDR ranges fetched even when blocked (tests use 127.0.0.0/8). */
  URL_PREVIEW_IP_RANGE_ALLOWLIST?: string;
  PUSH_ALLOW_INSECURE_GATEWAYS?: string;
  /** TURN server URIs for `/voip/turnServer`, comma-separated (`turn:` / `turns:`). */
  TURN_URIS?: string;
  /** Matches one room examines per `/search` request (bounds cost and `count`). */
  SEARCH_SCAN_LIMIT?: string;
  /** Events one room adds to its search index per `/search` request at most. */
  SEARCH_INDEX_BUDGET?: string;
  /** How long an OpenID token (`/openid/request_token`) is valid, in seconds. */
  OPENID_TOKEN_LIFETIME_SECONDS?: string;
  /** Presence (docs/design/presence.md): "false" turns it off, as Synapse's `presence.enabled: false`. */
  PRESENCE_ENABLED?: string;
  /** Online without activity this long → unavailable, ms (default 300000). */
  PRESENCE_IDLE_MS?: string;
  /** No sync for this long → offline, ms (default 30000). */
  PRESENCE_SYNC_OFFLINE_MS?: string;
  /** currently_active lasts this long after activity, ms (default 60000). */
  PRESENCE_ACTIVE_MS?: string;
  /** Longest status_msg, in characters (default 512). */
  PRESENCE_STATUS_MAX_LENGTH?: string;
  /** Members' presence one room gives an initial sync, and a sync in all, at most (default 100). */
  PRESENCE_SYNC_LIMIT?: string;
  /** Room IDs per `/mutual_rooms` page. */
  MUTUAL_ROOMS_PAGE_SIZE?: string;
  /** Most rooms one `/hierarchy` page returns (`limit` is capped to it). */
  SPACE_HIERARCHY_MAX_LIMIT?: string;
  /** Deepest `/hierarchy` walk (`max_depth` is capped to it; also its default). */
  SPACE_HIERARCHY_MAX_DEPTH?: string;
  /** Secret shared with the TURN server (TURN REST API, coturn `static-auth-secret`). */
  TURN_SHARED_SECRET?: string;
  TURN_USERNAME?: string;
  TURN_PASSWORD?: string;
  TURN_USER_LIFETIME_SECONDS?: string;
  /** `/.well-known/matrix/support` contacts: a JSON array of {role, matrix_id?, email_address?} (party/edge/support.ts). */
  SUPPORT_CONTACTS?: string;
  /** `/.well-known/matrix/support` support page URL. */
  SUPPORT_PAGE?: string;
}

export type RegistrationMode = "closed" | "token" | "open";

/** A token bucket: `burst` requests at once, refilled at `perSecond`. */
export interface RateSetting {
  burst: number;
  perSecond: number;
}

export type RateLimitedAction = "login" | "register" | "report" | "message";

export interface Config {
  serverName: string;
  publicBaseUrl: string;
  registrationMode: RegistrationMode;
  /** Shared secret for `/_synapse/admin/v1/register`; unset disables the endpoint. */
  registrationSharedSecret: string | undefined;
  rateLimitsEnabled: boolean;
  maxRequestBytes: number;
  rateLimits: Record<RateLimitedAction, RateSetting>;
  /** Largest media upload (binary bodies have their own limit, not maxRequestBytes). */
  maxUploadBytes: number;
  /** Async uploads (`/media/v1/create`) a user may have pending at once. */
  mediaMaxPendingUploads: number;
  /** Largest image (width × height) the server decodes to make a thumbnail. */
  maxThumbnailPixels: number;
  /** Serve the deprecated unauthenticated `/_matrix/media/v3/download` and `/thumbnail`. */
  legacyMediaEnabled: boolean;
  /** URL previews (`/media/preview_url`); null when URL_PREVIEW_ENABLED is false. */
  urlPreview: UrlPreviewConfig | null;
  /** Accept `http:` push gateway URLs (the spec says HTTPS); for local test gateways. */
  pushAllowInsecureGateways: boolean;
  /** Longest `reason` accepted by the /report endpoints, in characters. */
  reportReasonMaxLength: number;
  /** `/hierarchy`: largest page (`limit`) and deepest walk (`max_depth`). */
  spaceHierarchyMaxLimit: number;
  spaceHierarchyMaxDepth: number;
  /** Room IDs per `/mutual_rooms` page. */
  mutualRoomsPageSize: number;
  /** Lifetime of OpenID tokens, in seconds. */
  openidTokenLifetimeSeconds: number;
  /** Matches one room examines per `/search` request. */
  searchScanLimit: number;
  /** Events one room adds to its search index per `/search` request at most. */
  searchIndexBudget: number;
  presence: PresenceConfig;
  /** `/voip/turnServer`; null when no TURN server is configured (docs/configuration.md). */
  turn: TurnConfig | null;
}

/** URL preview settings (docs/configuration.md); the target checks are lib/media/preview-target.ts. */
export interface UrlPreviewConfig extends PreviewTargetPolicy {
  maxBytes: number;
  maxPageBytes: number;
  timeoutMs: number;
  maxRedirects: number;
  cacheTtlSeconds: number;
  maxTags: number;
  maxValueLength: number;
}

/**
 * A TURN server: credentials are either minted per user from a shared secret (the TURN
 * REST API convention, as Synapse's `turn_shared_secret`) or one static pair.
 */
export interface PresenceConfig {
  enabled: boolean;
  idleMs: number;
  syncOfflineMs: number;
  activeMs: number;
  statusMaxLength: number;
  syncLimit: number;
}

export interface TurnConfig {
  uris: string[];
  credentials: { sharedSecret: string } | { username: string; password: string };
  /** Lifetime of minted credentials, and the `ttl` clients are told, in seconds. */
  ttlSeconds: number;
}

export const DEFAULTS = {
  serverName: "localhost:8787",
  publicBaseUrl: "http://127.0.0.1:8787",
  registrationMode: "closed",
  rateLimitsEnabled: true,
  maxRequestBytes: 1024 * 1024,
  rateLimits: {
    login: { burst: 10, perSecond: 0.1 },
    register: { burst: 5, perSecond: 0.05 },
    report: { burst: 10, perSecond: 0.05 },
    // Synapse's rc_message defaults.
    message: { burst: 10, perSecond: 0.2 },
  },
  maxUploadBytes: 50 * 1024 * 1024,
  mediaMaxPendingUploads: 10,
  maxThumbnailPixels: 6_000_000,
  legacyMediaEnabled: false,
  urlPreview: {
    maxBytes: 10 * 1024 * 1024,
    maxPageBytes: 1024 * 1024,
    timeoutMs: 10_000,
    maxRedirects: 5,
    cacheTtlSeconds: 3600,
    maxTags: 50,
    maxValueLength: 1000,
  },
  pushAllowInsecureGateways: false,
  reportReasonMaxLength: 1000,
  turnUserLifetimeSeconds: 3600,
  spaceHierarchyMaxLimit: 100,
  spaceHierarchyMaxDepth: 10,
  mutualRoomsPageSize: 100,
  openidTokenLifetimeSeconds: 3600,
  searchScanLimit: 1000,
  searchIndexBudget: 5000,
  presence: { enabled: true, idleMs: 300_000, syncOfflineMs: 30_000, activeMs: 60_000, statusMaxLength: 512, syncLimit: 100 },
} as const satisfies Omit<Config, "registrationSharedSecret" | "turn" | "urlPreview"> & {
  turnUserLifetimeSeconds: number;
  urlPreview: Omit<UrlPreviewConfig, keyof PreviewTargetPolicy>;
};

/** A setting that cannot be understood; fails loudly rather than running with a guess. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

// Parsed once per env object (one per isolate), not per request.
const cache = new WeakMap<object, Config>();

export function loadConfig(env: Env): Config {
  let config = cache.get(env);
  if (!config) {
    config = parseConfig(env);
    // Registrations are checked with the rest: a bad one fails every request, loudly.
    registries.set(env, parseAppservices(env, config.serverName));
    cache.set(env, config);
  }
  return config;
}

const registries = new WeakMap<object, AppserviceRegistry>();

/** The appservice registrations (APPSERVICE_REGISTRATIONS), checked once per env object. */
export function loadAppservices(env: Env): AppserviceRegistry {
  loadConfig(env);
  return registries.get(env)!;
}

/** Same parser as the Node scripts (lib/appservice/config.ts); its errors name file and field. */
export function parseAppservices(env: Partial<Env>, serverName: string): AppserviceRegistry {
  try {
    return parseRegistrationsVar(env.APPSERVICE_REGISTRATIONS, serverName);
  } catch (e) {
    if (e instanceof RegistrationError) throw new ConfigError(`appservice registration ${e.message}`);
    throw e;
  }
}

export function parseConfig(env: Partial<Env>): Config {
  const serverName = text(env.SERVER_NAME) ?? DEFAULTS.serverName;
  if (!/^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(serverName)) {
    throw new ConfigError(`SERVER_NAME ${JSON.stringify(serverName)} is not a valid Matrix server name`);
  }
  const publicBaseUrl = (text(env.PUBLIC_BASEURL) ?? DEFAULTS.publicBaseUrl).replace(/\/+$/, "");
  if (!/^https?:\/\/[^/]+$/.test(publicBaseUrl)) {
    throw new ConfigError(`PUBLIC_BASEURL ${JSON.stringify(publicBaseUrl)} must be http(s)://host[:port] with no path`);
  }
  const mode = text(env.REGISTRATION_MODE) ?? DEFAULTS.registrationMode;
  if (mode !== "closed" && mode !== "token" && mode !== "open") {
    throw new ConfigError(`REGISTRATION_MODE must be closed, token or open (got ${JSON.stringify(mode)})`);
  }
  return {
    serverName,
    publicBaseUrl,
    registrationMode: mode,
    registrationSharedSecret: text(env.REGISTRATION_SHARED_SECRET),
    rateLimitsEnabled: bool("RATE_LIMITS_ENABLED", env.RATE_LIMITS_ENABLED, DEFAULTS.rateLimitsEnabled),
    maxRequestBytes: positive("MAX_REQUEST_BYTES", env.MAX_REQUEST_BYTES, DEFAULTS.maxRequestBytes, true),
    rateLimits: {
      login: {
        burst: positive("RATE_LOGIN_BURST", env.RATE_LOGIN_BURST, DEFAULTS.rateLimits.login.burst, true),
        perSecond: positive("RATE_LOGIN_PER_SECOND", env.RATE_LOGIN_PER_SECOND, DEFAULTS.rateLimits.login.perSecond),
      },
      register: {
        burst: positive("RATE_REGISTER_BURST", env.RATE_REGISTER_BURST, DEFAULTS.rateLimits.register.burst, true),
        perSecond: positive(
          "RATE_REGISTER_PER_SECOND",
          env.RATE_REGISTER_PER_SECOND,
          DEFAULTS.rateLimits.register.perSecond,
        ),
      },
      report: {
        burst: positive("RATE_REPORT_BURST", env.RATE_REPORT_BURST, DEFAULTS.rateLimits.report.burst, true),
        perSecond: positive("RATE_REPORT_PER_SECOND", env.RATE_REPORT_PER_SECOND, DEFAULTS.rateLimits.report.perSecond),
      },
      message: {
        burst: positive("RATE_MESSAGE_BURST", env.RATE_MESSAGE_BURST, DEFAULTS.rateLimits.message.burst, true),
        perSecond: positive("RATE_MESSAGE_PER_SECOND", env.RATE_MESSAGE_PER_SECOND, DEFAULTS.rateLimits.message.perSecond),
      },
    },
    maxUploadBytes: positive("MAX_UPLOAD_BYTES", env.MAX_UPLOAD_BYTES, DEFAULTS.maxUploadBytes, true),
    mediaMaxPendingUploads: positive(
      "MEDIA_MAX_PENDING_UPLOADS",
      env.MEDIA_MAX_PENDING_UPLOADS,
      DEFAULTS.mediaMaxPendingUploads,
      true,
    ),
    maxThumbnailPixels: positive("MAX_THUMBNAIL_PIXELS", env.MAX_THUMBNAIL_PIXELS, DEFAULTS.maxThumbnailPixels, true),
    legacyMediaEnabled: bool("LEGACY_MEDIA_ENABLED", env.LEGACY_MEDIA_ENABLED, DEFAULTS.legacyMediaEnabled),
    urlPreview: parseUrlPreview(env),
    pushAllowInsecureGateways: bool(
      "PUSH_ALLOW_INSECURE_GATEWAYS",
      env.PUSH_ALLOW_INSECURE_GATEWAYS,
      DEFAULTS.pushAllowInsecureGateways,
    ),
    reportReasonMaxLength: positive(
      "REPORT_REASON_MAX_LENGTH",
      env.REPORT_REASON_MAX_LENGTH,
      DEFAULTS.reportReasonMaxLength,
      true,
    ),
    spaceHierarchyMaxLimit: positive("SPACE_HIERARCHY_MAX_LIMIT", env.SPACE_HIERARCHY_MAX_LIMIT, DEFAULTS.spaceHierarchyMaxLimit, true),
    spaceHierarchyMaxDepth: positive("SPACE_HIERARCHY_MAX_DEPTH", env.SPACE_HIERARCHY_MAX_DEPTH, DEFAULTS.spaceHierarchyMaxDepth, true),
    mutualRoomsPageSize: positive("MUTUAL_ROOMS_PAGE_SIZE", env.MUTUAL_ROOMS_PAGE_SIZE, DEFAULTS.mutualRoomsPageSize, true),
    openidTokenLifetimeSeconds: positive(
      "OPENID_TOKEN_LIFETIME_SECONDS",
      env.OPENID_TOKEN_LIFETIME_SECONDS,
      DEFAULTS.openidTokenLifetimeSeconds,
      true,
    ),
    searchScanLimit: positive("SEARCH_SCAN_LIMIT", env.SEARCH_SCAN_LIMIT, DEFAULTS.searchScanLimit, true),
    searchIndexBudget: positive("SEARCH_INDEX_BUDGET", env.SEARCH_INDEX_BUDGET, DEFAULTS.searchIndexBudget, true),
    presence: {
      enabled: bool("PRESENCE_ENABLED", env.PRESENCE_ENABLED, DEFAULTS.presence.enabled),
      idleMs: positive("PRESENCE_IDLE_MS", env.PRESENCE_IDLE_MS, DEFAULTS.presence.idleMs, true),
      syncOfflineMs: positive("PRESENCE_SYNC_OFFLINE_MS", env.PRESENCE_SYNC_OFFLINE_MS, DEFAULTS.presence.syncOfflineMs, true),
      activeMs: positive("PRESENCE_ACTIVE_MS", env.PRESENCE_ACTIVE_MS, DEFAULTS.presence.activeMs, true),
      statusMaxLength: positive("PRESENCE_STATUS_MAX_LENGTH", env.PRESENCE_STATUS_MAX_LENGTH, DEFAULTS.presence.statusMaxLength, true),
      syncLimit: positive("PRESENCE_SYNC_LIMIT", env.PRESENCE_SYNC_LIMIT, DEFAULTS.presence.syncLimit, true),
    },
    turn: parseTurn(env),
  };
}

/** URL preview settings; unreadable ranges or blocklist entries are a configuration error. */
function parseUrlPreview(env: Partial<Env>): UrlPreviewConfig | null {
  if (!bool("URL_PREVIEW_ENABLED", env.URL_PREVIEW_ENABLED, true)) return null;
  const d = DEFAULTS.urlPreview;
  const list = <T>(name: string, parse: (v: string | undefined) => T): T => {
    try {
      return parse(env[name as keyof Env] as string | undefined);
    } catch (e) {
      throw new ConfigError(`${name}: ${(e as Error).message}`);
    }
  };
  const cacheTtlSeconds = positive("URL_PREVIEW_CACHE_TTL_SECONDS", env.URL_PREVIEW_CACHE_TTL_SECONDS, d.cacheTtlSeconds, true);
  // Answers are kept in KV, whose shortest expiry is 60 s.
  if (cacheTtlSeconds < 60) throw new ConfigError("URL_PREVIEW_CACHE_TTL_SECONDS must be at least 60");
  return {
    maxBytes: positive("URL_PREVIEW_MAX_BYTES", env.URL_PREVIEW_MAX_BYTES, d.maxBytes, true),
    maxPageBytes: positive("URL_PREVIEW_MAX_PAGE_BYTES", env.URL_PREVIEW_MAX_PAGE_BYTES, d.maxPageBytes, true),
    timeoutMs: positive("URL_PREVIEW_TIMEOUT_MS", env.URL_PREVIEW_TIMEOUT_MS, d.timeoutMs, true),
    maxRedirects: nonNegative("URL_PREVIEW_MAX_REDIRECTS", env.URL_PREVIEW_MAX_REDIRECTS, d.maxRedirects),
    cacheTtlSeconds,
    maxTags: positive("URL_PREVIEW_MAX_TAGS", env.URL_PREVIEW_MAX_TAGS, d.maxTags, true),
    maxValueLength: positive("URL_PREVIEW_MAX_VALUE_LENGTH", env.URL_PREVIEW_MAX_VALUE_LENGTH, d.maxValueLength, true),
    urlBlocklist: list("URL_PREVIEW_URL_BLOCKLIST", parseUrlBlocklist),
    blockedRanges: [
      ...DEFAULT_BLOCKED_RANGES.map((r) => parseCidr(r)!),
      ...list("URL_PREVIEW_IP_RANGE_BLOCKLIST", parseCidrList),
    ],
    allowedRanges: list("URL_PREVIEW_IP_RANGE_ALLOWLIST", parseCidrList),
  };
}

function nonNegative(name: string, v: string | undefined, dflt: number): number {
  const t = text(v);
  if (t === undefined) return dflt;
  if (!/^[0-9]{1,9}$/.test(t)) throw new ConfigError(`${name} must be a non-negative integer (got ${JSON.stringify(v)})`);
  return Number(t);
}

/** TURN settings; URIs without a secret or a username/password pair are a configuration error. */
function parseTurn(env: Partial<Env>): TurnConfig | null {
  const uris = (text(env.TURN_URIS) ?? "").split(",").map((u) => u.trim()).filter((u) => u !== "");
  const secret = text(env.TURN_SHARED_SECRET);
  const username = text(env.TURN_USERNAME);
  const password = text(env.TURN_PASSWORD);
  if (uris.length === 0) {
    if (secret !== undefined || username !== undefined || password !== undefined) {
      throw new ConfigError("TURN_SHARED_SECRET / TURN_USERNAME / TURN_PASSWORD are set but TURN_URIS is empty");
    }
    return null;
  }
  // The spec's pattern for these URIs (RFC 7065 turn:/turns:).
  for (const u of uris) {
    if (!/^turns?:[^\s]+$/.test(u)) throw new ConfigError(`TURN_URIS entry ${JSON.stringify(u)} must start with turn: or turns:`);
  }
  const ttlSeconds = positive("TURN_USER_LIFETIME_SECONDS", env.TURN_USER_LIFETIME_SECONDS, DEFAULTS.turnUserLifetimeSeconds, true);
  if (secret !== undefined) return { uris, credentials: { sharedSecret: secret }, ttlSeconds };
  if (username !== undefined && password !== undefined) return { uris, credentials: { username, password }, ttlSeconds };
  throw new ConfigError("TURN_URIS needs TURN_SHARED_SECRET, or both TURN_USERNAME and TURN_PASSWORD");
}

function text(v: string | undefined): string | undefined {
  const t = v?.trim();
  return t ? t : undefined;
}

function bool(name: string, v: string | undefined, dflt: boolean): boolean {
  const t = text(v)?.toLowerCase();
  if (t === undefined) return dflt;
  if (t === "true" || t === "1") return true;
  if (t === "false" || t === "0") return false;
  throw new ConfigError(`${name} must be true or false (got ${JSON.stringify(v)})`);
}

function positive(name: string, v: string | undefined, dflt: number, integer = false): number {
  const t = text(v);
  if (t === undefined) return dflt;
  const n = Number(t);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new ConfigError(`${name} must be a positive ${integer ? "integer" : "number"} (got ${JSON.stringify(v)})`);
  }
  return n;
}
