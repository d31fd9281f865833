// The registrations as a set: conflicts refused (naming file and field), namespace questions,
// and the APPSERVICE_REGISTRATIONS value the scripts write and the Worker reads.
import { describe, expect, it } from "vitest";
import { parseRegistrationsVar, registrationsFromFiles } from "../../../lib/appservice/config.ts";
import { RegistrationError, validateRegistration, type Registration } from "../../../lib/appservice/registration.ts";
import { AppserviceRegistry, mayMasquerade } from "../../../lib/appservice/registry.ts";

const SERVER = "example.org";

function reg(id: string, over: Record<string, unknown> = {}): Registration {
  return validateRegistration(
    {
      id,
      url: `http://127.0.0.1:9000/${id}`,
      as_token: `as-${id}`,
      hs_token: `hs-${id}`,
      sender_localpart: `_${id}_bot`,
      namespaces: { users: [{ regex: `@_${id}_.*`, exclusive: true }], aliases: [{ regex: `#_${id}_.*`, exclusive: true }], rooms: [] },
      ...over,
    },
    `${id}.yaml`,
  );
}

function refused(regs: Registration[]): RegistrationError {
  try {
    new AppserviceRegistry(regs, SERVER);
  } catch (e) {
    expect(e).toBeInstanceOf(RegistrationError);
    return e as RegistrationError;
  }
  throw new Error("accepted");
}

describe("[as: registration] conflicts between registrations", () => {
  it("[as: registration] distinct registrations load together", () => {
    const r = new AppserviceRegistry([reg("irc"), reg("slack")], SERVER);
    expect(r.all.map((x) => x.id)).toEqual(["irc", "slack"]);
    expect(r.byId("slack")?.source).toBe("slack.yaml");
  });

  it("[as: registration] a duplicate id is refused, naming the later file and the earlier one", () => {
    const e = refused([reg("irc"), reg("irc", { as_token: "other", hs_token: "other2", sender_localpart: "x", namespaces: {} })]);
    expect(e.message).toBe(`irc.yaml: 'id' is the same as registration "irc" (irc.yaml)`);
  });

  it("[as: registration] a duplicate as_token or hs_token (even across the two kinds) is refused", () => {
    expect(refused([reg("a"), reg("b", { as_token: "as-a" })]).field).toBe("as_token");
    expect(refused([reg("a"), reg("b", { hs_token: "hs-a" })]).field).toBe("hs_token");
    expect(refused([reg("a"), reg("b", { as_token: "hs-a" })]).field).toBe("as_token");
  });

  it("[as: registration] the same sender_localpart is refused", () => {
    expect(refused([reg("a"), reg("b", { sender_localpart: "_a_bot" })]).field).toBe("sender_localpart");
  });

  it("[as: namespaces] identical exclusive regexes of the same kind are refused; non-exclusive ones may be shared", () => {
    const e = refused([reg("a"), reg("b", { namespaces: { users: [{ regex: "@_a_.*", exclusive: true }] } })]);
    expect(e.field).toBe("namespaces.users[0].regex");
    expect(e.message).toContain("already claimed");
    // The same regex, one side not exclusive: allowed.
    new AppserviceRegistry([reg("a"), reg("b", { namespaces: { users: [{ regex: "@_a_.*", exclusive: false }] } })], SERVER);
    // The same regex in different kinds: allowed.
    new AppserviceRegistry([reg("a"), reg("b", { namespaces: { rooms: [{ regex: "@_a_.*", exclusive: true }] } })], SERVER);
  });

  it("[as: namespaces] documented limit: different exclusive regexes that overlap are not detected; the first registration owns the overlap", () => {
    const r = new AppserviceRegistry([reg("a"), reg("b", { namespaces: { users: [{ regex: "@_a_x.*", exclusive: true }] } })], SERVER);
    expect(r.exclusiveOwner("users", "@_a_xy:example.org")?.id).toBe("a");
  });

  it("[as: namespaces] a sender inside another appservice's exclusive user namespace is refused", () => {
    const e = refused([reg("a"), reg("b", { sender_localpart: "_a_sneaky" })]);
    expect(e.message).toBe(`b.yaml: 'sender_localpart' @_a_sneaky:example.org is inside the exclusive user namespace of "a" (a.yaml)`);
  });
});

