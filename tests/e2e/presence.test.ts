// Presence end to end: matrix-js-sdk 37.5.0 against the real server (npm start), every
// response validated against the spec's OpenAPI. https://spec.matrix.org/v1.19/client-server-api/#presence
import { describe, expect, it } from "vitest";
import { type MatrixEvent, Method, Preset, type User, UserEvent } from "matrix-js-sdk";
import { errcodeOf, sdkHarness, start } from "./sdk.ts";

const { register } = sdkHarness({ stopClients: true });

describe("[e2e: presence] matrix-js-sdk against the real server", () => {
  it("[cs: presence] setPresence by one member reaches another member's syncing client as User.presence; getPresence answers", async () => {
    const alice = await register("presa");
    const bob = await register("presb");
    const carol = await register("presc");
    const { room_id: roomId } = await alice.client.createRoom({ preset: Preset.PublicChat });
    await bob.client.joinRoom(roomId);
    await start(bob.client);

    const seen = new Promise<{ presence: string; statusMsg: string | undefined }>((resolve) => {
      const onPresence = (_e: MatrixEvent | undefined, user: User) => {
        if (user.userId === alice.userId && user.presence === "unavailable") {
          bob.client.off(UserEvent.Presence, onPresence);
          resolve({ presence: user.presence, statusMsg: user.presenceStatusMsg });
        }
      };
      bob.client.on(UserEvent.Presence, onPresence);
    });
    await alice.client.setPresence({ presence: "unavailable", status_msg: "at lunch" });
    expect(await seen).toEqual({ presence: "unavailable", statusMsg: "at lunch" });
    expect(bob.client.getUser(alice.userId)?.presence).toBe("unavailable");

    expect(await bob.client.getPresence(alice.userId)).toMatchObject({ presence: "unavailable", status_msg: "at lunch", currently_active: false });
    // Carol shares no room with alice.
    expect(await errcodeOf(carol.client.getPresence(alice.userId))).toEqual([403, "M_FORBIDDEN"]);
    // Nobody sets another user's presence.
    expect(await errcodeOf(bob.client.http.authedRequest(Method.Put, `/presence/${encodeURIComponent(alice.userId)}/status`, undefined, { presence: "online" }))).toEqual([403, "M_FORBIDDEN"]);
  });
});
