import { describe, expect, it } from "vitest";
import { roomVersionRules, creatableRoomVersions, DEFAULT_ROOM_VERSION } from "../../lib/room-versions.ts";

describe("room versions as data", () => {
  it("[rooms/v12] default room version is 12 and uses state resolution v2.1", () => {
    expect(DEFAULT_ROOM_VERSION).toBe("12");
    expect(roomVersionRules("12")?.stateResolution).toBe("v2.1");
  });
  it("[rooms/v4] event IDs are URL-safe reference hashes since v4", () => {
    expect(roomVersionRules("3")?.eventFormat.eventIdFormat).toBe("reference-hash-base64");
    expect(roomVersionRules("4")?.eventFormat.eventIdFormat).toBe("reference-hash-urlsafe");
  });
  it("[rooms/v10] integer power levels since v10, not before", () => {
    expect(roomVersionRules("9")?.authorization.integerPowerLevels).toBe(false);
    expect(roomVersionRules("10")?.authorization.integerPowerLevels).toBe(true);
  });
  it("unknown versions have no rules; v1 cannot be created", () => {
    expect(roomVersionRules("13")).toBeUndefined();
    expect(creatableRoomVersions().map((v) => v.id)).not.toContain("1");
  });
  it("rule objects are frozen", () => {
    expect(Object.isFrozen(roomVersionRules("11")!.authorization)).toBe(true);
  });
});
