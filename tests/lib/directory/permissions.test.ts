// Who may create and delete aliases, list a room's aliases and change its directory visibility.
import { describe, expect, it } from "vitest";
import {
  checkMayChangeVisibility,
  checkMayCreateAlias,
  checkMayDeleteAlias,
  checkMayListAliases,
  type DirectoryCaller,
  type RoomAccessFacts,
} from "../../../lib/directory/permissions.ts";
import { MatrixError } from "../../../lib/errors.ts";

function errcodeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof MatrixError) return `${e.status} ${e.errcode}`;
    throw e;
  }
  return undefined;
}

const user: DirectoryCaller = { userId: "@u:s.org", admin: false, appservice: false };
const admin: DirectoryCaller = { ...user, admin: true };
const as: DirectoryCaller = { ...user, appservice: true };
const facts = (membership: string, mayEditCanonicalAlias = false, worldReadable = false): RoomAccessFacts => ({ membership, mayEditCanonicalAlias, worldReadable });

describe("[cs: room aliases/create] who may create an alias", () => {
  it("[cs: room aliases/create] a joined member may; others get 403 M_FORBIDDEN, also for a room that does not exist", () => {
    expect(errcodeOf(() => checkMayCreateAlias(user, facts("join")))).toBeUndefined();
    for (const m of ["invite", "leave", "ban", "knock"]) expect(errcodeOf(() => checkMayCreateAlias(user, facts(m))), m).toBe("403 M_FORBIDDEN");
    expect(errcodeOf(() => checkMayCreateAlias(user, null))).toBe("403 M_FORBIDDEN");
  });

  it("[cs: room aliases/create] admins and appservices need not be members, but the room must exist", () => {
    expect(errcodeOf(() => checkMayCreateAlias(admin, facts("leave")))).toBeUndefined();
    expect(errcodeOf(() => checkMayCreateAlias(as, facts("leave")))).toBeUndefined();
    expect(errcodeOf(() => checkMayCreateAlias(admin, null))).toBe("404 M_NOT_FOUND");
  });
});

describe("[cs: room aliases/delete] who may delete an alias", () => {
  it("[cs: room aliases/delete] the creator may, even after leaving the room", () => {
    expect(errcodeOf(() => checkMayDeleteAlias(user, user.userId, facts("leave")))).toBeUndefined();
  });

  it("[cs: room aliases/delete] another member needs the power to send m.room.canonical_alias", () => {
    expect(errcodeOf(() => checkMayDeleteAlias(user, "@creator:s.org", facts("join", true)))).toBeUndefined();
    expect(errcodeOf(() => checkMayDeleteAlias(user, "@creator:s.org", facts("join", false)))).toBe("403 M_FORBIDDEN");
    // power without membership is not enough (Synapse checks the user is in the room)
    expect(errcodeOf(() => checkMayDeleteAlias(user, "@creator:s.org", facts("leave", true)))).toBe("403 M_FORBIDDEN");
  });

  it("[cs: room aliases/delete] server admins and appservices (in their namespace) may", () => {
    expect(errcodeOf(() => checkMayDeleteAlias(admin, "@creator:s.org", null))).toBeUndefined();
    expect(errcodeOf(() => checkMayDeleteAlias(as, "@creator:s.org", null))).toBeUndefined();
  });
});

describe("[cs: rooms/aliases] who may list a room's aliases", () => {
  it("[cs: rooms/aliases] joined members, anyone in a world_readable room, admins", () => {
    expect(errcodeOf(() => checkMayListAliases(user, facts("join")))).toBeUndefined();
    expect(errcodeOf(() => checkMayListAliases(user, facts("leave", false, true)))).toBeUndefined();
    expect(errcodeOf(() => checkMayListAliases(admin, null))).toBeUndefined();
    expect(errcodeOf(() => checkMayListAliases(user, facts("invite")))).toBe("403 M_FORBIDDEN");
    expect(errcodeOf(() => checkMayListAliases(user, null))).toBe("403 M_FORBIDDEN");
  });
});

describe("[cs: directory/list/room] who may publish or unpublish a room", () => {
  it("[cs: directory/list/room] a joined member with the power to send m.room.canonical_alias, or an admin", () => {
    expect(errcodeOf(() => checkMayChangeVisibility(user, facts("join", true)))).toBeUndefined();
    expect(errcodeOf(() => checkMayChangeVisibility(admin, facts("leave")))).toBeUndefined();
    expect(errcodeOf(() => checkMayChangeVisibility(user, facts("join", false)))).toBe("403 M_FORBIDDEN");
    expect(errcodeOf(() => checkMayChangeVisibility(user, facts("leave", true)))).toBe("403 M_FORBIDDEN");
  });

  it("[cs: directory/list/room] an unknown room is 404 M_NOT_FOUND", () => {
    expect(errcodeOf(() => checkMayChangeVisibility(admin, null))).toBe("404 M_NOT_FOUND");
  });
});
