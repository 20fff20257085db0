/**
 * The store contract every backend implements: get, conditional put, delete
 * and list over opaque byte bodies, with typed errors from `errors.ts`.
 *
 * @module
 */

/** An object read from a store: its bytes and the ETag that a later conditional put must present. */
export interface StoredObject {
  /** The object's bytes. */
  body: Uint8Array;
  /** Opaque version tag; pass it back as `ifMatch` to replace exactly this version. */
  etag: string;
}

/**
 * The condition of a put:
 * - `{ifMatch: etag}` replaces the object only if its current ETag is `etag`;
 * - `{ifNoneMatch: "*"}` creates the object only if it does not exist.
 * Without a condition the put overwrites unconditionally (used for archives).
 */
export type PutCondition = { ifMatch: string } | { ifNoneMatch: "*" };

/** Options of {@linkcode ObjectStore.put}. */
export interface PutOptions {
  /** The compare-and-swap condition; omit for an unconditional write. */
  condition?: PutCondition;
  /** Aborts the request; an aborted conditional put is reported as ambiguous. */
  signal?: AbortSignal;
}

/** Options of reads. */
export interface ReadOptions {
  /** Aborts the request. */
  signal?: AbortSignal;
}

/** Options of {@linkcode ObjectStore.list}. */
export interface ListOptions extends ReadOptions {
  /**
   * Lists only keys strictly greater than this string in UTF-8 byte order
   * (S3's `StartAfter`). It need not be an existing key, nor a valid one
   * (`log/` works), but it must be well-formed Unicode of at most 1024 UTF-8
   * bytes. Use it to page (pass the last key of the previous page) or to read
   * a log from a known position.
   */
  startAfter?: string;
  /**
   * Returns at most this many keys, the first ones in byte order; a positive
   * integer. Backends stop reading as soon as they have enough where they can
   * (S3 stops paging).
   */
  limit?: number;
}

/**
 * A key-value object store with compare-and-swap writes.
 *
 * Errors (all from `errors.ts`):
 * - `ConflictError` (`conflict`): the put's condition failed — read again;
 * - `AmbiguousWriteError` (`ambiguous`): a conditional put whose outcome is unknown — read again
 *   and check whether your write landed;
 * - `UnavailableError` (`unavailable`): transient, nothing was written, retry later;
 * - `InvalidError` (`invalid`): a bad key or argument, retrying will not help.
 *
 * Keys are `/`-separated, non-empty, at most 1024 UTF-8 bytes, with no empty,
 * `.` or `..` segments, no leading `/` and no control characters
 * (see `validateKey`).
 */
export interface ObjectStore {
  /** Reads an object, or `null` when the key does not exist. */
  get(key: string, options?: ReadOptions): Promise<StoredObject | null>;
  /** Writes an object and returns its new ETag; throws `ConflictError` when the condition fails. */
  put(key: string, body: Uint8Array, options?: PutOptions): Promise<string>;
  /** Deletes an object; deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
  /**
   * Lists the keys that start with `prefix`, sorted in UTF-8 byte order;
   * `options.startAfter` and `options.limit` select a window of that list.
   */
  list(prefix: string, options?: ListOptions): Promise<string[]>;
  /** A short description for logs, e.g. `dir:/var/lib/osqueue` or `s3://bucket/prefix`. */
  readonly description: string;
}
