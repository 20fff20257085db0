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
  checkCharacters(key, "key");
  for (const segment of key.split("/")) {
    if (segment === "" || segment === "." || segment === "..") {
      throw new InvalidError(
        `invalid key ${JSON.stringify(key)}: empty, "." and ".." segments are not allowed`,
      );
    }
  }
  return key;
}

/**
 * Validates a list prefix and returns it unchanged: empty, or the start of a
 * valid key. Every complete segment (followed by `/`) obeys the key rules; the
 * last, partial segment may be anything a segment may start with, including
 * `.` or `..` (a prefix of `.hidden` or `..x`).
 */
export function validatePrefix(prefix: string): string {
  if (typeof prefix !== "string") {
    throw new InvalidError("invalid prefix: a prefix must be a string");
  }
  if (prefix === "") return prefix;
  checkCharacters(prefix, "prefix");
  const segments = prefix.split("/");
  segments.pop(); // the partial last segment ("" when the prefix ends with "/")
  for (const segment of segments) {
    if (segment === "" || segment === "." || segment === "..") {
      throw new InvalidError(
        `invalid prefix ${JSON.stringify(prefix)}: empty, "." and ".." segments are not allowed`,
      );
    }
  }
  return prefix;
}

/**
 * Validates the window options of a list (`startAfter`, `limit`) and returns
 * them; throws an {@linkcode InvalidError} that says what is wrong.
 */
export function validateListWindow(
  options: { startAfter?: string; limit?: number } = {},
): { startAfter?: string; limit?: number } {
  const { startAfter, limit } = options;
  if (startAfter !== undefined) {
    if (typeof startAfter !== "string") {
      throw new InvalidError("invalid startAfter: must be a string");
    }
    if (!startAfter.isWellFormed()) {
      throw new InvalidError(`invalid startAfter ${JSON.stringify(startAfter)}: lone surrogate`);
    }
    if (encoder.encode(startAfter).length > MAX_KEY_BYTES) {
      throw new InvalidError(`invalid startAfter: longer than ${MAX_KEY_BYTES} UTF-8 bytes`);
    }
  }
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) {
    throw new InvalidError(`invalid limit ${String(limit)}: must be a positive integer`);
  }
  return { startAfter, limit };
}

/** The checks keys and prefixes share: length, characters, no leading `/`. */
function checkCharacters(value: string, what: "key" | "prefix"): void {
  if (encoder.encode(value).length > MAX_KEY_BYTES) {
    throw new InvalidError(`invalid ${what}: longer than ${MAX_KEY_BYTES} UTF-8 bytes`);
  }
  // Lone surrogates do not survive UTF-8: the key would come back changed.
  if (!value.isWellFormed()) {
    throw new InvalidError(`invalid ${what} ${JSON.stringify(value)}: lone surrogate`);
  }
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    throw new InvalidError(
      `invalid ${what} ${JSON.stringify(value)}: control characters are not allowed`,
    );
  }
  if (value.includes("\\")) {
    throw new InvalidError(`invalid ${what} ${JSON.stringify(value)}: backslashes are not allowed`);
  }
  if (value.startsWith("/")) {
    throw new InvalidError(`invalid ${what} ${JSON.stringify(value)}: must not start with "/"`);
  }
}
