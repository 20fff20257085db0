/**
 * A store on a local directory, safe to share between processes on one
 * machine and durable across crashes.
 *
 * Layout: a key's `/`-separated segments become nested directories; the last
 * segment is a file whose name ends with `~o`. Every segment is escaped: the
 * bytes `a-z 0-9 _ - .` stay as they are (a leading `.` does not), every other
 * UTF-8 byte becomes `%XX` with upper-case hex. So names never contain `~`
 * or `/`, the `~o` suffix keeps an object file (`a~o`) from ever colliding with
 * the directory of a longer key (`a/`), names never start with `.` (no `.`,
 * `..` or hidden names), and two keys never map to names that differ only by
 * case or Unicode normalisation (so case-insensitive file systems work too).
 * An escaped segment longer than 128 characters is split over nested
 * directories whose names end with `~+`, keeping every name far below
 * `NAME_MAX`. The store's own files (`.~lock`, `.~tmp-*`) start with `.~` and
 * are never listed. Bodies are stored as they are, so `cat` shows them.
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";
import type { Clock } from "../clock.ts";
import { AmbiguousWriteError, ConflictError, InvalidError } from "../errors.ts";
import {
  acquireLock,
  checkAborted,
  currentEtag,
  ensureDirectory,
  etagOf,
  fsError,
  message,
  readStable,
  syncDirectory,
  writeNewFile,
} from "./directory_files.ts";
import { directoryNames, objectNames, walk } from "./directory_names.ts";
import { createSmallSync, linkNew, TEMP_PREFIX } from "./directory_create.ts";
import { refuseSymlinks, resolveUnder } from "./directory_paths.ts";
import { DeleteBatches } from "./directory_deletes.ts";
import { SpareFiles } from "./spare_files.ts";
import { validateKey, validateListWindow, validatePrefix } from "./keys.ts";
import { compareKeys } from "./memory_store.ts";
import type { ListOptions, ObjectStore, PutOptions, ReadOptions, StoredObject } from "./types.ts";

/** Options of {@linkcode DirectoryStore}. */
export interface DirectoryStoreOptions {
  /** The directory holding the objects; created (with its parents) when missing. */
  root: string;
  /**
   * Longest wait for the store's write lock while another process (or
   * handle) holds it, ms; then the write fails with `UnavailableError` and
   * writes nothing (default {@linkcode DEFAULT_LOCK_TIMEOUT_MS}).
   */
  lockTimeoutMs?: number;
  /**
   * Creates-if-absent of bodies up to this many bytes (osqueue's log
   * records) run with blocking file calls on the calling thread: on a local
   * disk one such create (write, fsync, link, directory fsync) blocks for
   * about 0.3 ms, while the same steps through Deno's thread pool take about
   * twice as long. Larger bodies and all other writes stay async. `0` makes
   * every write async (default {@linkcode DEFAULT_BLOCKING_WRITE_MAX_BYTES}).
   */
  blockingWriteMaxBytes?: number;
  /** Time for how long deleted files wait before they are reused (default the system clock). */
  clock?: Pick<Clock, "now">;
  /**
   * Empty files to keep ready for new objects, created in the background
   * (default 0). Allocating a file costs up to a millisecond of kernel time
   * on some file systems (ext4 without a journal skips every recently freed
   * inode); a commit that takes a ready file does not pay it. The broker
   * CLI keeps 256. Deleted small files are reused either way.
   */
  spareFiles?: number;
}

/** Default longest wait for the write lock, ms. */
export const DEFAULT_LOCK_TIMEOUT_MS = 5_000;

/** Default largest body created with blocking calls, bytes. */
export const DEFAULT_BLOCKING_WRITE_MAX_BYTES = 64 * 1024;

const LOCK_NAME = ".~lock";

