import { describe, expect, it } from "vitest";
import { MatrixError } from "../../lib/errors.ts";
import { pageRange, parseToken, positionAfterPage, streamToken, tryParseToken } from "../../lib/pagination-token.ts";

describe("pagination tokens", () => {
  it("[pagination] a token round-trips its stream position", () => {
    for (const n of [0, 1, 250, 2 ** 40]) expect(parseToken(streamToken(n), "from")).toBe(n);
  });

  it("[pagination] the topological form t<depth>-<stream> is read by its stream part", () => {
    expect(tryParseToken("t47-4392")).toBe(4392);
  });

  it("[pagination] anything else is M_INVALID_PARAM naming the parameter", () => {
    for (const bad of ["", "s", "s-1", "s1.5", "x12", "s1 ", "t1", "s99999999999999999", "s1_2_3"]) {
      expect(tryParseToken(bad)).toBeUndefined();
      try {
        parseToken(bad, "from");
        throw new Error(`accepted ${bad}`);
      } catch (e) {
        expect(e).toBeInstanceOf(MatrixError);
        expect((e as MatrixError).errcode).toBe("M_INVALID_PARAM");
        expect((e as MatrixError).message).toContain("from");
      }
    }
  });

  it("[pagination] ranges: backwards (to, from], forwards (from, to], clamped to the newest event", () => {
    expect(pageRange("b", 100, undefined, 250)).toEqual({ after: 0, upTo: 100 });
    expect(pageRange("b", 100, 40, 250)).toEqual({ after: 40, upTo: 100 });
    expect(pageRange("b", 100, 140, 250)).toEqual({ after: 100, upTo: 100 }); // `to` on the wrong side: empty
    expect(pageRange("b", 900, undefined, 250)).toEqual({ after: 0, upTo: 250 });
    expect(pageRange("f", 100, undefined, 250)).toEqual({ after: 100, upTo: 250 });
    expect(pageRange("f", 100, 140, 250)).toEqual({ after: 100, upTo: 140 });
    expect(pageRange("f", 100, 40, 250)).toEqual({ after: 100, upTo: 100 });
  });

  it("[pagination] consecutive pages meet without gap or overlap", () => {
    // Backwards page that scanned down to stream 91: the next page starts at position 90 (events ≤ 90).
    expect(positionAfterPage("b", 91)).toBe(90);
    // Forwards page that scanned up to stream 110: the next page starts after 110.
    expect(positionAfterPage("f", 110)).toBe(110);
  });
});
