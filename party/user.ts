/**
 * User actor: one per local user, named by the full user ID. It owns the account
 * (password hash, admin flag, deactivation), devices, access/refresh/login tokens (as
 * SHA-256 hashes), user-interactive-auth sessions, profile, account data, filters, push rules
 * and pushers.
 *
 * Discipline: any async work (hashing, password checks, calls to the Server actor) happens
 * before a write; every write is one synchronous SQLite transaction that re-reads what it
 * depends on, so nothing can interleave between the read and the write of a row.
 * RPC methods throw MatrixError, which `rpcErrors` carries to the edge intact; UIA
 * challenges (401 with flows) are return values, not errors.
 */
import { Server, type Connection, type ConnectionContext, type WSMessage } from "partyserver";
import { constantTimeEqual, hashToken, mintToken, randomBase62 } from "../lib/access-token.ts";
import { MatrixError } from "../lib/errors.ts";
import type { JsonObject, JsonValue } from "../lib/json.ts";
import { dummyPasswordCheck, hashPassword, verifyPassword } from "../lib/password.ts";
import { decodeBase64Url, encodeBase64Url } from "../lib/base64.ts";
import {
  passwordStageUser,
  runUia,
  type AuthDict,
  type StageResult,
  type UiaConfig,
  type UiaSession,
  type UiaStore,
} from "../lib/uia.ts";
import { rpcErrors } from "./edge/http.ts";
import { loadConfig, type Env } from "./env.ts";
import { migrateOnStart } from "./migrations.ts";
import { deviceKeysActor, roomActor, serverActor } from "./stubs.ts";
import * as push from "./user/push-rules.ts";
import type { PusherChange } from "../lib/push/pusher.ts";
import type { CreateRoomRequest } from "../lib/room-create.ts";
import { UserRooms, type MembershipUpdate } from "./room/user-rooms.ts";
import { upgradeRoom } from "./room/upgrade.ts";
import type { UpgradeRequest } from "../lib/room-upgrade.ts";
import { UserSync } from "./sync/user-sync.ts";
import { PING as SOCKET_PING, PONG as SOCKET_PONG, SyncSockets } from "./sync/socket.ts";
import type { SyncParams } from "../lib/sync/request.ts";
import type { PublishedPosition } from "../lib/sync/position.ts";
import { deliverPushNotice, tellRoomsAboutPushers, type DeliveryResult, type PushNotice } from "./push/deliver.ts";
import { evictOtherOwners, evictTarget, PUSHER_EVICT, PUSHER_INDEX, writePusherIndex } from "./push/pusher-index.ts";
import { UserOutbox } from "./user/outbox.ts";
import { getRestriction, readRestrictions, setRestriction, type RestrictionKind } from "./user/restrictions.ts";
import { PRESENCE_COUNTERS, PRESENCE_OUTBOX, UserPresence } from "./user/presence.ts";
import type { PresenceRecord, PresenceState } from "../lib/presence.ts";
import schema from "../schema/user.sql";
import { recordActorName } from "./actor-name.ts";

/** Lifetime of an access token issued together with a refresh token. */
export const REFRESHABLE_TOKEN_LIFETIME_MS = 5 * 60 * 1000;
/** Lifetime of an m.login.token minted by /login/get_token. */
export const LOGIN_TOKEN_LIFETIME_MS = 2 * 60 * 1000;
/** Devices' last_seen is written at most this often, not on every request. */
const LAST_SEEN_GRANULARITY_MS = 60 * 1000;
/** The spec's cap on a whole profile. */
export const MAX_PROFILE_BYTES = 64 * 1024;

/** Who a valid access token belongs to. */
export interface Authenticated {
  userId: string;
  deviceId: string;
  admin: boolean;
  /** When the token expires (refreshable tokens), else null: the edge caches no longer (party/edge/session-cache.ts). */
  expiresTs: number | null;
  /** Admin restrictions in force (party/user/restrictions.ts); the edge enforces them. */
  locked: boolean;
  suspended: boolean;
}

/** The fields of a login/registration response that the actor produces. */
export interface Session {
  user_id: string;
  device_id: string;
  access_token: string;
  refresh_token?: string;
  expires_in_ms?: number;
}

export interface NewDevice {
  deviceId?: string;
  displayName?: string;
  /** The client supports refresh tokens: issue an expiring access token plus a refresh token. */
  refreshable: boolean;
}

export interface Device {
  device_id: string;
  display_name?: string;
  last_seen_ts?: number;
  last_seen_ip?: string;
}

/**
 * An operation behind UIA either needs another round (401 with `body`) or is done.
 * JSON documents cross RPC as text (`body` here, profiles, account data, filters): the
 * actor stores JSON text anyway, and workers-types cannot map the recursive JsonObject
 * type through its RPC stubs.
 */
export type UiaReply<T> = { done: false; body: string } | { done: true; value: T };

/** The one flow offered for operations that re-check the user's password. */
export const PASSWORD_UIA: UiaConfig = { flows: [{ stages: ["m.login.password"] }] };

type Row = Record<string, SqlStorageValue>;
interface AccountRow extends Row {
  user_id: string;
  password_hash: string | null;
  admin: number;
  deactivated_ts: number | null;
}
interface TokenRow extends Row {
  id: number;
  device_id: string;
  access_hash: string | null;
  refresh_hash: string | null;
  expires_ts: number | null;
  parent_id: number | null;
}

/** A UIA round that completed: `commit` deletes the session, inside the operation's transaction. */
interface UiaPassed {
  done: true;
  commit(): void;
  registrationToken?: string;
}

