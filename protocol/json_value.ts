/**
 * Checking and copying untrusted JSON values without recursion. A payload
 * nested a few thousand levels deep is only a few KB on the wire, yet any
 * recursive walk of it (a recursive schema, `JSON.stringify`,
 * `structuredClone`) overflows the stack. {@linkcode copyJsonValue} walks a
 * value with an explicit stack, so it answers for any input, and refuses values
 * nested deeper than {@linkcode MAX_JSON_DEPTH} before anything recursive sees
 * them.
 *
 * Pure module: no `Deno.*`, no `node:` imports.
 *
 * @module
 */
import type { JsonValue } from "./operations.ts";

/** Deepest nesting of arrays and objects accepted in a payload or result (a bare array is depth 1). */
export const MAX_JSON_DEPTH = 64;

/** Options of {@linkcode copyJsonValue}. */
export interface JsonCopyOptions {
  /** Deepest nesting of arrays and objects (default {@linkcode MAX_JSON_DEPTH}). */
  maxDepth?: number;
  /** Largest size as UTF-8 JSON, in bytes (default: no limit). */
  maxBytes?: number;
}

/** What {@linkcode copyJsonValue} returns: the copy, or a sentence saying what is wrong. */
export type JsonCopyResult = { ok: true; value: JsonValue; bytes: number } | {
  ok: false;
  problem: string;
};

const encoder = new TextEncoder();

/**
 * Checks that `value` is plain JSON data (null, booleans, finite numbers,
 * strings, arrays and plain objects, nothing else), nested at most `maxDepth`
 * deep and at most `maxBytes` long as JSON, and returns a deep copy of it with
 * its size in bytes. Never throws, never recurses. An own `__proto__` key (as
 * `JSON.parse` makes) is kept as an ordinary key.
 *
 * @example
 * ```ts
 * import { copyJsonValue } from "./json_value.ts";
 *
 * let deep: unknown = 1;
 * for (let i = 0; i < 10_000; i++) deep = [deep];
 * copyJsonValue(deep); // { ok: false, problem: "nested deeper than 64 levels" }
 * copyJsonValue({ a: [1, "x", null] }); // { ok: true, value: { a: [1, "x", null] }, bytes: 18 }
 * ```
 */
export function copyJsonValue(value: unknown, options: JsonCopyOptions = {}): JsonCopyResult {
  const maxDepth = options.maxDepth ?? MAX_JSON_DEPTH;
  const root: { value?: JsonValue } = {};
  // Each entry: a source value, and where its copy goes (holder[key]).
  const stack: { source: unknown; depth: number; holder: Record<string, unknown>; key: string }[] =
    [{ source: value, depth: 1, holder: root as Record<string, unknown>, key: "value" }];
  while (stack.length > 0) {
    const { source, depth, holder, key } = stack.pop()!;
    let copy: unknown;
    switch (typeof source) {
      case "string":
      case "boolean":
        copy = source;
        break;
      case "number":
        if (!Number.isFinite(source)) return fail("numbers must be finite");
        copy = source;
        break;
      case "object": {
        if (source === null) {
          copy = null;
          break;
        }
        if (depth > maxDepth) return fail(`nested deeper than ${maxDepth} levels`);
        if (Array.isArray(source)) {
          const array: unknown[] = new Array(source.length);
          for (let i = 0; i < source.length; i++) {
            stack.push({
              source: source[i],
              depth: depth + 1,
              holder: array as unknown as Record<string, unknown>,
              key: String(i),
            });
          }
          copy = array;
          break;
        }
        const proto = Object.getPrototypeOf(source);
        if (proto !== Object.prototype && proto !== null) {
          return fail("objects must be plain JSON objects");
        }
        const object: Record<string, unknown> = {};
        for (const name of Object.keys(source)) {
          setOwn(object, name, null); // fixes the key order; the copy fills it in later
          stack.push({
            source: (source as Record<string, unknown>)[name],
            depth: depth + 1,
            holder: object,
            key: name,
          });
        }
        copy = object;
        break;
      }
      default:
        return fail(`${typeof source} is not a JSON value`);
    }
    setOwn(holder, key, copy);
  }
  const copied = root.value as JsonValue;
  // Safe now: the depth is bounded, so JSON.stringify cannot overflow the stack.
  const bytes = encoder.encode(JSON.stringify(copied)).length;
  if (options.maxBytes !== undefined && bytes > options.maxBytes) {
    return fail(`larger than ${options.maxBytes} bytes as JSON`);
  }
  return { ok: true, value: copied, bytes };
}

/** `holder[key] = value`, but an own `__proto__` key stays an ordinary own property. */
function setOwn(holder: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(holder, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    holder[key] = value;
  }
}

function fail(problem: string): JsonCopyResult {
  return { ok: false, problem };
}
