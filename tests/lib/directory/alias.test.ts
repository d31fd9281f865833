// Room aliases: grammar and locality, appservice alias namespaces, which aliases of a new
// m.room.canonical_alias content need checking against the index, and alias removal.
import { describe, expect, it } from "vitest";
import { validateRegistration, type Registration } from "../../../lib/appservice/registration.ts";
import { AppserviceRegistry } from "../../../lib/appservice/registry.ts";
import {
  addedCanonicalAliases,
  canonicalAliasesOf,
  checkAliasNamespace,
  isLocalAlias,
  parseRoomAlias,
  requireLocalAlias,
  withoutAlias,
} from "../../../lib/directory/alias.ts";
import { MatrixError } from "../../../lib/errors.ts";

const SERVER = "example.org";

function errcodeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof MatrixError) return `${e.status} ${e.errcode}`;
    throw e;
  }
  return undefined;
}

function reg(id: string, aliases: Array<{ regex: string; exclusive: boolean }>): Registration {
  return validateRegistration(
    {
      id,
      url: null,
      as_token: `as-${id}`,
      hs_token: `hs-${id}`,
      sender_localpart: `_${id}_bot`,
      namespaces: { users: [], aliases, rooms: [] },
    },
    `${id}.yaml`,
  );
}

describe("[cs: room aliases] alias grammar", () => {
  it("[cs: room aliases/grammar] #local:server is an alias; others are M_INVALID_PARAM", () => {
    expect(parseRoomAlias("#music:example.org")).toBe("#music:example.org");
    expect(parseRoomAlias("#with spaces and ünïcode:example.org:8448")).toBe("#with spaces and ünïcode:example.org:8448");
    for (const bad of ["music:example.org", "#music", "!room:example.org", "#:example.org", "#a:bad_server!", `#${"x".repeat(300)}:example.org`]) {
      expect(errcodeOf(() => parseRoomAlias(bad)), bad).toBe("400 M_INVALID_PARAM");
    }
  });

  it("[cs: room aliases/local] only this server's aliases may be created here", () => {
    expect(isLocalAlias("#a:example.org", SERVER)).toBe(true);
    expect(isLocalAlias("#a:example.org:8448", SERVER)).toBe(false);
    expect(isLocalAlias("#a:other.org", SERVER)).toBe(false);
    expect(errcodeOf(() => requireLocalAlias("#a:other.org", SERVER))).toBe("400 M_INVALID_PARAM");
    expect(errcodeOf(() => requireLocalAlias("#a:example.org", SERVER))).toBeUndefined();
  });
});

describe("[as: namespaces/aliases] appservice alias namespaces", () => {
  const irc = reg("irc", [{ regex: "#irc_.*", exclusive: true }]);
  const shared = reg("shared", [{ regex: "#shared_.*", exclusive: false }]);
  const registry = new AppserviceRegistry([irc, shared], SERVER);

  it("[as: namespaces/aliases] an ordinary user cannot claim an alias in an exclusive namespace (M_EXCLUSIVE)", () => {
    expect(errcodeOf(() => checkAliasNamespace("#irc_chan:example.org", undefined, registry))).toBe("400 M_EXCLUSIVE");
    // non-exclusive namespaces and aliases outside any namespace are open to all
    expect(errcodeOf(() => checkAliasNamespace("#shared_x:example.org", undefined, registry))).toBeUndefined();
    expect(errcodeOf(() => checkAliasNamespace("#plain:example.org", undefined, registry))).toBeUndefined();
  });

  it("[as: namespaces/aliases] an appservice may only use aliases in its own namespace", () => {
    expect(errcodeOf(() => checkAliasNamespace("#irc_chan:example.org", irc, registry))).toBeUndefined();
    expect(errcodeOf(() => checkAliasNamespace("#plain:example.org", irc, registry))).toBe("400 M_EXCLUSIVE");
    expect(errcodeOf(() => checkAliasNamespace("#shared_x:example.org", shared, registry))).toBeUndefined();
    expect(errcodeOf(() => checkAliasNamespace("#irc_chan:example.org", shared, registry))).toBe("400 M_EXCLUSIVE");
  });

  it("[as: namespaces/aliases] an exclusive namespace of another appservice wins over a non-exclusive one", () => {
    const greedy = reg("greedy", [{ regex: "#irc_.*", exclusive: false }]);
    const r = new AppserviceRegistry([irc, greedy], SERVER);
    expect(errcodeOf(() => checkAliasNamespace("#irc_chan:example.org", greedy, r))).toBe("400 M_EXCLUSIVE");
  });
});