export class User extends Server<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    recordActorName(ctx);
    migrateOnStart(ctx, schema);
  }

  // ---- accounts ---------------------------------------------------------------------

  /** Whether an account (active or deactivated) holds this user ID. */
  async isRegistered(): Promise<boolean> {
    return this.#account() !== null;
  }

  /**
   * Registration behind UIA. `uia` carries the flows the edge chose for the server's
   * registration mode; registration-token stages are checked with the Server actor, and a
   * token use is counted only once the account is about to be created. (If creation then
   * loses a race for the same user ID, that use is spent: tokens are never over-used.)
   */
  async register(p: {
    password: string | null;
    auth: unknown;
    uia: UiaConfig;
    device: NewDevice;
    inhibitLogin: boolean;
    /** A session the client opened before choosing this username (see takeUiaSession). */
    imported: UiaSession | null;
  }): Promise<UiaReply<Session | { user_id: string }>> {
    return rpcErrors(async () => {
      if (this.#account()) throw new MatrixError("M_USER_IN_USE", 400, "User ID already taken");
      const step = await this.#uia("register", p.uia, p.auth, p.imported);
      if (!step.done) return step;
      // Checked only now: clients may fetch the flows with an empty body first.
      if (p.password === null) throw new MatrixError("M_MISSING_PARAM", 400, "Missing 'password'");
      const hash = await hashPassword(p.password);
      const tokens = p.inhibitLogin ? null : await issue(this.#localpart(), p.device.refreshable);
      // Counted as used only now that registration is about to succeed (spec: token-authenticated registration).
      if (step.registrationToken && !(await serverActor(this.env).useRegistrationToken(step.registrationToken))) {
        throw new MatrixError("M_FORBIDDEN", 403, "Registration token is no longer valid");
      }
      return { done: true, value: this.#create(hash, false, p.device, tokens, step) };
    });
  }

  /** Creation without UIA, for the shared-secret admin API (the edge checked the HMAC). */
  async adminRegister(p: { password: string; admin: boolean; displayname?: string }): Promise<Session> {
    return rpcErrors(async () => {
      const hash = await hashPassword(p.password);
      const tokens = await issue(this.#localpart(), false);
      if (this.#account()) throw new MatrixError("M_USER_IN_USE", 400, "User ID already taken");
      return this.#create(hash, p.admin, { refreshable: false }, tokens, undefined, p.displayname) as Session;
    });
  }

  #create(
    hash: string | null,
    admin: boolean,
    device: NewDevice,
    tokens: Issued | null,
    uia?: UiaPassed,
    displayname?: string,
  ): Session | { user_id: string } {
    return this.ctx.storage.transactionSync(() => {
      if (this.#account()) throw new MatrixError("M_USER_IN_USE", 400, "User ID already taken");
      uia?.commit();
      this.#sql(
        "INSERT INTO account (id, user_id, password_hash, admin, created_ts) VALUES (1, ?, ?, ?, ?)",
        this.name,
        hash,
        admin ? 1 : 0,
        Date.now(),
      );
      // Without a chosen one, the display name starts as the localpart (as Synapse does).
      this.#sql("INSERT INTO profile (key, value) VALUES ('displayname', ?)", JSON.stringify(displayname || this.#localpart()));
      return tokens ? this.#startSession(device, tokens) : { user_id: this.name };
    });
  }

  // ---- appservices (party/edge/auth.ts, party/edge/appservice.ts) ------------------------

  /** m.login.application_service registration: no password, no UIA (the edge checked as_token and namespace). */
  async appserviceRegister(p: { device: NewDevice; inhibitLogin: boolean }): Promise<Session | { user_id: string }> {
    return rpcErrors(async () => {
      if (this.#account()) throw new MatrixError("M_USER_IN_USE", 400, "User ID already taken");
      const tokens = p.inhibitLogin ? null : await issue(this.#localpart(), p.device.refreshable);
      return this.#create(null, false, p.device, tokens);
    });
  }

  /** An appservice user's account state; with `create`, an absent account is made first (the sender, on first use). */
  async appserviceAccount(create: boolean): Promise<"active" | "deactivated" | "absent"> {
    return rpcErrors(() => {
      if (!this.#account() && create) this.#create(null, false, { refreshable: false }, null);
      const a = this.#account();
      return !a ? "absent" : a.deactivated_ts ? "deactivated" : "active";
    });
  }

  /** m.login.application_service login: a new device and access token for an active account. */
  async appserviceLogin(device: NewDevice): Promise<Session> {
    return rpcErrors(async () => {
      const tokens = await issue(this.#localpart(), device.refreshable);
      return this.ctx.storage.transactionSync(() => {
        const a = this.#account();
        if (!a) throw new MatrixError("M_FORBIDDEN", 403, "This user is not registered");
        if (a.deactivated_ts) throw deactivated();
        return this.#startSession(device, tokens);
      });
    });
  }

  /** m.login.password: `password` checked against the stored hash. */
  async loginWithPassword(password: string, device: NewDevice): Promise<Session> {
    return rpcErrors(async () => {
      const account = this.#account();
      if (!account?.password_hash) {
        await dummyPasswordCheck(password);
        if (account?.deactivated_ts) throw deactivated();
        throw new MatrixError("M_FORBIDDEN", 403, "Invalid username or password");
      }
      const check = await verifyPassword(password, account.password_hash);
      if (!check.ok) throw new MatrixError("M_FORBIDDEN", 403, "Invalid username or password");
      const rehash = check.needsRehash ? await hashPassword(password) : null;
      const tokens = await issue(this.#localpart(), device.refreshable);
      return this.ctx.storage.transactionSync(() => {
        const now = this.#account();
        if (!now || now.deactivated_ts) throw deactivated();
        if (now.password_hash !== account.password_hash) {
          throw new MatrixError("M_FORBIDDEN", 403, "Invalid username or password");
        }
        if (rehash) this.#sql("UPDATE account SET password_hash = ? WHERE id = 1", rehash);
        return this.#startSession(device, tokens);
      });
    });
  }

  /** m.login.token: a single-use token from /login/get_token. */
  async loginWithToken(token: string, device: NewDevice): Promise<Session> {
    return rpcErrors(async () => {
      const hash = await hashToken(token);
      const tokens = await issue(this.#localpart(), device.refreshable);
      return this.ctx.storage.transactionSync(() => {
        const row = this.#one<{ hash: string; expires_ts: number }>(
          "SELECT hash, expires_ts FROM login_tokens WHERE hash = ?",
          hash,
        );
        if (!row || !constantTimeEqual(row.hash, hash)) throw new MatrixError("M_FORBIDDEN", 403, "Invalid login token");
        this.#sql("DELETE FROM login_tokens WHERE hash = ?", hash); // single use, even if expired
        if (row.expires_ts <= Date.now()) throw new MatrixError("M_FORBIDDEN", 403, "Login token has expired");
        if (this.#account()?.deactivated_ts) throw deactivated();
        return this.#startSession(device, tokens);
      });
    });
  }

  /** /login/get_token: UIA (always a fresh round), then a short-lived single-use token. */
  async getLoginToken(auth: unknown): Promise<UiaReply<{ login_token: string; expires_in_ms: number }>> {
    return rpcErrors(async () => {
      const step = await this.#uia("get_token", PASSWORD_UIA, auth);
      if (!step.done) return step;
      const token = mintToken("login", this.#localpart());
      const hash = await hashToken(token);
      this.ctx.storage.transactionSync(() => {
        step.commit();
        this.#sql("DELETE FROM login_tokens WHERE expires_ts <= ?", Date.now());
        this.#sql("INSERT INTO login_tokens (hash, expires_ts) VALUES (?, ?)", hash, Date.now() + LOGIN_TOKEN_LIFETIME_MS);
      });
      return { done: true, value: { login_token: token, expires_in_ms: LOGIN_TOKEN_LIFETIME_MS } };
    });
  }

  // ---- tokens -----------------------------------------------------------------------

  /**
   * Resolve an access token (by its SHA-256) to its user and device. Revocation is a row
   * deletion, so a revoked token fails on its very next use. Expired tokens fail with
   * soft_logout so the client refreshes instead of discarding its session.
   */
  async authenticate(tokenHash: string, ip?: string): Promise<Authenticated> {
    return rpcErrors(() =>
      this.ctx.storage.transactionSync(() => {
        const row = this.#one<TokenRow>("SELECT * FROM tokens WHERE access_hash = ?", tokenHash);
        if (!row?.access_hash || !constantTimeEqual(row.access_hash, tokenHash)) throw unknownToken(false);
        const now = Date.now();
        if (row.expires_ts !== null && row.expires_ts <= now) throw unknownToken(true);
        const account = this.#account();
        if (!account || account.deactivated_ts) throw unknownToken(false);
        // First use of a refreshed token retires the pair it replaced (spec: /refresh).
        if (row.parent_id !== null) this.#retireParent(row);
        const device = this.#one<{ last_seen_ts: number | null }>(
          "SELECT last_seen_ts FROM devices WHERE device_id = ?",
          row.device_id,
        );
        if (device && (device.last_seen_ts ?? 0) < now - LAST_SEEN_GRANULARITY_MS) {
          this.#sql("UPDATE devices SET last_seen_ts = ?, last_seen_ip = ? WHERE device_id = ?", now, ip ?? null, row.device_id);
        }
        const restricted = readRestrictions(this.ctx.storage.sql);
        return { userId: account.user_id, deviceId: row.device_id, admin: account.admin === 1, expiresTs: row.expires_ts, ...restricted };
      }),
    );
  }

  /**
   * /refresh: a new access+refresh pair for the refresh token's device. The old access
   * token stops at once; the old refresh token stays usable until the new pair is first
   * used (so a client that lost the response can retry), then it is revoked.
   */
  async refresh(refreshToken: string): Promise<{ access_token: string; refresh_token: string; expires_in_ms: number }> {
    return rpcErrors(async () => {
      const hash = await hashToken(refreshToken);
      const tokens = await issue(this.#localpart(), true);
      return this.ctx.storage.transactionSync(() => {
        const row = this.#one<TokenRow>("SELECT * FROM tokens WHERE refresh_hash = ?", hash);
        if (!row?.refresh_hash || !constantTimeEqual(row.refresh_hash, hash)) throw unknownToken(false);
        if (this.#account()?.deactivated_ts) throw unknownToken(false);
        if (row.parent_id !== null) this.#retireParent(row);
        // An earlier refresh from this same token whose result was never used is discarded.
        this.#sql("DELETE FROM tokens WHERE parent_id = ?", row.id);
        this.#sql("UPDATE tokens SET access_hash = NULL WHERE id = ?", row.id);
        this.#insertToken(row.device_id, tokens, row.id);
        return { access_token: tokens.access, refresh_token: tokens.refresh!, expires_in_ms: tokens.lifetime! };
      });
    });
  }

  /** /logout: the device and all its tokens go. */
  async logout(deviceId: string): Promise<void> {
    this.ctx.storage.transactionSync(() => this.#deleteDevices([deviceId]));
    await this.#dropDeviceKeys([deviceId]);
  }

  /** /logout/all: every device and token of the user. */
  async logoutAll(): Promise<void> {
    this.ctx.storage.transactionSync(() => {
      this.#sql("DELETE FROM tokens");
      this.#sql("DELETE FROM devices");
      this.#sql("DELETE FROM login_tokens");
      push.deleteAllPushers(this.ctx.storage.sql);
    });
    await this.#dropDeviceKeys(null);
  }

  /** Admin lock/suspension of this account (GET/PUT /admin/lock|suspend; party/user/restrictions.ts). */
  async getRestriction(kind: RestrictionKind, callerIsTarget: boolean): Promise<boolean> {
    return rpcErrors(() => getRestriction(this.ctx.storage.sql, kind, callerIsTarget));
  }

  async setRestriction(kind: RestrictionKind, on: boolean, callerIsTarget: boolean): Promise<void> {
    return rpcErrors(() => this.ctx.storage.transactionSync(() => setRestriction(this.ctx.storage.sql, kind, on, callerIsTarget, Date.now())));
  }

  // ---- password and deactivation ------------------------------------------------------

  /** /account/password behind UIA; `keepDevice` is the requesting device (if any). */
  async changePassword(p: {
    auth: unknown;
    newPassword: string;
    logoutDevices: boolean;
    keepDevice: string | null;
  }): Promise<UiaReply<Record<string, never>>> {
    return rpcErrors(async () => {
      const step = await this.#uia("password", PASSWORD_UIA, p.auth);
      if (!step.done) return step;
      const hash = await hashPassword(p.newPassword);
      let others: string[] = [];
      this.ctx.storage.transactionSync(() => {
        step.commit();
        this.#sql("UPDATE account SET password_hash = ? WHERE id = 1", hash);
        if (p.logoutDevices) {
          others = this.#all<{ device_id: string }>("SELECT device_id FROM devices")
            .map((d) => d.device_id)
            .filter((d) => d !== p.keepDevice);
          this.#deleteDevices(others);
          this.#sql("DELETE FROM login_tokens");
        }
      });
      await this.#dropDeviceKeys(others);
      return { done: true, value: {} };
    });
  }

  /**
   * /account/deactivate behind UIA. Irreversible: tokens, devices and sessions go, the
   * password hash and profile are wiped; with `erase` also account data and filters.
   */
  async deactivate(p: { auth: unknown; erase: boolean }): Promise<UiaReply<{ id_server_unbind_result: "no-support" }>> {
    return rpcErrors(async () => {
      const step = await this.#uia("deactivate", PASSWORD_UIA, p.auth);
      if (!step.done) return step;
      this.ctx.storage.transactionSync(() => {
        step.commit();
        this.#sql("UPDATE account SET deactivated_ts = ?, password_hash = NULL WHERE id = 1", Date.now());
        for (const t of ["tokens", "devices", "login_tokens", "uia_sessions", "profile"]) this.#sql(`DELETE FROM ${t}`);
        push.deleteAllPushers(this.ctx.storage.sql);
        if (p.erase) {
          this.#sql("DELETE FROM account_data");
          this.#sql("DELETE FROM filters");
          push.deletePushRules(this.ctx.storage.sql);
        }
      });
      // Every E2EE key goes, cross-signing and backups included (docs/design/e2ee.md).
      this.#syncer().devicesDeleted(null);
      this.#sockets().devicesGone(null);
      await deviceKeysActor(this.env, this.name)
        .accountDeactivated()
        .catch((e: unknown) => console.error("dropping the E2EE keys of a deactivated account", e));
      return { done: true, value: { id_server_unbind_result: "no-support" } };
    });
  }

  // ---- rooms (party/room/user-rooms.ts) ------------------------------------------------

  /** POST /createRoom (body validated by the edge). */
  async createRoom(req: CreateRoomRequest): Promise<{ room_id: string }> {
    return rpcErrors(() => this.#rooms().create(req));
  }

  /** POST /rooms/{roomId}/upgrade (body validated by the edge); the upgrader joins the new room. */
  async upgradeRoom(roomId: string, req: UpgradeRequest): Promise<{ replacement_room: string }> {
    return rpcErrors(async () => {
      const rooms = this.#rooms();
      const r = await upgradeRoom(this.env, this.name, rooms.profile(), roomId, req);
      rooms.record(r);
      return { replacement_room: r.room_id };
    });
  }

  async joinRoom(roomId: string, reason?: string): Promise<{ room_id: string }> {
    return rpcErrors(() => this.#rooms().join(roomId, reason));
  }

  async leaveRoom(roomId: string, reason?: string): Promise<void> {
    return rpcErrors(() => this.#rooms().leave(roomId, reason));
  }

  async knockRoom(roomId: string, reason?: string): Promise<{ room_id: string }> {
    return rpcErrors(() => this.#rooms().knock(roomId, reason));
  }

  async forgetRoom(roomId: string): Promise<void> {
    return rpcErrors(() => this.#rooms().forget(roomId));
  }

  async joinedRooms(): Promise<string[]> {
    return this.#rooms().joinedRooms();
  }

  /** From a room's outbox: this user's membership there changed. */
  async noteRoomMembership(u: MembershipUpdate): Promise<void> {
    this.#rooms().record(u);
    this.#syncer().notify();
    // A new room learns that this member has pushers (party/room/push.ts).
    if (u.membership === "join" && this.#hasPushers()) await tellRoomsAboutPushers(this.env, this.name, [u.room_id], true);
    // …and this member's presence, for members already there (not awaited: no room → user → room wait).
    if (u.membership === "join") this.#presence().joinedRoom(u.room_id);
  }

  // ---- sync (party/sync/user-sync.ts) ---------------------------------------------------

  /** GET /sync for one device; the response as JSON text (may wait up to the timeout). */
  async sync(deviceId: string, params: SyncParams): Promise<string> {
    // set_presence (default online) marks the user while the sync runs (party/user/presence.ts).
    const marks = await this.#presence().syncStarted(params.setPresence ?? "online");
    try {
      return await rpcErrors(() => this.#syncer().sync(deviceId, params));
    } finally {
      if (marks) await this.#presence().syncEnded();
    }
  }

  /** From a sync hub shard: one of this user's rooms moved while a sync was armed. */
  async syncWake(_rooms: Array<[string, PublishedPosition]>): Promise<void> {
    this.#syncer().wake();
  }

  /** From this user's DeviceKeys actor (to-device, device lists): waiting syncs look again. */
  async syncNotify(): Promise<void> {
    this.#syncer().notify();
  }

  /**
   * Simplified sliding sync (MSC4186, party/sync/sliding/) for one device: the response
   * JSON text, its pos, and whether nothing was new. Called by the HTTP route and by the
   * WebSocket transport; `timeoutMs` 0 answers at once.
   */
  async slidingSync(
    deviceId: string,
    requestJson: string,
    pos: string | null,
    timeoutMs: number,
    setPresence?: PresenceState,
  ): Promise<{ body: string; pos: string; empty: boolean }> {
    // Over HTTP a sliding sync marks presence as /sync does (set_presence, default online);
    // the WebSocket transport passes none and marks nothing (party/user/presence.ts).
    const marks = setPresence === undefined ? false : await this.#presence().syncStarted(setPresence);
    try {
      return await rpcErrors(() => this.#syncer().sliding().request(deviceId, requestJson, pos, timeoutMs));
    } finally {
      if (marks) await this.#presence().syncEnded();
    }
  }

  #sync: UserSync | undefined;
  #syncer(): UserSync {
    if (!this.#sync) {
      this.#sync = new UserSync(this.ctx, this.env, this.name, this.#presence());
      // Sync sockets push from the same signal that wakes long-polls (party/sync/socket.ts).
      this.#sync.onChange(() => this.#sockets().changed());
    }
    return this.#sync;
  }

  #rooms(): UserRooms {
    return new UserRooms(this.ctx, this.env, this.name);
  }

  // ---- sliding sync over WebSocket (party/sync/socket.ts, docs/sliding-sync-websocket.md) --

  /** Sockets hibernate: an idle one keeps no instance in memory. */
  static override options = { hibernate: true };

  #socketHub: SyncSockets | undefined;
  #sockets(): SyncSockets {
    return (this.#socketHub ??= new SyncSockets(this.env, {
      userId: this.name,
      storage: this.ctx.storage,
      // A locked account may not open a socket either (docs/design/client-extras.md).
      authenticate: async (tokenHash) => {
        const a = await this.authenticate(tokenHash);
        if (a.locked) throw new MatrixError("M_USER_LOCKED", 401, "This account has been locked", { soft_logout: true });
        return a;
      },
      slidingSync: (deviceId, requestJson, pos, timeoutMs) => this.slidingSync(deviceId, requestJson, pos, timeoutMs),
      connections: () => this.getConnections(),
    }));
  }

  override onConnect(connection: Connection, ctx: ConnectionContext): void {
    // Keep-alive pings are answered by the runtime without waking a hibernated actor.
    this.ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(SOCKET_PING, SOCKET_PONG));
    this.#sockets().onConnect(connection, ctx);
  }

  override onMessage(connection: Connection, message: WSMessage): Promise<void> {
    return this.#sockets().onMessage(connection, message);
  }

  override onClose(connection: Connection): void {
    this.#sockets().onClose(connection);
  }

  // ---- presence (party/user/presence.ts, docs/design/presence.md) ------------------------

  #userPresence: UserPresence | undefined;
  #presence(): UserPresence {
    return (this.#userPresence ??= new UserPresence({
      storage: this.ctx.storage,
      config: () => loadConfig(this.env).presence,
      joinedRooms: () => this.#rooms().joinedRooms(),
      queue: (roomId, rec) => this.#outbox().add(PRESENCE_OUTBOX, roomId, { ...rec }),
      deliver: () => this.#outbox().deliver(),
      notify: () => this.#sync?.wake(),
    }));
  }

  /** GET /presence/{userId}/status (the edge checked who may ask). */
  async getPresence(): Promise<string> {
    return JSON.stringify(this.#presence().status());
  }

  /** PUT /presence/{userId}/status by the user themself (the edge checked the body). */
  async setPresence(presence: PresenceState, statusMsg: string | null): Promise<void> {
    await this.#presence().put(presence, statusMsg);
  }

  /** From the edge: the user sent an event (throttled there; party/edge/presence.ts). */
  async presenceActive(): Promise<void> {
    await this.#presence().activity();
  }

  // ---- devices ----------------------------------------------------------------------

  async listDevices(): Promise<Device[]> {
    return this.#all<Row>("SELECT * FROM devices ORDER BY created_ts, device_id").map(toDevice);
  }

  async getDevice(deviceId: string): Promise<Device> {
    return rpcErrors(() => {
      const row = this.#one<Row>("SELECT * FROM devices WHERE device_id = ?", deviceId);
      if (!row) throw new MatrixError("M_NOT_FOUND", 404, "Unknown device");
      return toDevice(row);
    });
  }

  async updateDevice(deviceId: string, displayName: string | undefined): Promise<void> {
    return rpcErrors(() => {
      if (!this.#one("SELECT 1 AS x FROM devices WHERE device_id = ?", deviceId)) {
        throw new MatrixError("M_NOT_FOUND", 404, "Unknown device");
      }
      if (displayName !== undefined) {
        this.#sql("UPDATE devices SET display_name = ? WHERE device_id = ?", displayName, deviceId);
      }
    });
  }

  /** DELETE /devices/{id} (`mustExist`) and /delete_devices, behind UIA bound to the ID set. */
  async deleteDevices(p: { deviceIds: string[]; auth: unknown; mustExist: boolean }): Promise<UiaReply<Record<string, never>>> {
    return rpcErrors(async () => {
      if (p.mustExist && !this.#one("SELECT 1 AS x FROM devices WHERE device_id = ?", p.deviceIds[0] ?? "")) {
        throw new MatrixError("M_NOT_FOUND", 404, "Unknown device");
      }
      const op = `delete_devices:${JSON.stringify([...new Set(p.deviceIds)].sort())}`;
      const step = await this.#uia(op, PASSWORD_UIA, p.auth);
      if (!step.done) return step;
      this.ctx.storage.transactionSync(() => {
        step.commit();
        this.#deleteDevices(p.deviceIds);
      });
      await this.#dropDeviceKeys(p.deviceIds);
      return { done: true, value: {} };
    });
  }

  /**
   * For the DeviceKeys actor (MSC3814 dehydrated devices): deletes device `remove` and creates
   * `create` as a device without tokens, in one transaction. The DeviceKeys actor handles the
   * devices' keys itself, so no deletion hook runs here.
   */
  async replaceDehydratedDevice(create: { deviceId: string; displayName: string | null } | null, remove: string | null): Promise<void> {
    return rpcErrors(() =>
      this.ctx.storage.transactionSync(() => {
        if (remove !== null) this.#deleteDevices([remove]);
        if (create) {
          if (this.#one("SELECT 1 AS x FROM devices WHERE device_id = ?", create.deviceId)) {
            throw new MatrixError("M_INVALID_PARAM", 400, "A device with this ID already exists");
          }
          this.#sql("INSERT INTO devices (device_id, display_name, created_ts) VALUES (?, ?, ?)", create.deviceId, create.displayName, Date.now());
        }
      }),
    );
  }

  /** A password UIA round for an operation another actor performs (cross-signing key replacement). */
  async passwordUia(operation: string, auth: unknown): Promise<UiaReply<Record<string, never>>> {
    return rpcErrors(async () => {
      const step = await this.#uia(operation, PASSWORD_UIA, auth);
      if (!step.done) return step;
      this.ctx.storage.transactionSync(() => step.commit());
      return { done: true, value: {} };
    });
  }

  /** Deleted devices lose their E2EE keys and to-device inboxes (null: all devices). After commit. */
  async #dropDeviceKeys(deviceIds: string[] | null): Promise<void> {
    if (deviceIds !== null && deviceIds.length === 0) return;
    this.#syncer().devicesDeleted(deviceIds);
    this.#sockets().devicesGone(deviceIds);
    try {
      await deviceKeysActor(this.env, this.name).devicesDeleted(deviceIds);
    } catch (e) {
      // The devices are gone already; /keys/query serves only existing devices' keys.
      console.error("dropping device keys", e);
    }
  }

  // ---- profile ----------------------------------------------------------------------

  /** The whole profile as JSON text; 404 for users without an active account. */
  async getProfile(): Promise<string> {
    return rpcErrors(() => {
      const account = this.#account();
      if (!account || account.deactivated_ts) throw new MatrixError("M_NOT_FOUND", 404, "Profile not found");
      const out: JsonObject = {};
      for (const r of this.#all<{ key: string; value: string }>("SELECT key, value FROM profile ORDER BY key")) {
        out[r.key] = JSON.parse(r.value) as JsonValue;
      }
      return JSON.stringify(out);
    });
  }

  /** Set one field (the edge validated key and value); the whole profile stays under 64 KiB. */
  async setProfileField(key: string, value: JsonValue): Promise<void> {
    return rpcErrors(() =>
      this.ctx.storage.transactionSync(() => {
        const account = this.#account();
        if (!account || account.deactivated_ts) throw new MatrixError("M_FORBIDDEN", 403, "Account is deactivated");
        this.#sql("INSERT INTO profile (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, JSON.stringify(value));
        const profile: Record<string, JsonValue> = {};
        for (const r of this.#all<{ key: string; value: string }>("SELECT key, value FROM profile")) profile[r.key] = JSON.parse(r.value);
        if (new TextEncoder().encode(JSON.stringify(profile)).length > MAX_PROFILE_BYTES) {
          // Thrown inside the transaction: the insert above is rolled back.
          throw new MatrixError("M_PROFILE_TOO_LARGE", 400, "Profile would exceed 64 KiB");
        }
        this.#queueProfile(key);
      }),
    ).then(() => this.#outbox().deliver());
  }

  /**
   * Member events carry displayname and avatar_url: a change of either queues a new member
   * event for every joined room in the change's transaction (party/user/outbox.ts, kind
   * `profile`), so it reaches them even if this actor stops right after.
   */
  #queueProfile(key: string): void {
    if (key === "displayname" || key === "avatar_url") this.#rooms().queueProfile((roomId) => this.#outbox().add("profile", roomId));
  }

  async deleteProfileField(key: string): Promise<void> {
    this.ctx.storage.transactionSync(() => {
      this.#sql("DELETE FROM profile WHERE key = ?", key);
      this.#queueProfile(key);
    });
    await this.#outbox().deliver();
  }

  // ---- the user's outbox (party/user/outbox.ts) ------------------------------------------

  #userOutbox: UserOutbox | undefined;
  #outbox(): UserOutbox {
    return (this.#userOutbox ??= new UserOutbox(this.ctx.storage, {
      profile: (roomId) => this.#rooms().deliverProfile(roomId),
      [PUSHER_INDEX]: () => writePusherIndex(this.env, this.ctx.storage.sql, this.name),
      [PUSHER_EVICT]: (target) => evictOtherOwners(this.env, this.name, target),
      [PRESENCE_OUTBOX]: async (roomId, rec) => {
        PRESENCE_COUNTERS.roomNotices++;
        await roomActor(this.env, roomId).presenceChanged(this.name, rec as unknown as PresenceRecord);
      },
    }));
  }

  override async onAlarm(): Promise<void> {
    try {
      await this.#outbox().deliver();
    } finally {
      try {
        // Sliding-sync sockets share the one alarm: re-arm idle ones (party/sync/socket.ts).
        await this.#sockets().alarm();
      } finally {
        // Presence transitions (idle, offline) share it too, and re-arm for the next one.
        await this.#presence().alarm();
      }
    }
  }

  // ---- account data and filters ---------------------------------------------------------

  /** Global account data has roomId null; the content as JSON text. 404 when never set. */
  async getAccountData(roomId: string | null, type: string): Promise<string> {
    return rpcErrors(() => {
      const row = this.#one<{ content: string }>(
        "SELECT content FROM account_data WHERE room_id = ? AND type = ?",
        roomId ?? "",
        type,
      );
      if (!row) throw new MatrixError("M_NOT_FOUND", 404, "Account data not found");
      return row.content;
    });
  }

  async setAccountData(roomId: string | null, type: string, content: JsonObject): Promise<void> {
    this.ctx.storage.transactionSync(() => {
      const pos = this.#bump("account_data");
      this.#sql(
        "INSERT INTO account_data (room_id, type, content, stream_pos) VALUES (?, ?, ?, ?) " +
          "ON CONFLICT (room_id, type) DO UPDATE SET content = excluded.content, stream_pos = excluded.stream_pos",
        roomId ?? "",
        type,
        JSON.stringify(content),
        pos,
      );
    });
    this.#syncer().notify();
  }

  /** Store a validated filter; IDs are decimal strings, never starting with "{". */
  async createFilter(filter: JsonObject): Promise<string> {
    const row = this.#one<{ filter_id: number }>(
      "INSERT INTO filters (filter) VALUES (?) RETURNING filter_id",
      JSON.stringify(filter),
    );
    return String(row!.filter_id);
  }

  async getFilter(filterId: string): Promise<string> {
    return rpcErrors(() => {
      const row = /^\d{1,15}$/.test(filterId)
        ? this.#one<{ filter: string }>("SELECT filter FROM filters WHERE filter_id = ?", Number(filterId))
        : null;
      if (!row) throw new MatrixError("M_NOT_FOUND", 404, "No such filter");
      return row.filter;
    });
  }

  // ---- push rules and pushers (party/user/push-rules.ts) ---------------------------------

  /** `{ global: ruleset }` as JSON text: GET /pushrules/, the m.push_rules content, and what evaluation uses. */
  async getPushRules(): Promise<string> {
    return JSON.stringify(push.pushRulesContent(this.name, push.loadPushRules(this.ctx.storage.sql)));
  }

  /** One change to the push rules (the edge validated the body); publishes m.push_rules. */
  async editPushRules(edit: push.PushRuleEdit): Promise<void> {
    return rpcErrors(() =>
      this.ctx.storage.transactionSync(() => {
        const sql = this.ctx.storage.sql;
        push.savePushRules(sql, this.name, push.applyPushRuleEdit(push.loadPushRules(sql), edit));
      }),
    );
  }

  /** GET /pushers: `{ pushers: [...] }` as JSON text. */
  async getPushers(): Promise<string> {
    return JSON.stringify({ pushers: push.listPushers(this.ctx.storage.sql) });
  }

  /** POST /pushers/set (validated by the edge); the pusher is tied to the calling device. */
  async setPusher(change: PusherChange, deviceId: string): Promise<void> {
    const had = this.#hasPushers();
    this.ctx.storage.transactionSync(() => {
      // A trigger on `pushers` queues the D1 index rewrite (party/push/pusher-index.ts).
      push.applyPusherChange(this.ctx.storage.sql, change, deviceId);
      // append: false takes the same pusher away from every other user.
      if (!change.remove && !change.append) this.#outbox().add(PUSHER_EVICT, evictTarget(change.pusher.app_id, change.pusher.pushkey));
    });
    const has = this.#hasPushers();
    // Rooms evaluate rules only for members with pushers: tell them when that changes.
    if (has !== had) await tellRoomsAboutPushers(this.env, this.name, this.#rooms().joinedRooms(), has);
    await this.#outbox().deliver();
  }

  /** From another user's outbox: their `append: false` pusher takes this one's place (idempotent). */
  async evictPusher(p: { appId: string; pushkey: string }): Promise<void> {
    this.ctx.storage.transactionSync(() => push.applyPusherChange(this.ctx.storage.sql, { remove: true, app_id: p.appId, pushkey: p.pushkey }, null));
    // This user's own index rows follow (queued by the trigger); the alarm retries if D1 fails.
    await this.#outbox().deliver();
  }

  /** From a room's outbox: one event for this user's pushers (party/push/deliver.ts). Throws to be retried. */
  async pushNotify(notice: PushNotice): Promise<DeliveryResult> {
    const r = await deliverPushNotice(this.env, this.ctx.storage.sql, this.name, notice);
    if (r.removed > 0) await this.#outbox().deliver(); // the D1 index follows the removal
    return r;
  }

  #hasPushers(): boolean {
    return this.ctx.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM pushers").one().n > 0;
  }

  // ---- user-interactive auth ------------------------------------------------------------

  /**
   * One UIA round for `operation`. Stage checks (password hashing, the Server actor) run
   * first; the session is then re-read and advanced without any await in between.
   */
  async #uia(
    operation: string,
    config: UiaConfig,
    auth: unknown,
    imported: UiaSession | null = null,
  ): Promise<{ done: false; body: string } | UiaPassed> {
    const round = await runUia({
      store: this.#uiaStore,
      config,
      operation,
      auth,
      now: Date.now(),
      newSessionId: () => this.#newSessionId(operation),
      checkStage: (type, a) => this.#checkStage(type, a),
      imported,
    });
    if (!round.done) return { done: false, body: JSON.stringify(round.body) };
    const { id, data } = round.session;
    return {
      done: true,
      registrationToken: data.registration_token,
      commit: () => this.#sql("DELETE FROM uia_sessions WHERE id = ?", id),
    };
  }

  readonly #uiaStore: UiaStore = {
    load: (id) => this.#loadSession(id),
    save: (session) => this.#saveSession(session),
    prune: (before) => this.#sql("DELETE FROM uia_sessions WHERE created_ts < ?", before),
  };

  async #checkStage(type: string, auth: AuthDict): Promise<StageResult> {
    const fail = (error: string): StageResult => ({ ok: false, errcode: "M_FORBIDDEN", error });
    switch (type) {
      case "m.login.dummy":
        return { ok: true };
      case "m.login.password": {
        const { password } = auth.raw;
        const who = passwordStageUser(auth.raw);
        if (typeof password !== "string") throw new MatrixError("M_BAD_JSON", 400, "'auth.password' must be a string");
        const hash = this.#account()?.password_hash;
        if (!hash || (who !== null && who !== this.name && who !== this.#localpart())) {
          await dummyPasswordCheck(password);
          return fail("Invalid password");
        }
        return (await verifyPassword(password, hash)).ok ? { ok: true } : fail("Invalid password");
      }
      case "m.login.registration_token": {
        const { token } = auth.raw;
        if (typeof token !== "string") throw new MatrixError("M_BAD_JSON", 400, "'auth.token' must be a string");
        const valid = await serverActor(this.env).registrationTokenValid(token);
        return valid ? { ok: true, data: { registration_token: token } } : fail("Invalid registration token");
      }
      default:
        throw new MatrixError("M_UNRECOGNIZED", 400, `Authentication type ${type} is not supported`);
    }
  }

  /**
   * Hands a registration session over to the actor of the username the client finally
   * chose (the session was opened by a request without one). Removes it here.
   */
  async takeUiaSession(id: string, operation: string): Promise<UiaSession | null> {
    const session = this.#loadSession(id);
    if (!session || session.operation !== operation) return null;
    this.#sql("DELETE FROM uia_sessions WHERE id = ?", id);
    return session;
  }

  #saveSession(session: UiaSession): void {
    this.#sql(
      "INSERT INTO uia_sessions (id, session, created_ts) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET session = excluded.session",
      session.id,
      JSON.stringify(session),
      session.createdAt,
    );
  }

  #loadSession(id: string): UiaSession | null {
    const row = this.#one<{ session: string }>("SELECT session FROM uia_sessions WHERE id = ?", id);
    return row ? (JSON.parse(row.session) as UiaSession) : null;
  }

  /** Registration sessions carry the localpart so the edge can route a retry without a username. */
  #newSessionId(operation: string): string {
    const random = randomBase62(24);
    return operation === "register" ? `${encodeBase64Url(new TextEncoder().encode(this.#localpart()))}.${random}` : random;
  }

  // ---- internals --------------------------------------------------------------------

  #localpart(): string {
    return this.name.slice(1, this.name.indexOf(":"));
  }

  #account(): AccountRow | null {
    return this.#one<AccountRow>("SELECT user_id, password_hash, admin, deactivated_ts FROM account WHERE id = 1");
  }

  /** Create (or take over) the device and give it fresh tokens. Call inside a transaction. */
  #startSession(device: NewDevice, tokens: Issued): Session {
    const deviceId = device.deviceId ?? generateDeviceId();
    const exists = this.#one("SELECT 1 AS x FROM devices WHERE device_id = ?", deviceId);
    if (exists) {
      // Logging in again as a known device replaces its tokens (spec: may invalidate).
      this.#sql("DELETE FROM tokens WHERE device_id = ?", deviceId);
    } else {
      this.#sql(
        "INSERT INTO devices (device_id, display_name, created_ts) VALUES (?, ?, ?)",
        deviceId,
        device.displayName ?? null,
        Date.now(),
      );
    }
    this.#insertToken(deviceId, tokens, null);
    const s: Session = { user_id: this.name, device_id: deviceId, access_token: tokens.access };
    if (tokens.refresh) {
      s.refresh_token = tokens.refresh;
      s.expires_in_ms = tokens.lifetime!;
    }
    return s;
  }

  #insertToken(deviceId: string, t: Issued, parentId: number | null): void {
    this.#sql(
      "INSERT INTO tokens (device_id, access_hash, refresh_hash, expires_ts, parent_id, created_ts) VALUES (?, ?, ?, ?, ?, ?)",
      deviceId,
      t.accessHash,
      t.refreshHash,
      t.lifetime ? Date.now() + t.lifetime : null,
      parentId,
      Date.now(),
    );
  }

  #retireParent(row: TokenRow): void {
    this.#sql("DELETE FROM tokens WHERE id = ?", row.parent_id);
    this.#sql("UPDATE tokens SET parent_id = NULL WHERE id = ?", row.id);
  }

  #deleteDevices(ids: string[]): void {
    for (const id of ids) {
      this.#sql("DELETE FROM tokens WHERE device_id = ?", id);
      this.#sql("DELETE FROM devices WHERE device_id = ?", id);
    }
    push.deletePushersOfDevices(this.ctx.storage.sql, ids);
  }

  #bump(name: string): number {
    return this.#one<{ value: number }>(
      "INSERT INTO counters (name, value) VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
      name,
    )!.value;
  }

  #sql(query: string, ...args: SqlStorageValue[]): void {
    this.ctx.storage.sql.exec(query, ...args);
  }

  #one<T extends Row>(query: string, ...args: SqlStorageValue[]): T | null {
    return this.ctx.storage.sql.exec<T>(query, ...args).toArray()[0] ?? null;
  }

  #all<T extends Row>(query: string, ...args: SqlStorageValue[]): T[] {
    return this.ctx.storage.sql.exec<T>(query, ...args).toArray();
  }
}

