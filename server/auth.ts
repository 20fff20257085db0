/**
 * Bearer-token checks for the broker server: constant-time comparison and
 * `Authorization: Bearer` parsing.
 *
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";

/** Checks a presented token against the configured one; `true` when they match. */
export type TokenChecker = (candidate: string) => boolean;

function sha256(text: string): Uint8Array {
  return createHash("sha256").update(text, "utf8").digest();
}

/**
 * Builds a {@linkcode TokenChecker} for `token`. Both sides are hashed with
 * SHA-256 and the digests compared with `timingSafeEqual`, so the time taken
 * depends on neither the secret's content nor its length.
 */
export function createTokenChecker(token: string): TokenChecker {
  const expected = sha256(token);
  return (candidate: string): boolean => timingSafeEqual(sha256(candidate), expected);
}

/**
 * The token of an `Authorization: Bearer <token>` header, or `undefined` when
 * the header is absent or uses another scheme.
 */
export function bearerToken(headers: Headers): string | undefined {
  const value = headers.get("authorization");
  if (value === null) return undefined;
  const match = /^\s*bearer\s+(\S+)\s*$/i.exec(value);
  return match === null ? undefined : match[1];
}
