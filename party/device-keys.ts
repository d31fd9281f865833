/**
 * DeviceKeys actor, one per local user: device keys, one-time and fallback keys,
 * cross-signing (the E2EE issue). For now it only exists, so that the Durable
 * Object class and its SQLite storage are declared from the first deployment
 * (wrangler.toml migration v1) and its schema has a home.
 */
import { Server } from "partyserver";
import type { Env } from "./env.ts";
import { migrateOnStart } from "./migrations.ts";
import schema from "../schema/device-keys.sql";

export class DeviceKeys extends Server<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    migrateOnStart(ctx, schema);
  }
}
