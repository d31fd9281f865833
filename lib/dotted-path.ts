/**
 * Dot-separated property paths (`content.m\.relates_to.rel_type`).
 * https://spec.matrix.org/v1.19/appendices/#dot-separated-property-paths
 *
 * A literal dot or backslash inside a property name is escaped with a backslash;
 * any other escape sequence is kept as it is (`\x` is a backslash and an `x`).
 */
import type { JsonValue } from "./json.ts";
import { isJsonObject } from "./json.ts";

/** Paths seen (push rule keys repeat for every event evaluated): split once. */
const splitCache = new Map<string, readonly string[]>();
const SPLIT_CACHE_LIMIT = 1024;

/** The property names a path names, unescaped. */
export function splitDottedPath(path: string): string[] {
  return [...splitCached(path)];
}

function splitCached(path: string): readonly string[] {
  let parts = splitCache.get(path);
  if (!parts) {
    if (splitCache.size >= SPLIT_CACHE_LIMIT) splitCache.clear();
    splitCache.set(path, (parts = Object.freeze(split(path))));
  }
  return parts;
}

function split(path: string): string[] {
  const parts: string[] = [];
  let current = "";
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    if (c === "\\") {
      const next = path[i + 1];
      if (next === "." || next === "\\") {
        current += next;
        i++;
      } else {
        current += c; // reserved escape: literal backslash
      }
    } else if (c === ".") {
      parts.push(current);
      current = "";
    } else {
      current += c;
    }
  }
  parts.push(current);
  return parts;
}

/** The value at `path` inside `root`, or undefined when any step is absent or not an object. */
export function valueAtPath(root: JsonValue, path: string): JsonValue | undefined {
  let value: JsonValue | undefined = root;
  for (const name of splitCached(path)) {
    // Own properties only: "__proto__" or "constructor" in a path must not reach Object.prototype.
    if (!isJsonObject(value) || !Object.prototype.hasOwnProperty.call(value, name)) return undefined;
    value = value[name];
  }
  return value;
}
