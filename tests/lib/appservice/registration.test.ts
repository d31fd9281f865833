// Registration files: every field of the spec's registration, bridges' MSC flags, and
// refusals whose messages name the file and the field.
import { describe, expect, it } from "vitest";
import { parseRegistrationYaml, RegistrationError, registrationToJson, validateRegistration } from "../../../lib/appservice/registration.ts";

const GOOD = `
id: irc
url: "http://127.0.0.1:9000/"
as_token: "as-secret"
hs_token: "hs-secret"
sender_localpart: _irc_bot
rate_limited: false
protocols: ["irc"]
receive_ephemeral: true
namespaces:
  users:
    - exclusive: true
      regex: "@_irc_.*:example\\\\.org"
  aliases:
    - exclusive: false
      regex: "#_irc_.*"
  rooms: []
`;

function refusal(text: string): RegistrationError {
  try {
    parseRegistrationYaml(text, "bridges/irc.yaml");
  } catch (e) {
    expect(e).toBeInstanceOf(RegistrationError);
    return e as RegistrationError;
  }
  throw new Error("registration was accepted");
}

const without = (field: string) => GOOD.split("\n").filter((l) => !l.startsWith(`${field}:`)).join("\n");
const replace = (field: string, value: string) => GOOD.replace(new RegExp(`^${field}:.*$`, "m"), `${field}: ${value}`);

describe("[as: registration] parsing", () => {
  it("[as: registration] every spec field is read; url loses its trailing slash; regexes compile", () => {
    const r = parseRegistrationYaml(GOOD, "irc.yaml");
    expect(r).toMatchObject({
      id: "irc",
      url: "http://127.0.0.1:9000",
      asToken: "as-secret",
      hsToken: "hs-secret",
      senderLocalpart: "_irc_bot",
      rateLimited: false,
      protocols: ["irc"],
      receiveEphemeral: true,
      msc3202: false,
      source: "irc.yaml",
    });
    expect(r.namespaces.users).toHaveLength(1);
    expect(r.namespaces.users[0]!.exclusive).toBe(true);
    expect(r.namespaces.users[0]!.pattern.test("@_irc_alice:example.org")).toBe(true);
    expect(r.namespaces.users[0]!.pattern.test("@_irc_alice:exampleXorg")).toBe(false);
    expect(r.namespaces.aliases[0]!.exclusive).toBe(false);
    expect(r.namespaces.rooms).toEqual([]);
  });

  it("[as: registration] url may be null (no traffic); rate_limited defaults to true; omitted namespace kinds are empty", () => {
    const r = parseRegistrationYaml(
      "id: a\nurl: null\nas_token: x\nhs_token: y\nsender_localpart: bot\nnamespaces: {}\n",
      "a.yaml",
    );
    expect(r.url).toBeNull();
    expect(r.rateLimited).toBe(true);
    expect(r.receiveEphemeral).toBe(false);
    expect(r.namespaces).toEqual({ users: [], aliases: [], rooms: [] });
  });

  it("[as: MSC2409] de.sorunome.msc2409.push_ephemeral and push_ephemeral opt in to ephemeral data like receive_ephemeral", () => {
    for (const flag of ["de.sorunome.msc2409.push_ephemeral", "push_ephemeral", "receive_ephemeral"]) {
      const r = parseRegistrationYaml(without("receive_ephemeral") + `\n"${flag}": true\n`, "f.yaml");
      expect(r.receiveEphemeral, flag).toBe(true);
    }
    expect(parseRegistrationYaml(without("receive_ephemeral"), "f.yaml").receiveEphemeral).toBe(false);
    expect(parseRegistrationYaml(GOOD + '\n"org.matrix.msc3202": true\n', "f.yaml").msc3202).toBe(true);
  });

  it("[as: registration] matching is anchored at the start of the ID (as Synapse matches), not at the end", () => {
    const r = parseRegistrationYaml(GOOD.replace("@_irc_.*:example\\\\.org", "@_irc_"), "f.yaml");
    expect(r.namespaces.users[0]!.pattern.test("@_irc_bob:example.org")).toBe(true);
    expect(r.namespaces.users[0]!.pattern.test("@x_irc_bob:example.org")).toBe(false);
  });

  it("[as: registration] escapes that Python and Go accept (\\@, \\:) compile", () => {
    const r = parseRegistrationYaml(GOOD.replace("@_irc_.*:example\\\\.org", "\\\\@_irc_.*\\\\:example\\\\.org"), "f.yaml");
    expect(r.namespaces.users[0]!.pattern.test("@_irc_a:example.org")).toBe(true);
  });

  it("[as: registration] the JSON form round-trips through validateRegistration", () => {
    const r = parseRegistrationYaml(GOOD, "irc.yaml");
    const again = validateRegistration(JSON.parse(JSON.stringify(registrationToJson(r))), "irc.yaml");
    expect(registrationToJson(again)).toEqual(registrationToJson(r));
  });
});

