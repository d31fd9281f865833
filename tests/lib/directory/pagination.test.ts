// Keyset pagination of the room directory: tokens, and pages assembled from query rows,
// checked against a model that pages a sorted list by offset.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { assemblePage, encodeDirectoryToken, parseDirectoryToken, precedes, type DirectoryToken, type PageKey } from "../../../lib/directory/pagination.ts";
import { MatrixError } from "../../../lib/errors.ts";

describe("[cs: publicRooms/pagination] tokens", () => {
  it("[cs: publicRooms/pagination] a token round-trips and carries its direction", () => {
    const t: DirectoryToken = { dir: "b", key: { numJoinedMembers: 42, roomId: "!abc:example.org" } };
    expect(parseDirectoryToken(encodeDirectoryToken(t))).toEqual(t);
    expect(encodeDirectoryToken(t)).toMatch(/^b42\.[A-Za-z0-9_-]+$/);
  });

  it("[cs: publicRooms/pagination] anything else is 400 M_INVALID_PARAM", () => {
    for (const bad of ["", "x1.YQ", "f1", "f-1.IXI", "f1.!!!", "f1.YQ" /* decodes to 'a': no room ID */, "s12", `f1.${"A".repeat(500)}`]) {
      let err: unknown;
      try {
        parseDirectoryToken(bad);
      } catch (e) {
        err = e;
      }
      expect(err, bad).toBeInstanceOf(MatrixError);
      expect((err as MatrixError).errcode).toBe("M_INVALID_PARAM");
    }
  });

  it("[cs: publicRooms/pagination] order: more members first, then room ID ascending", () => {
    expect(precedes({ numJoinedMembers: 5, roomId: "!z" }, { numJoinedMembers: 4, roomId: "!a" })).toBe(true);
    expect(precedes({ numJoinedMembers: 4, roomId: "!a" }, { numJoinedMembers: 4, roomId: "!b" })).toBe(true);
    expect(precedes({ numJoinedMembers: 4, roomId: "!b" }, { numJoinedMembers: 4, roomId: "!b" })).toBe(false);
  });
});

/** What the SQL query returns for a token: the rooms after (f) or before (b) it, in the page's direction, limit + 1. */
function query(all: PageKey[], limit: number, since: DirectoryToken | undefined): PageKey[] {
  const sorted = [...all].sort((a, b) => (precedes(a, b) ? -1 : precedes(b, a) ? 1 : 0));
  if (!since) return sorted.slice(0, limit + 1);
  if (since.dir === "f") return sorted.filter((r) => precedes(since.key, r)).slice(0, limit + 1);
  return sorted.filter((r) => precedes(r, since.key)).reverse().slice(0, limit + 1);
}

const rooms = fc.uniqueArray(fc.record({ numJoinedMembers: fc.integer({ min: 0, max: 5 }), roomId: fc.stringMatching(/^![a-f]{1,3}$/) }), {
  selector: (r) => r.roomId,
  maxLength: 30,
});

describe("[cs: publicRooms/pagination] pages", () => {
  it("[cs: publicRooms/pagination] following next_batch visits every room once, in order; prev_batch walks back the same pages (property)", () => {
    fc.assert(
      fc.property(rooms, fc.integer({ min: 1, max: 7 }), (all, limit) => {
        const sorted = query(all, all.length, undefined);
        const pages: PageKey[][] = [];
        let since: DirectoryToken | undefined;
        for (;;) {
          const page = assemblePage(query(all, limit, since), limit, since);
          pages.push(page.items);
          // the first page has no prev_batch; later ones do
          expect(page.prevBatch === undefined).toBe(since === undefined);
          if (!page.nextBatch) break;
          since = parseDirectoryToken(page.nextBatch);
        }
        expect(pages.flat()).toEqual(sorted.slice(0, all.length));
        expect(pages.every((p, i) => p.length === limit || i === pages.length - 1)).toBe(true);
        // back from the last page: the earlier pages again, then no prev_batch
        const last = assemblePage(query(all, limit, since), limit, since);
        let prev = last.prevBatch;
        for (let i = pages.length - 2; i >= 0; i--) {
          expect(prev).toBeDefined();
          const t = parseDirectoryToken(prev!);
          const page = assemblePage(query(all, limit, t), limit, t);
          expect(page.items).toEqual(pages[i]);
          expect(page.nextBatch).toBeDefined();
          prev = page.prevBatch;
        }
        expect(prev).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it("[cs: publicRooms/pagination] a room added before the current position does not repeat a room on the next page", () => {
    const all = [1, 2, 3, 4].map((n) => ({ numJoinedMembers: 10 - n, roomId: `!r${n}` }));
    const first = assemblePage(query(all, 2, undefined), 2, undefined);
    all.push({ numJoinedMembers: 100, roomId: "!big" });
    const t = parseDirectoryToken(first.nextBatch!);
    const second = assemblePage(query(all, 2, t), 2, t);
    expect(second.items.map((r) => r.roomId)).toEqual(["!r3", "!r4"]);
  });

  it("[cs: publicRooms/pagination] an empty result has no tokens", () => {
    expect(assemblePage([], 5, undefined)).toEqual({ items: [] });
  });
});