describe("[cs: m.room.canonical_alias] aliases to check against the index", () => {
  it("[cs: m.room.canonical_alias] a new alias and new alt_aliases are checked; unchanged ones are not", () => {
    expect(addedCanonicalAliases({ alias: "#a:s.org", alt_aliases: ["#b:s.org"] }, undefined)).toEqual(["#a:s.org", "#b:s.org"]);
    const previous = { alias: "#a:s.org", alt_aliases: ["#b:s.org"] };
    expect(addedCanonicalAliases({ alias: "#a:s.org", alt_aliases: ["#b:s.org", "#c:s.org"] }, previous)).toEqual(["#c:s.org"]);
    // the old canonical alias moved to alt_aliases was not in alt_aliases before: checked
    expect(addedCanonicalAliases({ alias: "#b:s.org", alt_aliases: ["#a:s.org"] }, previous)).toEqual(["#b:s.org", "#a:s.org"]);
  });

  it("[cs: m.room.canonical_alias] removing aliases checks nothing", () => {
    expect(addedCanonicalAliases({}, { alias: "#a:s.org", alt_aliases: ["#b:s.org"] })).toEqual([]);
    expect(addedCanonicalAliases({ alias: "", alt_aliases: [] }, { alias: "#a:s.org" })).toEqual([]);
    expect(addedCanonicalAliases({ alias: null }, undefined)).toEqual([]);
  });

  it("[cs: m.room.canonical_alias] bad grammar or field types are M_INVALID_PARAM", () => {
    expect(errcodeOf(() => addedCanonicalAliases({ alias: "not-an-alias" }, undefined))).toBe("400 M_INVALID_PARAM");
    expect(errcodeOf(() => addedCanonicalAliases({ alt_aliases: ["#ok:s.org", "bad"] }, undefined))).toBe("400 M_INVALID_PARAM");
    expect(errcodeOf(() => addedCanonicalAliases({ alias: 5 }, undefined))).toBe("400 M_INVALID_PARAM");
    expect(errcodeOf(() => addedCanonicalAliases({ alt_aliases: "#a:s.org" }, undefined))).toBe("400 M_INVALID_PARAM");
    expect(errcodeOf(() => addedCanonicalAliases({ alt_aliases: [1] }, undefined))).toBe("400 M_INVALID_PARAM");
  });

  it("[cs: m.room.canonical_alias] an old alt_aliases of the wrong shape counts as empty", () => {
    expect(addedCanonicalAliases({ alt_aliases: ["#a:s.org"] }, { alt_aliases: "#a:s.org" })).toEqual(["#a:s.org"]);
  });

  it("[cs: m.room.canonical_alias] canonicalAliasesOf lists alias then alt_aliases", () => {
    expect(canonicalAliasesOf({ alias: "#a:s.org", alt_aliases: ["#b:s.org", 3] })).toEqual(["#a:s.org", "#b:s.org"]);
    expect(canonicalAliasesOf({ alias: "" })).toEqual([]);
    expect(canonicalAliasesOf(undefined)).toEqual([]);
  });
});

describe("[cs: room aliases/delete] the canonical alias event after an alias is deleted", () => {
  it("[cs: room aliases/delete] the alias leaves alias and alt_aliases; other fields stay", () => {
    expect(withoutAlias({ alias: "#a:s.org", alt_aliases: ["#a:s.org", "#b:s.org"], x: 1 }, "#a:s.org")).toEqual({
      alt_aliases: ["#b:s.org"],
      x: 1,
    });
    expect(withoutAlias({ alias: "#b:s.org", alt_aliases: ["#a:s.org"] }, "#a:s.org")).toEqual({ alias: "#b:s.org", alt_aliases: [] });
  });

  it("[cs: room aliases/delete] a content not naming the alias needs no new event", () => {
    expect(withoutAlias({ alias: "#b:s.org" }, "#a:s.org")).toBeUndefined();
    expect(withoutAlias(undefined, "#a:s.org")).toBeUndefined();
  });
});
