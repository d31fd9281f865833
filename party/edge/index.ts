/**
 * The Worker entry: the route table, and the actor classes wrangler binds.
 * Handlers live one file per endpoint group; each is headed by its method and path.
 */
import type { Env } from "../env.ts";
import * as account from "./account.ts";
import * as accountData from "./account-data.ts";
import * as admin from "./admin.ts";
import * as appservice from "./appservice.ts";
import * as devices from "./devices.ts";
import * as discovery from "./discovery.ts";
import * as filters from "./filters.ts";
import * as sync from "./sync.ts";
import * as support from "./support.ts";
import * as syncSocket from "./sync-socket.ts";
import * as keys from "./keys-server.ts";
import * as legacySync from "./legacy-sync.ts";
import * as media from "./media.ts";
import * as mediaPreview from "./media-preview.ts";
import * as e2eeKeys from "./keys.ts";
import * as toDevice from "./to-device.ts";
import * as roomKeys from "./room-keys.ts";
import * as dehydrated from "./dehydrated-device.ts";
import * as directory from "./directory.ts";
import * as profile from "./profile.ts";
import * as pushRules from "./push-rules.ts";
import * as pushers from "./pushers.ts";
import * as notifications from "./notifications.ts";
import * as rooms from "./rooms.ts";
import * as tags from "./tags.ts";
import * as threepid from "./threepid.ts";
import * as roomReads from "./room-reads.ts";
import * as reports from "./reports.ts";
import * as restrictions from "./restrictions.ts";
import * as spaces from "./spaces.ts";
import * as mutualRooms from "./mutual-rooms.ts";
import * as presence from "./presence.ts";
import * as openid from "./openid.ts";
import * as search from "./search.ts";
import * as userDirectory from "./user-directory.ts";
import * as voip from "./voip.ts";
import * as whois from "./whois.ts";
import { Router } from "./router.ts";

export { ServerActor } from "../server.ts";
export { User } from "../user.ts";
export { Room } from "../room.ts";
export { DeviceKeys } from "../device-keys.ts";
export { RateLimiter } from "../rate-limiter.ts";
export { Appservice } from "../appservice.ts";
export { SyncHub } from "../sync-hub.ts";

