/**
 * Glob-style matching for push rules: `*` matches zero or more characters, `?`
 * exactly one; everything else is literal. Matching is case-insensitive (Unicode
 * simple case folding, the spec leaves the exact meaning to the server).
 * https://spec.matrix.org/v1.19/appendices/#glob-style-matching
 */

/** The characters that are not part of a word: anything but [A-Za-z0-9_]. */
const WORD_CHAR = "[A-Za-z0-9_]";

// Patterns repeat across every event and member; compiled regexes are reused.
const cache = new Map<string, RegExp>();
const CACHE_LIMIT = 1000;

function globSource(glob: string): string {
  let out = "";
  for (const ch of glob) {
    if (ch === "*") out += "[\\s\\S]*";
    else if (ch === "?") out += "[\\s\\S]";
    else if (/[\\^$.*+?()[\]{}|/]/.test(ch)) out += "\\" + ch;
    else out += ch;
  }
  return out;
}

function compiled(key: string, source: string): RegExp {
  let re = cache.get(key);
  if (!re) {
    re = new RegExp(source, "iu");
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(key, re);
  }
  return re;
}

/** The glob matches the whole of `value`. */
export function globMatchesWhole(glob: string, value: string): boolean {
  return compiled("w" + glob, `^${globSource(glob)}$`).test(value);
}

/**
 * The glob matches some substring of `value` that starts and ends at a word
 * boundary: the start or end of the value, or a character outside [A-Za-z0-9_]
 * (the rule for `content.body` and content rules).
 */
export function globMatchesWords(glob: string, value: string): boolean {
  return compiled("b" + glob, `(?<!${WORD_CHAR})${globSource(glob)}(?!${WORD_CHAR})`).test(value);
}

/** `literal` (not a glob) occurs in `value` between word boundaries, case-insensitively. */
export function literalMatchesWords(literal: string, value: string): boolean {
  const source = [...literal].map((ch) => (/[\\^$.*+?()[\]{}|/]/.test(ch) ? "\\" + ch : ch)).join("");
  return compiled("l" + literal, `(?<!${WORD_CHAR})${source}(?!${WORD_CHAR})`).test(value);
}
