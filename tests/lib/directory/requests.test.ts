// The directory endpoints' requests: /publicRooms (GET query, POST body) and /user_directory/search.
import { describe, expect, it } from "vitest";
import { encodeDirectoryToken } from "../../../lib/directory/pagination.ts";
import {
  DEFAULT_ROOMS_LIMIT,
  MAX_ROOMS_LIMIT,
  MAX_USERS_LIMIT,
  parsePublicRoomsGet,
  parsePublicRoomsPost,
  parseUserSearch,
} from "../../../lib/directory/requests.ts";
import { MatrixError } from "../../../lib/errors.ts";
import type { JsonObject } from "../../../lib/json.ts";

function errcodeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof MatrixError) return `${e.status} ${e.errcode}`;
    throw e;
  }
  return undefined;
}

const q = (s: string) => new URLSearchParams(s);
const post = (b: JsonObject, s = "") => parsePublicRoomsPost(b, q(s));
const token = encodeDirectoryToken({ dir: "f", key: { numJoinedMembers: 3, roomId: "!a:example.org" } });

describe("[cs: GET publicRooms] query parameters", () => {
  it("[cs: GET publicRooms] defaults: the local list, a default limit, no token", () => {
    expect(parsePublicRoomsGet(q(""))).toEqual({ limit: DEFAULT_ROOMS_LIMIT, scope: { kind: "local" } });
  });

  it("[cs: GET publicRooms] limit, since and server are read; limit is capped", () => {
    const r = parsePublicRoomsGet(q(`limit=5&since=${token}&server=example.org`));
    expect(r).toEqual({ limit: 5, since: { dir: "f", key: { numJoinedMembers: 3, roomId: "!a:example.org" } }, server: "example.org", scope: { kind: "local" } });
    expect(parsePublicRoomsGet(q("limit=100000")).limit).toBe(MAX_ROOMS_LIMIT);
  });

  it("[cs: GET publicRooms] a bad limit, token or server name is 400 M_INVALID_PARAM", () => {
    for (const s of ["limit=abc", "limit=0", "limit=-3", "limit=1.5", "since=nope", "server=bad_server!", "include_all_networks=yes"]) {
      expect(errcodeOf(() => parsePublicRoomsGet(q(s))), s).toBe("400 M_INVALID_PARAM");
    }
  });
});

describe("[cs: POST publicRooms] request body", () => {
  it("[cs: POST publicRooms] filter.generic_search_term and filter.room_types (null = rooms without a type)", () => {
    const r = post({ limit: 10, filter: { generic_search_term: "cheese", room_types: [null, "m.space", "m.space"] } });
    expect(r).toEqual({ limit: 10, searchTerm: "cheese", roomTypes: [null, "m.space"], scope: { kind: "local" } });
  });

  it("[cs: POST publicRooms] a blank search term and an empty room_types list filter nothing", () => {
    expect(post({ filter: { generic_search_term: "   ", room_types: [] } })).toEqual({ limit: DEFAULT_ROOMS_LIMIT, scope: { kind: "local" } });
  });

  it("[cs: POST publicRooms] include_all_networks and third_party_instance_id choose the lists", () => {
    expect(post({ include_all_networks: true }).scope).toEqual({ kind: "all" });
    expect(post({ third_party_instance_id: "bridge|gitter" }).scope).toEqual({ kind: "instance", instanceId: "bridge|gitter" });
    expect(errcodeOf(() => post({ include_all_networks: true, third_party_instance_id: "x" }))).toBe("400 M_INVALID_PARAM");
  });

  it("[cs: POST publicRooms] wrong types are 400 M_BAD_JSON; a bad since is M_INVALID_PARAM", () => {
    for (const b of <JsonObject[]>[{ filter: "x" }, { filter: { generic_search_term: 3 } }, { filter: { room_types: "m.space" } }, { filter: { room_types: [1] } }, { since: 5 }, { include_all_networks: "yes" }]) {
      expect(errcodeOf(() => post(b)), JSON.stringify(b)).toBe("400 M_BAD_JSON");
    }
    expect(errcodeOf(() => post({ since: "garbage" }))).toBe("400 M_INVALID_PARAM");
    expect(errcodeOf(() => post({ limit: "10" }))).toBe("400 M_INVALID_PARAM");
  });

  it("[cs: POST publicRooms] the server parameter comes from the query string", () => {
    expect(post({}, "server=other.org").server).toBe("other.org");
  });
});

describe("[cs: user_directory/search] request body", () => {
  it("[cs: user_directory/search] search_term is required; limit defaults to 10 and is capped", () => {
    expect(parseUserSearch({ search_term: "ali" })).toEqual({ searchTerm: "ali", limit: 10 });
    expect(parseUserSearch({ search_term: "ali", limit: 3 })).toEqual({ searchTerm: "ali", limit: 3 });
    expect(parseUserSearch({ search_term: "ali", limit: 10_000 }).limit).toBe(MAX_USERS_LIMIT);
    expect(errcodeOf(() => parseUserSearch({}))).toBe("400 M_MISSING_PARAM");
    expect(errcodeOf(() => parseUserSearch({ search_term: 5 }))).toBe("400 M_BAD_JSON");
    expect(errcodeOf(() => parseUserSearch({ search_term: "x", limit: 0 }))).toBe("400 M_INVALID_PARAM");
  });
});
