/**
 * `event_fields` of the sync filter applied to a /sync response: the room events
 * (timeline, state, state_after of joined and left rooms) keep only the listed fields.
 * https://spec.matrix.org/v1.19/client-server-api/#filtering
 */
import { eventFieldsProjection } from "../event-fields.ts";
import type { JsonObject } from "../json.ts";
import type { SyncResponse } from "./response.ts";

export function applyEventFields(res: SyncResponse, fields: readonly string[] | undefined): void {
  if (!fields || !res.rooms) return;
  const project = eventFieldsProjection(fields);
  for (const section of [res.rooms.join, res.rooms.leave]) {
    for (const entry of Object.values(section ?? {})) {
      const e = entry as unknown as Record<string, { events?: JsonObject[] } | undefined>;
      for (const key of ["timeline", "state", "state_after"]) {
        const part = e[key];
        if (part?.events) part.events = part.events.map(project);
      }
    }
  }
}