interface Issued {
  access: string;
  accessHash: string;
  refresh: string | null;
  refreshHash: string | null;
  lifetime: number | null;
}

/** Mint tokens and hash them up front, so the write that stores them needs no await. */
async function issue(localpart: string, refreshable: boolean): Promise<Issued> {
  const access = mintToken("access", localpart);
  const refresh = refreshable ? mintToken("refresh", localpart) : null;
  return {
    access,
    accessHash: await hashToken(access),
    refresh,
    refreshHash: refresh ? await hashToken(refresh) : null,
    lifetime: refreshable ? REFRESHABLE_TOKEN_LIFETIME_MS : null,
  };
}

/** Ten upper-case letters, like other homeservers' generated device IDs. */
function generateDeviceId(): string {
  let id = "";
  while (id.length < 10) {
    for (const b of crypto.getRandomValues(new Uint8Array(16))) {
      if (b < 234 && id.length < 10) id += String.fromCharCode(65 + (b % 26)); // 234 = 9 × 26: unbiased
    }
  }
  return id;
}

function toDevice(r: Row): Device {
  const d: Device = { device_id: r.device_id as string };
  if (r.display_name !== null) d.display_name = r.display_name as string;
  if (r.last_seen_ts !== null) d.last_seen_ts = r.last_seen_ts as number;
  if (r.last_seen_ip !== null) d.last_seen_ip = r.last_seen_ip as string;
  return d;
}

const unknownToken = (soft: boolean) =>
  new MatrixError("M_UNKNOWN_TOKEN", 401, soft ? "Access token has expired" : "Unknown access token", {
    soft_logout: soft,
  });
const deactivated = () => new MatrixError("M_USER_DEACTIVATED", 403, "This account has been deactivated");

/** The localpart a registration session ID was minted for (see #newSessionId), or null. */
export function registrationSessionLocalpart(sessionId: string): string | null {
  const dot = sessionId.indexOf(".");
  if (dot <= 0) return null;
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(decodeBase64Url(sessionId.slice(0, dot))) || null;
  } catch {
    return null;
  }
}