/**
 * An {@linkcode ObjectStore} on a local directory.
 *
 * **Atomicity.** A create-if-absent (`ifNoneMatch: "*"`, how osqueue's log
 * commits) takes no lock: the synced temp file is hard-linked to the object's
 * name, and `link(2)` fails atomically when the name exists. Every other
 * write (a put with `ifMatch` or none, a delete) holds one exclusive lock for
 * the whole store: `flock` on `<root>/.~lock` via `Deno.FsFile.lock`, which
 * excludes other processes and other handles in this process alike and is
 * released by the kernel if the process dies. One lock per store rather than
 * per key: osqueue replaces one key (the head) now and then, so
 * per-key locks would buy no parallelism while leaving a lock file beside
 * every key forever (a lock file cannot be deleted safely while another
 * process may be waiting on it). The lock is held only for the short critical
 * section: the new body is written to a temp file in the target directory and
 * fsynced *before* locking; under the lock the store reads the current ETag,
 * checks the condition, renames the temp file over the object and fsyncs the
 * directory. Readers take no lock: `rename` is atomic, so a read sees the old
 * or the new file, never a mix.
 *
 * **ETag.** The first 128 bits of the SHA-256 of the body, in hex — a content
 * hash, like S3's MD5 ETag, so the store needs no metadata beside the bytes
 * and a crash can never leave an ETag that disagrees with its body. The price
 * is ABA: if an object goes A → B → A, an `ifMatch` with A's ETag from the
 * first read succeeds. That is harmless for compare-and-swap of the whole
 * value (the caller's new body was computed from exactly the bytes now
 * stored) and is the same behaviour S3 has; callers that need to tell
 * identical bodies apart must put a version inside the body.
 *
 * **Durability.** Temp file fsynced before the rename, directory fsynced after
 * it (and after creating directories or deleting). A failure after the rename
 * is reported as `AmbiguousWriteError`: the write may be visible but its
 * durability is unknown.
 *
 * **Limits.** Local file systems only (`flock` is not reliable on NFS).
 * Directories emptied by deletes are left in place. Temp files of a process
 * that crashed mid-put stay behind as `.~tmp-*`; they are never listed.
 *
 * File-system errors become `UnavailableError` (nothing written, e.g. ENOSPC,
 * EIO, EACCES), `AmbiguousWriteError` (after the rename) or `InvalidError`
 * (ENAMETOOLONG: the root path is too long for this key).
 */
export class DirectoryStore implements ObjectStore {
  #root: string;
  #ready: Promise<void> | undefined;
  #rootReady = false;
  #tail: Promise<void> = Promise.resolve();
  #lockTimeoutMs: number;
  #blockingWriteMaxBytes: number;
  #spares: SpareFiles;
  #deletes: DeleteBatches;

  /** `dir:<absolute root>`. */
  readonly description: string;