describe("[as: namespaces] questions", () => {
  const r = new AppserviceRegistry(
    [reg("a", { protocols: ["irc"] }), reg("b", { protocols: ["irc", "xmpp"], namespaces: { users: [{ regex: "@_b_.*", exclusive: false }] } })],
    SERVER,
  );

  it("[as: namespaces] exclusiveOwner finds only exclusive namespaces", () => {
    expect(r.exclusiveOwner("users", "@_a_1:example.org")?.id).toBe("a");
    expect(r.exclusiveOwner("users", "@_b_1:example.org")).toBeUndefined();
    expect(r.exclusiveOwner("aliases", "#_a_room:example.org")?.id).toBe("a");
    expect(r.exclusiveOwner("users", "@alice:example.org")).toBeUndefined();
  });

  it("[as: namespaces] userNamespaceOwners includes non-exclusive namespaces", () => {
    expect(r.userNamespaceOwners("@_b_1:example.org").map((x) => x.id)).toEqual(["b"]);
    expect(r.aliasNamespaceOwners("#_a_x:example.org").map((x) => x.id)).toEqual(["a"]);
  });

  it("[as: thirdparty] withProtocol lists the appservices declaring a protocol, in load order", () => {
    expect(r.withProtocol("irc").map((x) => x.id)).toEqual(["a", "b"]);
    expect(r.withProtocol("xmpp").map((x) => x.id)).toEqual(["b"]);
    expect(r.withProtocol("gitter")).toEqual([]);
  });

  it("[as: identity assertion] an appservice may act as its sender and its namespaced users, nobody else", () => {
    const a = r.byId("a")!;
    expect(mayMasquerade(a, "@_a_bot:example.org", SERVER)).toBe(true);
    expect(mayMasquerade(a, "@_a_ghost:example.org", SERVER)).toBe(true);
    expect(mayMasquerade(a, "@alice:example.org", SERVER)).toBe(false);
    expect(mayMasquerade(a, "@_b_ghost:example.org", SERVER)).toBe(false);
  });
});

describe("[as: config] APPSERVICE_REGISTRATIONS", () => {
  const yaml = (id: string) =>
    `id: ${id}\nurl: http://127.0.0.1:1/\nas_token: as-${id}\nhs_token: hs-${id}\nsender_localpart: ${id}bot\nnamespaces:\n  users: [{regex: "@${id}_.*", exclusive: true}]\n`;

  it("[as: config] files → value → the same registrations in the Worker, with file names kept for errors", () => {
    const { registry, value } = registrationsFromFiles([{ name: "one.yaml", text: yaml("one") }, { name: "two.yaml", text: yaml("two") }], SERVER);
    expect(registry.all.map((x) => x.id)).toEqual(["one", "two"]);
    const again = parseRegistrationsVar(value, SERVER);
    expect(again.all.map((x) => [x.id, x.source, x.url])).toEqual([["one", "one.yaml", "http://127.0.0.1:1"], ["two", "two.yaml", "http://127.0.0.1:1"]]);
    expect(again.exclusiveOwner("users", "@two_x:example.org")?.id).toBe("two");
  });

  it("[as: config] unset or empty means no appservices; bare registration objects are accepted", () => {
    expect(parseRegistrationsVar(undefined).all).toEqual([]);
    expect(parseRegistrationsVar("  ").all).toEqual([]);
    const bare = parseRegistrationsVar(JSON.stringify([{ id: "x", url: null, as_token: "a", hs_token: "h", sender_localpart: "xbot", namespaces: {} }]));
    expect(bare.all[0]!.source).toBe("APPSERVICE_REGISTRATIONS[0]");
  });

  it("[as: config] a bad value is refused naming the variable or the item's file and field", () => {
    expect(() => parseRegistrationsVar("{nope")).toThrow(/^APPSERVICE_REGISTRATIONS: is not JSON/);
    expect(() => parseRegistrationsVar("{}")).toThrow("APPSERVICE_REGISTRATIONS: must be a JSON array of registrations");
    expect(() => parseRegistrationsVar(JSON.stringify([{ source: "z.yaml", registration: { id: "z" } }]))).toThrow("z.yaml: 'url' is required");
    expect(() => registrationsFromFiles([{ name: "one.yaml", text: yaml("one") }, { name: "dup.yaml", text: yaml("one") }])).toThrow(/^dup\.yaml: 'id' is the same/);
  });
});
