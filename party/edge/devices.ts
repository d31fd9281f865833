/**
 * Device management. Deleting devices needs user-interactive auth with the password.
 * https://spec.matrix.org/v1.19/client-server-api/#device-management
 */
import { MatrixError } from "../../lib/errors.ts";
import type { JsonObject } from "../../lib/json.ts";
import { userActor } from "../stubs.ts";
import { body, opt, optionalBody, req, uiaResponse } from "./account.ts";
import { authenticate } from "./auth.ts";
import { json } from "./http.ts";
import type { EdgeRequest } from "./router.ts";

/** Device display names are free text; this only stops abuse. */
const MAX_DEVICE_NAME_LENGTH = 256;

// GET /_matrix/client/v3/devices
export async function listDevices(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const devices = await userActor(r.env, me.userId).listDevices();
  return json({ devices: devices as unknown as JsonObject[] });
}

// GET /_matrix/client/v3/devices/{deviceId}
export async function getDevice(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const device = await userActor(r.env, me.userId).getDevice(r.params.deviceId!);
  return json(device as unknown as JsonObject);
}

// PUT /_matrix/client/v3/devices/{deviceId}
export async function updateDevice(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const b = await body(r);
  const name = opt(b, "display_name", "string");
  if (name !== undefined && name.length > MAX_DEVICE_NAME_LENGTH) {
    throw new MatrixError("M_INVALID_PARAM", 400, `'display_name' is longer than ${MAX_DEVICE_NAME_LENGTH} characters`);
  }
  await userActor(r.env, me.userId).updateDevice(r.params.deviceId!, name);
  return json({});
}

// DELETE /_matrix/client/v3/devices/{deviceId}
export async function deleteDevice(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const b = await optionalBody(r);
  const reply = await userActor(r.env, me.userId).deleteDevices({
    deviceIds: [r.params.deviceId!],
    auth: opt(b, "auth", "object") ?? null,
    mustExist: true,
  });
  return uiaResponse(reply);
}

// POST /_matrix/client/v3/delete_devices
export async function deleteDevices(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const b = await body(r);
  const devices = req(b, "devices", "array");
  if (!devices.every((d): d is string => typeof d === "string")) {
    throw new MatrixError("M_BAD_JSON", 400, "'devices' must be an array of strings");
  }
  const reply = await userActor(r.env, me.userId).deleteDevices({
    deviceIds: devices,
    auth: opt(b, "auth", "object") ?? null,
    mustExist: false,
  });
  return uiaResponse(reply);
}