  /** Opens (lazily creates) the store at `options.root`. */
  constructor(options: DirectoryStoreOptions) {
    if (typeof options.root !== "string" || options.root === "") {
      throw new InvalidError("DirectoryStore needs a root directory");
    }
    this.#root = resolve(options.root);
    this.description = `dir:${this.#root}`;
    const lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
    if (!(lockTimeoutMs >= 0)) {
      throw new InvalidError(`lockTimeoutMs must be a number ≥ 0, got ${lockTimeoutMs}`);
    }
    this.#lockTimeoutMs = lockTimeoutMs;
    const blocking = options.blockingWriteMaxBytes ?? DEFAULT_BLOCKING_WRITE_MAX_BYTES;
    if (!(blocking >= 0)) {
      throw new InvalidError(`blockingWriteMaxBytes must be a number ≥ 0, got ${blocking}`);
    }
    this.#blockingWriteMaxBytes = blocking;
    const spareFiles = options.spareFiles ?? 0;
    if (!(spareFiles >= 0)) {
      throw new InvalidError(`spareFiles must be a number ≥ 0, got ${spareFiles}`);
    }
    this.#spares = new SpareFiles({
      root: this.#root,
      prefill: spareFiles,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
    this.#deletes = new DeleteBatches({
      root: this.#root,
      exclusive: (fn) => this.#exclusive(fn),
      spares: this.#spares,
    });
  }

  /** The absolute root directory. */
  get root(): string {
    return this.#root;
  }

  /** Reads an object, or `null` when the key does not exist. */
  async get(key: string, options: ReadOptions = {}): Promise<StoredObject | null> {
    validateKey(key);
    options.signal?.throwIfAborted();
    const path = this.#objectPath(key);
    await refuseSymlinks(this.#root, path, key);
    let body: Uint8Array | null;
    try {
      body = await readStable(path);
    } catch (error) {
      throw fsError(error, `get ${key}`);
    }
    return body === null ? null : { body, etag: etagOf(body) };
  }

  /** Writes an object under the CAS condition, if any, and returns its new ETag. */
  async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<string> {
    validateKey(key);
    const { condition, signal } = options;
    if (condition !== undefined && !("ifMatch" in condition) && condition.ifNoneMatch !== "*") {
      throw new InvalidError('a put condition is {ifMatch: etag} or {ifNoneMatch: "*"}');
    }
    checkAborted(signal, key);
    const path = this.#objectPath(key);
    const create = condition !== undefined && !("ifMatch" in condition);
    if (create && body.length <= this.#blockingWriteMaxBytes && this.#rootReady) {
      createSmallSync({ root: this.#root, key, path, body, spares: this.#spares });
      return etagOf(body);
    }
    await refuseSymlinks(this.#root, path, key);
    const etag = etagOf(body);
    const temp = await this.#writeTemp(path, body, key);
    if (create) {
      await linkNew({ key, path, temp, signal });
      return etag;
    }
    let renamed = false;
    try {
      await this.#exclusive(async () => {
        checkAborted(signal, key);
        if (condition !== undefined) {
          const current = await currentEtag(path, key);
          if ("ifMatch" in condition) {
            if (current === null) throw new ConflictError(`${key} does not exist`);
            if (current !== condition.ifMatch) {
              throw new ConflictError(`${key} changed since it was read`);
            }
          } else if (current !== null) {
            throw new ConflictError(`${key} already exists`);
          }
        }
        try {
          await Deno.rename(temp, path);
        } catch (error) {
          throw fsError(error, `put ${key}`);
        }
        renamed = true;
        try {
          await syncDirectory(dirname(path));
        } catch (error) {
          throw new AmbiguousWriteError(`put ${key}: written but not synced: ${message(error)}`, {
            cause: error,
          });
        }
      });
    } finally {
      if (!renamed) await Deno.remove(temp).catch(() => {});
    }
    return etag;
  }

  /**
   * Waits for the background work of `spareFiles` and releases its lock.
   * Only needed by callers that must leave nothing running (tests); the
   * store keeps working for writes without spares.
   */
  async close(): Promise<void> {
    await this.#spares.close();
  }

  /** Deletes an object; a missing key is not an error. */
  async delete(key: string): Promise<void> {
    validateKey(key);
    const path = this.#objectPath(key);
    await this.#deletes.delete({ key, path });
  }

  /**
   * Lists the keys that start with `prefix`, sorted in UTF-8 byte order, after
   * `options.startAfter`, at most `options.limit`. The directories under the
   * prefix's complete segments are walked in full (escaped names do not sort
   * like keys), so the window saves returning keys, not reading directories.
   */
  async list(prefix: string, options: ListOptions = {}): Promise<string[]> {
    validatePrefix(prefix);
    const { startAfter, limit } = validateListWindow(options);
    options.signal?.throwIfAborted();
    // Walk from the directory of the complete segments; filter by the partial one.
    const cut = prefix.lastIndexOf("/");
    const complete = cut < 0 ? [] : prefix.slice(0, cut).split("/");
    const start = resolveUnder(this.#root, complete.flatMap((segment) => directoryNames(segment)));
    const keys: string[] = [];
    try {
      await walk(start, complete, [], keys, options.signal);
    } catch (error) {
      if (error instanceof DOMException && error.name === "AbortError") throw error;
      throw fsError(error, `list ${prefix}`);
    }
    return keys
      .filter((key) =>
        key.startsWith(prefix) && (startAfter === undefined || compareKeys(key, startAfter) > 0)
      )
      .sort(compareKeys)
      .slice(0, limit);
  }

  /** The file of `key` (already validated). */
  #objectPath(key: string): string {
    return resolveUnder(this.#root, objectNames(key));
  }

  /** Creates the root once (and fsyncs its parent), and sets up the spares. */
  #ensureRoot(): Promise<void> {
    this.#ready ??= (async () => {
      await ensureDirectory(this.#root);
      // Spares only save time: a failure to set them up leaves creates as they were.
      await this.#spares.start(this.#root).catch(() => {});
      this.#rootReady = true;
    })().catch((error) => {
      this.#ready = undefined;
      throw fsError(error, `create ${this.#root}`);
    });
    return this.#ready;
  }

  /** Writes `body` to a fresh temp file beside `path` and fsyncs it; returns the temp path. */
  async #writeTemp(path: string, body: Uint8Array, key: string): Promise<string> {
    await this.#ensureRoot();
    const dir = dirname(path);
    try {
      await ensureDirectory(dir);
    } catch (error) {
      throw fsError(error, `put ${key}`);
    }
    // A random name only has to be unique; createNew refuses to clobber anything.
    const temp = join(dir, `${TEMP_PREFIX}${crypto.randomUUID()}`);
    try {
      await writeNewFile(temp, body);
    } catch (error) {
      throw fsError(error, `put ${key}`);
    }
    return temp;
  }

  /**
   * Runs `fn` holding the store's exclusive lock. An in-process queue comes
   * first, so that at most one call per store instance waits in `flock`.
   */
  async #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const previous = this.#tail;
    let release!: () => void;
    this.#tail = new Promise<void>((resolve) => release = resolve);
    try {
      await previous;
      await this.#ensureRoot();
      let lock: Deno.FsFile;
      try {
        lock = await Deno.open(join(this.#root, LOCK_NAME), {
          read: true,
          write: true,
          create: true,
        });
      } catch (error) {
        throw fsError(error, "open lock");
      }
      try {
        await acquireLock(lock, this.#lockTimeoutMs);
        return await fn();
      } finally {
        lock.close(); // closing the last handle releases the flock
      }
    } finally {
      release();
    }
  }
}
