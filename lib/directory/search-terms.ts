/**
 * Search terms → SQLite FTS5 queries for the room and user directories.
 *
 * A client's term is never handed to MATCH as written: FTS5 has its own query language
 * (`AND`, `OR`, `NOT`, `NEAR(…)`, `column:`, `^`, `*`, quotes, parentheses), and a term
 * such as `name:x OR` would be a syntax error or a different query. The term is cut into
 * words the way the index's `unicode61` tokenizer cuts text (runs of letters, digits and
 * marks; everything else separates), each word is written as a quoted string — which
 * cannot contain a quote, so nothing inside it is syntax — with `*` for prefix matching,
 * and the words are joined by spaces, FTS5's implicit AND. "mus lov" finds "Music
 * lovers"; case and diacritics are folded by the tokenizer on both sides.
 * https://www.sqlite.org/fts5.html#full_text_query_syntax
 */

/** Words beyond this many are dropped (each costs a posting-list scan). */
export const MAX_SEARCH_WORDS = 8;
/** Longer words are cut (no real name or topic word is longer; bounds the query size). */
export const MAX_WORD_LENGTH = 64;

// unicode61 treats letters, numbers and private-use characters as token characters
// (`categories "L* N* Co"`), and with remove_diacritics combining marks fold away.
const WORD = /[\p{L}\p{N}\p{M}\p{Co}]+/gu;

/** The words of a term, lower-cased, de-duplicated, in order; at most MAX_SEARCH_WORDS. */
export function searchWords(term: string): string[] {
  const out: string[] = [];
  for (const m of term.normalize("NFKC").toLowerCase().matchAll(WORD)) {
    const word = [...m[0]].slice(0, MAX_WORD_LENGTH).join("");
    // A run of combining marks alone is no word to the tokenizer.
    if (/^\p{M}+$/u.test(word) || out.includes(word)) continue;
    out.push(word);
    if (out.length === MAX_SEARCH_WORDS) break;
  }
  return out;
}

/**
 * The FTS5 query matching rows that contain every word of the term as a word prefix,
 * or null when the term has no words (then nothing can match).
 */
export function ftsPrefixQuery(term: string): string | null {
  const words = searchWords(term);
  if (words.length === 0) return null;
  return words.map((w) => `"${w}"*`).join(" ");
}
