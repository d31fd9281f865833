// Search terms become FTS5 queries of quoted word prefixes only: whatever a client sends,
// no FTS5 operator, column filter or quote reaches MATCH. (The queries run against real
// FTS5 in tests/workers/directory-search.test.ts; sql.js here has no FTS5.)
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ftsPrefixQuery, MAX_SEARCH_WORDS, MAX_WORD_LENGTH, searchWords } from "../../../lib/directory/search-terms.ts";

/** The only shape a generated query may have: quoted words without quotes, each a prefix, space separated. */
const QUERY_SHAPE = /^"[^"\s]+"\*(?: "[^"\s]+"\*)*$/u;

describe("[directory: search terms] words of a search term", () => {
  it("[directory: search terms] words are runs of letters and digits, lower-cased, in order, without repeats", () => {
    expect(searchWords("Music Lovers")).toEqual(["music", "lovers"]);
    expect(searchWords("  @alice:example.org ")).toEqual(["alice", "example", "org"]);
    expect(searchWords("rock'n'roll, rock!")).toEqual(["rock", "n", "roll"]);
    expect(searchWords("Ünïcödé 東京 123")).toEqual(["ünïcödé", "東京", "123"]);
    expect(searchWords("!!! --- ...")).toEqual([]);
  });

  it("[directory: search terms] full-width forms fold (NFKC) like the tokenizer's folding", () => {
    expect(searchWords("ＭＵＳＩＣ")).toEqual(["music"]);
  });

  it("[directory: search terms] at most MAX_SEARCH_WORDS words of at most MAX_WORD_LENGTH characters", () => {
    const many = Array.from({ length: 20 }, (_, i) => `w${i}`).join(" ");
    expect(searchWords(many)).toHaveLength(MAX_SEARCH_WORDS);
    expect(searchWords("x".repeat(1000))[0]).toHaveLength(MAX_WORD_LENGTH);
  });
});

describe("[directory: search terms] FTS5 queries", () => {
  it("[directory: search terms] each word becomes a quoted prefix, joined by implicit AND", () => {
    expect(ftsPrefixQuery("mus lov")).toBe('"mus"* "lov"*');
    expect(ftsPrefixQuery("#music-lovers:example.org")).toBe('"music"* "lovers"* "example"* "org"*');
  });

  it("[directory: search terms] FTS5 syntax in the term is only text", () => {
    expect(ftsPrefixQuery('name:x OR y NOT "z" NEAR(a b) ^c *')).toBe('"name"* "x"* "or"* "y"* "not"* "z"* "near"* "a"*');
    expect(ftsPrefixQuery('") OR 1=1 --')).toBe('"or"* "1"*');
  });

  it("[directory: search terms] a term without words gives no query", () => {
    expect(ftsPrefixQuery("")).toBeNull();
    expect(ftsPrefixQuery("  * \" : ^ ( ) ")).toBeNull();
  });

  it("[directory: search terms] any input yields null or a query of quoted word prefixes only (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 80 }), (term) => {
        const q = ftsPrefixQuery(term);
        if (q === null) return searchWords(term).length === 0;
        return QUERY_SHAPE.test(q) && q.split(" ").length <= MAX_SEARCH_WORDS;
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.array(fc.constantFrom('"', "*", ":", "^", "(", ")", "OR", "AND", "NOT", "NEAR", "+", "-", " ", "a", "é", "1", "\u0301"), { maxLength: 40 }), (parts) => {
        const q = ftsPrefixQuery(parts.join(""));
        return q === null || QUERY_SHAPE.test(q);
      }),
      { numRuns: 2000 },
    );
  });
});