export const router = new Router()
  // Discovery
  .get("/.well-known/matrix/client", discovery.wellKnownClient)
  .get("/.well-known/matrix/server", discovery.wellKnownServer)
  .get("/.well-known/matrix/support", support.support) // party/edge/support.ts
  .get("/_matrix/client/versions", discovery.versions)
  .get("/_matrix/client/v3/capabilities", discovery.capabilities)
  // Server keys (federation)
  .get("/_matrix/key/v2/server", keys.serverKeys)
  // Registration, login, tokens (party/edge/account.ts)
  .get("/_matrix/client/v3/register/available", account.registerAvailable)
  .post("/_matrix/client/v3/register", account.register)
  .get("/_matrix/client/v1/register/m.login.registration_token/validity", account.registrationTokenValidity)
  .get("/_matrix/client/v3/login", account.loginFlows)
  .post("/_matrix/client/v3/login", account.login)
  .post("/_matrix/client/v1/login/get_token", account.getLoginToken)
  .post("/_matrix/client/v3/refresh", account.refresh)
  .post("/_matrix/client/v3/logout", account.logout)
  .post("/_matrix/client/v3/logout/all", account.logoutAll)
  .get("/_matrix/client/v3/account/whoami", account.whoami)
  // Third-party identifiers: no email/SMS, no identity server (party/edge/threepid.ts)
  .get("/_matrix/client/v3/account/3pid", threepid.getThreePids)
  .post("/_matrix/client/v3/account/3pid", threepid.postThreePid)
  .post("/_matrix/client/v3/account/3pid/add", threepid.addThreePid)
  .post("/_matrix/client/v3/account/3pid/bind", threepid.bindThreePid)
  .post("/_matrix/client/v3/account/3pid/delete", threepid.deleteThreePid)
  .post("/_matrix/client/v3/account/3pid/unbind", threepid.unbindThreePid)
  .post("/_matrix/client/v3/account/3pid/email/requestToken", threepid.accountEmailRequestToken)
  .post("/_matrix/client/v3/account/3pid/msisdn/requestToken", threepid.accountMsisdnRequestToken)
  .post("/_matrix/client/v3/register/email/requestToken", threepid.registerEmailRequestToken)
  .post("/_matrix/client/v3/register/msisdn/requestToken", threepid.registerMsisdnRequestToken)
  .post("/_matrix/client/v3/account/password/email/requestToken", threepid.passwordEmailRequestToken)
  .post("/_matrix/client/v3/account/password/msisdn/requestToken", threepid.passwordMsisdnRequestToken)
  .post("/_matrix/client/v3/account/password", account.changePassword)
  .post("/_matrix/client/v3/account/deactivate", account.deactivate)
  // Devices
  .get("/_matrix/client/v3/devices", devices.listDevices)
  .get("/_matrix/client/v3/devices/{deviceId}", devices.getDevice)
  .put("/_matrix/client/v3/devices/{deviceId}", devices.updateDevice)
  .delete("/_matrix/client/v3/devices/{deviceId}", devices.deleteDevice)
  .post("/_matrix/client/v3/delete_devices", devices.deleteDevices)
  // Profile
  .get("/_matrix/client/v3/profile/{userId}", profile.getProfile)
  .get("/_matrix/client/v3/profile/{userId}/{keyName}", profile.getProfileField)
  .put("/_matrix/client/v3/profile/{userId}/{keyName}", profile.setProfileField)
  .delete("/_matrix/client/v3/profile/{userId}/{keyName}", profile.deleteProfileField)
  // Account data and filters
  .get("/_matrix/client/v3/user/{userId}/account_data/{type}", accountData.getAccountData)
  .put("/_matrix/client/v3/user/{userId}/account_data/{type}", accountData.setAccountData)
  .get("/_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}", accountData.getAccountData)
  .put("/_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}", accountData.setAccountData)
  // Room tags, stored as m.tag room account data (party/edge/tags.ts)
  .get("/_matrix/client/v3/user/{userId}/rooms/{roomId}/tags", tags.getTags)
  .put("/_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag}", tags.putTag)
  .delete("/_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag}", tags.deleteTag)
  .post("/_matrix/client/v3/user/{userId}/filter", filters.createFilter)
  .get("/_matrix/client/v3/user/{userId}/filter/{filterId}", filters.getFilter)
  // Sync (party/edge/sync.ts; docs/design/sync.md)
  .get("/_matrix/client/v3/sync", sync.sync)
  .post("/_matrix/client/unstable/org.matrix.simplified_msc3575/sync", sync.slidingSync)
  // Deprecated pre-/sync reads over the same machinery (party/edge/legacy-sync.ts)
  .get("/_matrix/client/v3/initialSync", legacySync.initialSync)
  .get("/_matrix/client/v3/events", legacySync.events)
  .get("/_matrix/client/v3/events/{eventId}", legacySync.event)
  .get("/_matrix/client/v3/rooms/{roomId}/initialSync", legacySync.roomInitialSync)
  // Sliding sync over WebSocket, Parley's own (party/edge/sync-socket.ts; docs/sliding-sync-websocket.md)
  .get(`${syncSocket.SOCKET_PATH}`, syncSocket.slidingSyncSocket)
  // Media (party/edge/media.ts); the unauthenticated /_matrix/media/v3 downloads only with LEGACY_MEDIA_ENABLED
  .post("/_matrix/media/v3/upload", media.upload)
  .post("/_matrix/media/v1/create", media.create)
  .put("/_matrix/media/v3/upload/{serverName}/{mediaId}", media.uploadToMxc)
  .get("/_matrix/client/v1/media/config", media.config)
  .get("/_matrix/client/v1/media/download/{serverName}/{mediaId}", media.download)
  .get("/_matrix/client/v1/media/download/{serverName}/{mediaId}/{fileName}", media.download)
  .get("/_matrix/client/v1/media/thumbnail/{serverName}/{mediaId}", media.thumbnail)
  .get("/_matrix/media/v3/config", media.config)
  .get("/_matrix/media/v3/download/{serverName}/{mediaId}", media.legacyDownload)
  .get("/_matrix/media/v3/download/{serverName}/{mediaId}/{fileName}", media.legacyDownload)
  .get("/_matrix/media/v3/thumbnail/{serverName}/{mediaId}", media.legacyThumbnail)
  // URL previews (party/edge/media-preview.ts), both authenticated; absent with URL_PREVIEW_ENABLED=false
  .get("/_matrix/client/v1/media/preview_url", mediaPreview.previewUrl)
  .get("/_matrix/media/v3/preview_url", mediaPreview.legacyPreviewUrl)
  // Push rules and pushers (party/edge/push-rules.ts, party/edge/pushers.ts)
  .get("/_matrix/client/v3/pushrules/", pushRules.getAll)
  .get("/_matrix/client/v3/pushrules/global/", pushRules.getGlobal)
  .get("/_matrix/client/v3/pushrules/global/{kind}/{ruleId}", pushRules.getRule)
  .put("/_matrix/client/v3/pushrules/global/{kind}/{ruleId}", pushRules.putRule)
  .delete("/_matrix/client/v3/pushrules/global/{kind}/{ruleId}", pushRules.deleteRule)
  .get("/_matrix/client/v3/pushrules/global/{kind}/{ruleId}/enabled", pushRules.getEnabled)
  .put("/_matrix/client/v3/pushrules/global/{kind}/{ruleId}/enabled", pushRules.putEnabled)
  .get("/_matrix/client/v3/pushrules/global/{kind}/{ruleId}/actions", pushRules.getActions)
  .put("/_matrix/client/v3/pushrules/global/{kind}/{ruleId}/actions", pushRules.putActions)
  .get("/_matrix/client/v3/pushers", pushers.getPushers)
  .post("/_matrix/client/v3/pushers/set", pushers.setPusher)
  .get("/_matrix/client/v3/notifications", notifications.getNotifications)
  // Rooms: creation, membership, events, state (party/edge/rooms.ts)
  .post("/_matrix/client/v3/createRoom", rooms.createRoom)
  .post("/_matrix/client/v3/join/{roomIdOrAlias}", rooms.join)
  .post("/_matrix/client/v3/knock/{roomIdOrAlias}", rooms.knock)
  .get("/_matrix/client/v3/joined_rooms", rooms.joinedRooms)
  .post("/_matrix/client/v3/rooms/{roomId}/join", rooms.join)
  .post("/_matrix/client/v3/rooms/{roomId}/leave", rooms.leave)
  .post("/_matrix/client/v3/rooms/{roomId}/forget", rooms.forget)
  .post("/_matrix/client/v3/rooms/{roomId}/upgrade", rooms.upgrade)
  .post("/_matrix/client/v3/rooms/{roomId}/invite", rooms.invite)
  .post("/_matrix/client/v3/rooms/{roomId}/kick", rooms.kick)
  .post("/_matrix/client/v3/rooms/{roomId}/ban", rooms.ban)
  .post("/_matrix/client/v3/rooms/{roomId}/unban", rooms.unban)
  .put("/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}", rooms.send)
  .get("/_matrix/client/v3/rooms/{roomId}/state", rooms.getState)
  .get("/_matrix/client/v3/rooms/{roomId}/state/{eventType}", rooms.getStateEvent)
  .get("/_matrix/client/v3/rooms/{roomId}/state/{eventType}/", rooms.getStateEvent)
  .get("/_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}", rooms.getStateEvent)
  .put("/_matrix/client/v3/rooms/{roomId}/state/{eventType}", rooms.putState)
  .put("/_matrix/client/v3/rooms/{roomId}/state/{eventType}/", rooms.putState)
  .put("/_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}", rooms.putState)
  .put("/_matrix/client/v3/rooms/{roomId}/redact/{eventId}/{txnId}", rooms.redact)
  .get("/_matrix/client/v3/rooms/{roomId}/event/{eventId}", rooms.getEvent)
  // Room history, relations, threads, typing, receipts (party/edge/room-reads.ts)
  .get("/_matrix/client/v3/rooms/{roomId}/messages", roomReads.getMessages)
  .get("/_matrix/client/v3/rooms/{roomId}/context/{eventId}", roomReads.getContext)
  .get("/_matrix/client/v1/rooms/{roomId}/timestamp_to_event", roomReads.getTimestampToEvent)
  .get("/_matrix/client/v3/rooms/{roomId}/members", roomReads.getMembers)
  .get("/_matrix/client/v3/rooms/{roomId}/joined_members", roomReads.getJoinedMembers)
  .get("/_matrix/client/v1/rooms/{roomId}/relations/{eventId}", roomReads.getRelations)
  .get("/_matrix/client/v1/rooms/{roomId}/relations/{eventId}/{relType}", roomReads.getRelations)
  .get("/_matrix/client/v1/rooms/{roomId}/relations/{eventId}/{relType}/{eventType}", roomReads.getRelations)
  .get("/_matrix/client/v1/rooms/{roomId}/threads", roomReads.getThreads)
  .put("/_matrix/client/v3/rooms/{roomId}/typing/{userId}", roomReads.putTyping)
  .post("/_matrix/client/v3/rooms/{roomId}/receipt/{receiptType}/{eventId}", roomReads.postReceipt)
  .post("/_matrix/client/v3/rooms/{roomId}/read_markers", roomReads.postReadMarkers)
  // End-to-end encryption (party/edge/keys.ts, to-device.ts, room-keys.ts, dehydrated-device.ts)
  .post("/_matrix/client/v3/keys/upload", e2eeKeys.uploadKeys)
  .post("/_matrix/client/v3/keys/query", e2eeKeys.queryKeys)
  .post("/_matrix/client/v3/keys/claim", e2eeKeys.claimKeys)
  .get("/_matrix/client/v3/keys/changes", e2eeKeys.keyChanges)
  .post("/_matrix/client/v3/keys/device_signing/upload", e2eeKeys.uploadCrossSigningKeys)
  .post("/_matrix/client/v3/keys/signatures/upload", e2eeKeys.uploadSignatures)
  .put("/_matrix/client/v3/sendToDevice/{eventType}/{txnId}", toDevice.sendToDevice)
  .post("/_matrix/client/v3/room_keys/version", roomKeys.createVersion)
  .get("/_matrix/client/v3/room_keys/version", roomKeys.getVersion)
  .get("/_matrix/client/v3/room_keys/version/{version}", roomKeys.getVersion)
  .put("/_matrix/client/v3/room_keys/version/{version}", roomKeys.updateVersion)
  .delete("/_matrix/client/v3/room_keys/version/{version}", roomKeys.deleteVersion)
  .put("/_matrix/client/v3/room_keys/keys", roomKeys.putKeys)
  .get("/_matrix/client/v3/room_keys/keys", roomKeys.getKeys)
  .delete("/_matrix/client/v3/room_keys/keys", roomKeys.deleteKeys)
  .put("/_matrix/client/v3/room_keys/keys/{roomId}", roomKeys.putKeys)
  .get("/_matrix/client/v3/room_keys/keys/{roomId}", roomKeys.getKeys)
  .delete("/_matrix/client/v3/room_keys/keys/{roomId}", roomKeys.deleteKeys)
  .put("/_matrix/client/v3/room_keys/keys/{roomId}/{sessionId}", roomKeys.putKeys)
  .get("/_matrix/client/v3/room_keys/keys/{roomId}/{sessionId}", roomKeys.getKeys)
  .delete("/_matrix/client/v3/room_keys/keys/{roomId}/{sessionId}", roomKeys.deleteKeys)
  .put(`${dehydrated.PREFIX}/dehydrated_device`, dehydrated.putDehydratedDevice)
  .get(`${dehydrated.PREFIX}/dehydrated_device`, dehydrated.getDehydratedDevice)
  .delete(`${dehydrated.PREFIX}/dehydrated_device`, dehydrated.deleteDehydratedDevice)
  .post(`${dehydrated.PREFIX}/dehydrated_device/{deviceId}/events`, dehydrated.dehydratedDeviceEvents)
  // Room aliases, the published room directory, the user directory (party/edge/directory.ts, user-directory.ts)
  .get("/_matrix/client/v3/directory/room/{roomAlias}", directory.getAlias)
  .put("/_matrix/client/v3/directory/room/{roomAlias}", directory.putAlias)
  .delete("/_matrix/client/v3/directory/room/{roomAlias}", directory.deleteAliasHandler)
  .get("/_matrix/client/v3/rooms/{roomId}/aliases", directory.getRoomAliases)
  .get("/_matrix/client/v3/directory/list/room/{roomId}", directory.getVisibility)
  .put("/_matrix/client/v3/directory/list/room/{roomId}", directory.putVisibility)
  .put("/_matrix/client/v3/directory/list/appservice/{networkId}/{roomId}", directory.putAppserviceVisibility)
  .get("/_matrix/client/v3/publicRooms", directory.getPublicRooms)
  .post("/_matrix/client/v3/publicRooms", directory.postPublicRooms)
  .post("/_matrix/client/v3/user_directory/search", userDirectory.search)
  // Application services and third-party lookups (party/edge/appservice.ts)
  .post("/_matrix/client/v1/appservice/{appserviceId}/ping", appservice.ping)
  .get("/_matrix/client/v3/thirdparty/protocols", appservice.protocols)
  .get("/_matrix/client/v3/thirdparty/protocol/{protocol}", appservice.protocol)
  .get("/_matrix/client/v3/thirdparty/location/{protocol}", appservice.locationByProtocol)
  .get("/_matrix/client/v3/thirdparty/user/{protocol}", appservice.userByProtocol)
  .get("/_matrix/client/v3/thirdparty/location", appservice.locationByAlias)
  .get("/_matrix/client/v3/thirdparty/user", appservice.userByUserId)
  // Spaces and room summaries (party/edge/spaces.ts)
  .get("/_matrix/client/v1/rooms/{roomId}/hierarchy", spaces.hierarchy)
  .get("/_matrix/client/v1/room_summary/{roomIdOrAlias}", spaces.roomSummary)
  .get("/_matrix/client/v1/mutual_rooms", mutualRooms.mutualRooms) // party/edge/mutual-rooms.ts
  // Presence (party/edge/presence.ts, docs/design/presence.md)
  .get("/_matrix/client/v3/presence/{userId}/status", presence.getPresence)
  .put("/_matrix/client/v3/presence/{userId}/status", presence.setPresence)
  // OpenID (party/edge/openid.ts): tokens for other services, and the federation check of one
  .post("/_matrix/client/v3/user/{userId}/openid/request_token", openid.requestToken)
  .get("/_matrix/federation/v1/openid/userinfo", openid.userinfo)
  .post("/_matrix/client/v3/search", search.search) // server-side search (party/edge/search.ts)
  // Reporting content (party/edge/reports.ts)
  .post("/_matrix/client/v3/rooms/{roomId}/report/{eventId}", reports.reportEvent)
  .post("/_matrix/client/v3/rooms/{roomId}/report", reports.reportRoom)
  .post("/_matrix/client/v3/users/{userId}/report", reports.reportUser)
  // VoIP (party/edge/voip.ts)
  .get("/_matrix/client/v3/voip/turnServer", voip.turnServer)
  // Server administration (party/edge/whois.ts)
  .get("/_matrix/client/v3/admin/whois/{userId}", whois.whois)
  // Account locking and suspension (party/edge/restrictions.ts)
  .get("/_matrix/client/v1/admin/lock/{userId}", restrictions.getLock)
  .put("/_matrix/client/v1/admin/lock/{userId}", restrictions.putLock)
  .get("/_matrix/client/v1/admin/suspend/{userId}", restrictions.getSuspension)
  .put("/_matrix/client/v1/admin/suspend/{userId}", restrictions.putSuspension)
  // Operator bootstrap: Synapse-compatible shared-secret registration
  .get("/_synapse/admin/v1/register", admin.adminNonce)
  .post("/_synapse/admin/v1/register", admin.adminRegister);

export default {
  fetch(request, env, ctx) {
    return router.handle(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;
