/**
 * Dot-separated property paths (`content.m\.relates_to.rel_type`).
 * https://spec.matrix.org/v1.19/appendices/#dot-separated-property-paths
 *
 * A literal dot or backslash inside a property name is escaped with a backslash;
 * any other escape sequence is kept as it is (`\x` is a backslash and an `x`).
 */
import type { JsonValue } from "./json.ts";
import { isJsonObject } from "./json.ts";

/** The property names a path names, unescaped. */
export function splitDottedPath(path: string): string[] {
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
  for (const name of splitDottedPath(path)) {
    // Own properties only: "__proto__" or "constructor" in a path must not reach Object.prototype.
    if (!isJsonObject(value) || !Object.prototype.hasOwnProperty.call(value, name)) return undefined;
    value = value[name];
  }
  return value;
}
