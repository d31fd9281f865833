/**
 * Room actor, one per room ID. It will own the event graph, state and
 * membership (the room issue); for now it only exists, so that the Durable
 * Object class and its SQLite storage are declared from the first deployment
 * (wrangler.toml migration v1) and its schema has a home.
 */
import { Server } from "partyserver";
import type { Env } from "./env.ts";
import { migrateOnStart } from "./migrations.ts";
import schema from "../schema/room.sql";

export class Room extends Server<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    migrateOnStart(ctx, schema);
  }
}
