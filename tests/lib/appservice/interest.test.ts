// Which appservices an event concerns (spec: registration, "interested").
import { describe, expect, it } from "vitest";
import { interestedInEvent, RoomInterest, type EventFacts } from "../../../lib/appservice/interest.ts";
import { validateRegistration } from "../../../lib/appservice/registration.ts";
import { AppserviceRegistry } from "../../../lib/appservice/registry.ts";

const SERVER = "example.org";
const irc = validateRegistration(
  {
    id: "irc",
    url: "http://127.0.0.1:1",
    as_token: "a1",
    hs_token: "h1",
    sender_localpart: "ircbot",
    namespaces: {
      users: [{ regex: "@_irc_.*:example\\.org", exclusive: true }],
      aliases: [{ regex: "#irc_.*:example\\.org", exclusive: false }],
      rooms: [{ regex: "!bridged.*", exclusive: false }],
    },
  },
  "irc.yaml",
);
const slack = validateRegistration(
  { id: "slack", url: null, as_token: "a2", hs_token: "h2", sender_localpart: "slackbot", namespaces: { users: [{ regex: "@_slack_.*", exclusive: true }] } },
  "slack.yaml",
);
const registry = new AppserviceRegistry([irc, slack], SERVER);

const ev = (over: Partial<EventFacts>): EventFacts => ({ roomId: "!plain:example.org", sender: "@alice:example.org", type: "m.room.message", aliases: [], ...over });

describe("[as: interest] event alone", () => {
  it("[as: interest] sender in the user namespace", () => {
    expect(interestedInEvent(irc, ev({ sender: "@_irc_bob:example.org" }), SERVER)).toBe(true);
    expect(interestedInEvent(irc, ev({}), SERVER)).toBe(false);
  });
  it("[as: interest] the appservice's own sender user counts as in its namespace", () => {
    expect(interestedInEvent(irc, ev({ sender: "@ircbot:example.org" }), SERVER)).toBe(true);
  });
  it("[as: interest] the target (state_key) of a member event in the user namespace; other state keys do not count", () => {
    expect(interestedInEvent(irc, ev({ type: "m.room.member", stateKey: "@_irc_bob:example.org" }), SERVER)).toBe(true);
    expect(interestedInEvent(irc, ev({ type: "m.room.power_levels", stateKey: "@_irc_bob:example.org" }), SERVER)).toBe(false);
  });
  it("[as: interest] room ID in the room namespace", () => {
    expect(interestedInEvent(irc, ev({ roomId: "!bridged1:example.org" }), SERVER)).toBe(true);
  });
  it("[as: interest] a room alias in the alias namespace", () => {
    expect(interestedInEvent(irc, ev({ aliases: ["#other:example.org", "#irc_chan:example.org"] }), SERVER)).toBe(true);
    expect(interestedInEvent(irc, ev({ aliases: ["#other:example.org"] }), SERVER)).toBe(false);
  });
});

describe("[as: interest] joined members (RoomInterest)", () => {
  it("[as: interest] any event in a room where one of the appservice's users is joined", () => {
    const room = new RoomInterest(registry, SERVER, ["@alice:example.org", "@_slack_x:example.org"]);
    expect(room.interested(ev({}))).toEqual(["slack"]);
  });

  it("[as: interest] membership changes after commit are tracked: leave ends interest, join starts it", () => {
    const room = new RoomInterest(registry, SERVER, ["@alice:example.org"]);
    expect(room.interested(ev({}))).toEqual([]);
    room.noteMembership("@_irc_bob:example.org", "join");
    expect(room.interested(ev({}))).toEqual(["irc"]);
    room.noteMembership("@_irc_bob:example.org", "invite");
    expect(room.interested(ev({}))).toEqual([]);
    room.noteMembership("@_irc_bob:example.org", "join");
    room.noteMembership("@_irc_eve:example.org", "join");
    room.noteMembership("@_irc_bob:example.org", "leave");
    expect(room.interested(ev({}))).toEqual(["irc"]);
  });

  it("[as: interest] changes pending in the same batch count: a join before the event starts interest, a leave of the last user ends it", () => {
    const room = new RoomInterest(registry, SERVER, ["@_irc_bob:example.org"]);
    expect(room.interested(ev({}), new Map([["@_irc_bob:example.org", "leave"]]))).toEqual([]);
    expect(room.interested(ev({}), new Map([["@_irc_other:example.org", "leave"]]))).toEqual(["irc"]);
    expect(room.interested(ev({}), new Map([["@_slack_new:example.org", "join"]]))).toEqual(["irc", "slack"]);
    expect(room.interested(ev({}), new Map([["@alice:example.org", "leave"]]))).toEqual(["irc"]);
  });

  it("[as: interest] no registrations: nobody is interested", () => {
    const room = new RoomInterest(new AppserviceRegistry([], SERVER), SERVER, ["@_irc_bob:example.org"]);
    expect(room.interested(ev({ sender: "@_irc_bob:example.org" }))).toEqual([]);
  });
});

describe("[as: ephemeral] interest in a room as such (typing, receipts)", () => {
  it("[as: ephemeral] by room ID, by alias, or by a joined user (kept as members join and leave)", () => {
    const room = new RoomInterest(registry, SERVER, ["@alice:example.org"]);
    expect(room.interestedInRoom("!plain:example.org", [])).toEqual([]);
    expect(room.interestedInRoom("!bridged1:example.org", [])).toEqual(["irc"]);
    expect(room.interestedInRoom("!plain:example.org", ["#irc_chan:example.org"])).toEqual(["irc"]);
    room.noteMembership("@_slack_x:example.org", "join");
    expect(room.interestedInRoom("!plain:example.org", [])).toEqual(["slack"]);
    room.noteMembership("@_slack_x:example.org", "leave");
    expect(room.interestedInRoom("!plain:example.org", [])).toEqual([]);
  });
});
