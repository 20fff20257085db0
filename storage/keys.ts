/**
 * Key validation shared by every backend, so that a key that works on one
 * store works on all of them.
 *
 * @module
 */
import { InvalidError } from "../errors.ts";

/** The longest key, in UTF-8 bytes (S3's limit). */
export const MAX_KEY_BYTES = 1024;

const encoder = new TextEncoder();

/**
 * Throws an {@linkcode InvalidError} that says what is wrong with `key`, or
 * returns it unchanged. Keys are `/`-separated segments; a segment may hold
 * any printable character except `/` and `\`.
 */
export function validateKey(key: string): string {
  if (typeof key !== "string" || key.length === 0) {
    throw new InvalidError("invalid key: a key must be a non-empty string");
  }
  if (encoder.encode(key).length > MAX_KEY_BYTES) {
    throw new InvalidError(`invalid key: longer than ${MAX_KEY_BYTES} UTF-8 bytes`);
  }
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) {
    throw new InvalidError(`invalid key ${JSON.stringify(key)}: control characters are not allowed`);
  }
  if (key.includes("\\")) {
    throw new InvalidError(`invalid key ${JSON.stringify(key)}: backslashes are not allowed`);
  }
  if (key.startsWith("/")) {
    throw new InvalidError(`invalid key ${JSON.stringify(key)}: must not start with "/"`);
  }
  for (const segment of key.split("/")) {
    if (segment === "" || segment === "." || segment === "..") {
      throw new InvalidError(
        `invalid key ${JSON.stringify(key)}: empty, "." and ".." segments are not allowed`,
      );
    }
  }
  return key;
}

/** Validates a list prefix: empty, or a key-like string that may end with `/`. */
export function validatePrefix(prefix: string): string {
  if (prefix === "") return prefix;
  validateKey(prefix.endsWith("/") ? prefix.slice(0, -1) : prefix);
  return prefix;
}
