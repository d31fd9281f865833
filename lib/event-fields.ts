/**
 * A filter's `event_fields`: keep only the listed fields of each event.
 * https://spec.matrix.org/v1.19/client-server-api/#filtering (Filter.event_fields)
 * https://spec.matrix.org/v1.19/appendices/#dot-separated-property-paths
 *
 * A path is split on `.`; `\.` is a literal dot and `\\` a literal backslash (a backslash
 * before anything else is kept as it is). A path through a value that is not an object,
 * or to a field that is absent, selects nothing. The spec lets a server include more
 * than asked; this keeps exactly what was asked.
 */
import { isJsonObject, type JsonObject, type JsonValue } from "./json.ts";

/** The segments of one dot-separated property path. */
export function parseFieldPath(path: string): string[] {
  const out: string[] = [];
  let cur = "";
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    if (c === "\\" && (path[i + 1] === "." || path[i + 1] === "\\")) {
      cur += path[++i];
    } else if (c === ".") {
      out.push(cur);
      cur = "";
    } else {
      cur += c;
    }
  }
  out.push(cur);
  return out;
}

/** A projection for a list of paths, parsed once, applied to many events. */
export function eventFieldsProjection(fields: readonly string[]): <T extends JsonObject>(event: T) => T {
  const paths = fields.map(parseFieldPath);
  return <T extends JsonObject>(event: T): T => {
    const out: JsonObject = {};
    for (const path of paths) copyPath(event, out, path);
    return out as T;
  };
}

function copyPath(from: JsonObject, to: JsonObject, path: readonly string[]): void {
  const [head, ...rest] = path;
  if (head === undefined || !Object.hasOwn(from, head)) return;
  const value: JsonValue = from[head]!;
  if (rest.length === 0) {
    to[head] = value;
    return;
  }
  if (!isJsonObject(value)) return;
  const existing = to[head];
  if (existing === value) return; // the whole object was already asked for (never write into the source)
  const child: JsonObject = isJsonObject(existing) ? existing : {};
  copyPath(value, child, rest);
  if (Object.keys(child).length > 0 || isJsonObject(existing)) to[head] = child;
}
