/**
 * A filter's `event_fields`: keep only the listed fields of each event.
 * https://spec.matrix.org/v1.19/client-server-api/#filtering (Filter.event_fields)
 * https://spec.matrix.org/v1.19/appendices/#dot-separated-property-paths
 *
 * Paths are split by lib/dotted-path.ts. A path through a value that is not an object,
 * or to a field that is absent, selects nothing. The spec lets a server include more
 * than asked; this keeps exactly what was asked.
 */
import { splitDottedPath } from "./dotted-path.ts";
import { isJsonObject, type JsonObject, type JsonValue } from "./json.ts";

/** A projection for a list of paths, parsed once, applied to many events. */
export function eventFieldsProjection(fields: readonly string[]): <T extends JsonObject>(event: T) => T {
  const paths = fields.map(splitDottedPath);
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
    setOwn(to, head, value);
    return;
  }
  if (!isJsonObject(value)) return;
  const existing = to[head];
  if (existing === value) return; // the whole object was already asked for (never write into the source)
  const child: JsonObject = isJsonObject(existing) ? existing : {};
  copyPath(value, child, rest);
  if (Object.keys(child).length > 0 || isJsonObject(existing)) setOwn(to, head, child);
}

/** A plain assignment of "__proto__" would replace the object's prototype, not add a field. */
function setOwn(to: JsonObject, key: string, value: JsonValue): void {
  Object.defineProperty(to, key, { value, enumerable: true, writable: true, configurable: true });
}