describe("[as: registration] refusals name the file and the field", () => {
  const cases: Array<[string, string, string]> = [
    ["missing id", without("id"), "'id' is required"],
    ["missing url", without("url"), "'url' is required"],
    ["url not a URL", replace("url", '"not a url"'), "'url' is not a URL"],
    ["url with another scheme", replace("url", '"ftp://x"'), "'url' must be an http(s) URL"],
    ["as_token a number", replace("as_token", "12345"), "'as_token' must be a string (got number 12345)"],
    ["empty hs_token", replace("hs_token", '""'), "'hs_token' must not be empty"],
    ["same tokens", replace("hs_token", '"as-secret"'), "'hs_token' must differ from as_token"],
    ["bad sender_localpart", replace("sender_localpart", '"Bot:x"'), "'sender_localpart' \"Bot:x\" is not a valid user localpart"],
    ["missing namespaces", GOOD.slice(0, GOOD.indexOf("namespaces:")), "'namespaces' is required"],
    ["namespaces a list", GOOD.slice(0, GOOD.indexOf("namespaces:")) + "namespaces: []\n", "'namespaces' must be a mapping"],
    ["users not a list", GOOD.replace(/users:\n(.*\n){2}/, "users: 3\n"), "'namespaces.users' must be a list"],
    ["exclusive missing", GOOD.replace("- exclusive: true\n      regex", "- regex"), "'namespaces.users[0].exclusive' is required"],
    ["exclusive a string", GOOD.replace("exclusive: true", 'exclusive: "yes"'), "'namespaces.users[0].exclusive' is required and must be true or false"],
    ["bad regex", GOOD.replace("@_irc_.*:example\\\\.org", "@_irc_(["), "'namespaces.users[0].regex' is not a valid regular expression"],
    ["rate_limited a string", replace("rate_limited", '"no"'), "'rate_limited' must be true or false"],
    ["protocols not a list", replace("protocols", "irc"), "'protocols' must be a list"],
    ["push_ephemeral a string", GOOD + '\n"de.sorunome.msc2409.push_ephemeral": "true"\n', "'de.sorunome.msc2409.push_ephemeral' must be true or false"],
  ];
  for (const [name, text, message] of cases) {
    it(`[as: registration] ${name}`, () => {
      const e = refusal(text);
      expect(e.message.startsWith("bridges/irc.yaml: ")).toBe(true);
      expect(e.message).toContain(message);
    });
  }

  it("[as: registration] YAML that does not parse, duplicate keys and a non-mapping document are refused", () => {
    expect(refusal("id: [unclosed\n").message).toMatch(/^bridges\/irc\.yaml: is not valid YAML/);
    expect(refusal(GOOD + "id: again\n").message).toMatch(/^bridges\/irc\.yaml: is not valid YAML/);
    expect(refusal("- just\n- a list\n").message).toBe("bridges/irc.yaml: must be a mapping of registration fields");
    expect(refusal("").message).toBe("bridges/irc.yaml: must be a mapping of registration fields");
  });

  it("[as: registration] the error carries source and field separately", () => {
    const e = refusal(replace("as_token", "1"));
    expect(e.source).toBe("bridges/irc.yaml");
    expect(e.field).toBe("as_token");
  });
});
