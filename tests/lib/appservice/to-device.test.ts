// Which appservices get a to-device message (MSC4203), and whether the device's inbox keeps it.
import { describe, expect, it } from "vitest";
import { validateRegistration } from "../../../lib/appservice/registration.ts";
import { AppserviceRegistry } from "../../../lib/appservice/registry.ts";
import { toDeviceRoutes, type ToDeviceDelivery } from "../../../lib/appservice/to-device.ts";

const SERVER = "example.org";
const reg = (id: string, extra: Record<string, unknown>, users: Array<{ regex: string; exclusive: boolean }>) =>
  validateRegistration({ id, url: `http://127.0.0.1:1/${id}`, as_token: `a-${id}`, hs_token: `h-${id}`, sender_localpart: `${id}bot`, namespaces: { users }, ...extra }, `${id}.yaml`);
const registry = new AppserviceRegistry(
  [
    reg("crypto", { "org.matrix.msc3202": true }, [{ regex: "@_cr_.*", exclusive: true }, { regex: "@shared_.*", exclusive: false }]),
    reg("eph", { receive_ephemeral: true }, [{ regex: "@shared_.*", exclusive: false }, { regex: "@_eph_.*", exclusive: true }]),
    reg("plain", {}, [{ regex: "@_plain_.*", exclusive: true }]),
  ],
  SERVER,
);
const d: ToDeviceDelivery = { sender: "@alice:example.org", senderDevice: "A", txnId: "t1", type: "m.room_key_request", messages: { "*": { n: 1 }, GONE: { n: 2 } } };

describe("[as: to-device] routes", () => {
  it("[as: to-device] `*` expands to the existing devices; unknown devices are dropped; events carry to_user_id and to_device_id", () => {
    const routes = toDeviceRoutes(registry, SERVER, "@_cr_bob:example.org", d, ["D1", "D2"]);
    expect(routes.map((r) => r.appserviceId)).toEqual(["crypto"]);
    expect(routes[0]!.items.map((i) => i.json)).toEqual([
      { type: "m.room_key_request", sender: "@alice:example.org", content: { n: 1 }, to_user_id: "@_cr_bob:example.org", to_device_id: "D1" },
      { type: "m.room_key_request", sender: "@alice:example.org", content: { n: 1 }, to_user_id: "@_cr_bob:example.org", to_device_id: "D2" },
    ]);
    // The same sender transaction gives the same keys (a retry adds nothing at the appservice).
    expect(toDeviceRoutes(registry, SERVER, "@_cr_bob:example.org", d, ["D1", "D2"])[0]!.items.map((i) => i.dedupe)).toEqual(routes[0]!.items.map((i) => i.dedupe));
  });

  it("[as: to-device] only MSC3202 with an exclusive namespace (or the sender) takes the message instead of the inbox", () => {
    expect(toDeviceRoutes(registry, SERVER, "@_cr_bob:example.org", d, ["D1"])[0]!.instead).toBe(true);
    expect(toDeviceRoutes(registry, SERVER, "@cryptobot:example.org", d, ["D1"])[0]!.instead).toBe(true);
    const shared = toDeviceRoutes(registry, SERVER, "@shared_x:example.org", d, ["D1"]);
    expect(shared.map((r) => [r.appserviceId, r.instead])).toEqual([["crypto", false], ["eph", false]]);
    expect(toDeviceRoutes(registry, SERVER, "@_eph_x:example.org", d, ["D1"])[0]!.instead).toBe(false);
  });

  it("[as: to-device] appservices without ephemeral or MSC3202 opt-in, ordinary users and devices that do not exist get nothing", () => {
    expect(toDeviceRoutes(registry, SERVER, "@_plain_x:example.org", d, ["D1"])).toEqual([]);
    expect(toDeviceRoutes(registry, SERVER, "@alice:example.org", d, ["D1"])).toEqual([]);
    expect(toDeviceRoutes(registry, SERVER, "@_cr_bob:example.org", { ...d, messages: { GONE: {} } }, ["D1"])).toEqual([]);
  });
});
