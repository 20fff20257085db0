/**
 * Names on S3: `s3://bucket/prefix` URLs, key prefixes and ETags.
 *
 * @module
 */
import { InvalidError } from "../errors.ts";
import { validateKey } from "./keys.ts";

/** The parts of an `s3://bucket/prefix` URL. */
export interface S3Location {
  /** The bucket name. */
  bucket: string;
  /** The key prefix without leading or trailing `/`; empty for the bucket root. */
  prefix: string;
}

/**
 * Splits `s3://bucket/some/prefix` into `{bucket, prefix}`; throws
 * {@linkcode InvalidError} for anything else.
 */
export function parseS3Url(url: string): S3Location {
  const match = /^s3:\/\/([^/?#]+)(?:\/(.*))?$/.exec(url);
  if (match === null) {
    throw new InvalidError(`invalid S3 URL ${JSON.stringify(url)}: expected s3://bucket/prefix`);
  }
  const bucket = match[1];
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$/.test(bucket)) {
    throw new InvalidError(`invalid S3 URL ${JSON.stringify(url)}: bad bucket name`);
  }
  return { bucket, prefix: normalizePrefix(match[2] ?? "") };
}

/**
 * Trims leading and trailing `/` from a key prefix and checks what is left is
 * a valid store key; throws {@linkcode InvalidError} otherwise.
 */
export function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+|\/+$/g, "");
  if (trimmed !== "") {
    try {
      validateKey(trimmed);
    } catch (error) {
      throw new InvalidError(`invalid S3 prefix ${JSON.stringify(prefix)}`, { cause: error });
    }
  }
  return trimmed;
}

/** Removes the quotes S3 puts around ETags (`"abc"` → `abc`). */
export function unquoteEtag(etag: string): string {
  return etag.replace(/^"+|"+$/g, "");
}
