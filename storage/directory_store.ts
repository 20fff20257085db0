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
import { dirname, join, resolve, sep } from "node:path";
import {
  AmbiguousWriteError,
  ConflictError,
  InvalidError,
  OsqueueError,
  UnavailableError,
} from "../errors.ts";
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
}

/** Default longest wait for the write lock, ms. */
export const DEFAULT_LOCK_TIMEOUT_MS = 5_000;

/** The longest escaped name piece before a segment is split over `~+` directories. */
const MAX_NAME_CHARS = 128;
const OBJECT_SUFFIX = "~o";
const CONTINUED_SUFFIX = "~+";
const LOCK_NAME = ".~lock";
const TEMP_PREFIX = ".~tmp-";

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

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
  #tail: Promise<void> = Promise.resolve();
  #lockTimeoutMs: number;

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
    await this.#refuseSymlinks(path, key);
    let body: Uint8Array;
    try {
      body = await Deno.readFile(path);
    } catch (error) {
      if (isMissing(error)) return null;
      throw fsError(error, `get ${key}`);
    }
    return { body, etag: await etagOf(body) };
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
    await this.#refuseSymlinks(path, key);
    const etag = await etagOf(body);
    const temp = await this.#writeTemp(path, body, key);
    if (condition !== undefined && !("ifMatch" in condition)) {
      await this.#create(key, path, temp, signal);
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
   * Create-if-absent without the store lock: `link(2)` of the synced temp
   * file to the object's name fails atomically when the name exists, across
   * processes. The log's commits take this path, so they never wait behind
   * garbage collection's deletes or another writer's lock.
   */
  async #create(key: string, path: string, temp: string, signal?: AbortSignal): Promise<void> {
    try {
      checkAborted(signal, key);
      try {
        await Deno.link(temp, path);
      } catch (error) {
        if (error instanceof Deno.errors.AlreadyExists) {
          throw new ConflictError(`${key} already exists`);
        }
        throw fsError(error, `put ${key}`);
      }
      try {
        await syncDirectory(dirname(path));
      } catch (error) {
        throw new AmbiguousWriteError(`put ${key}: written but not synced: ${message(error)}`, {
          cause: error,
        });
      }
    } finally {
      await Deno.remove(temp).catch(() => {});
    }
  }

  /** Deletes an object; a missing key is not an error. */
  async delete(key: string): Promise<void> {
    validateKey(key);
    const path = this.#objectPath(key);
    await this.#refuseSymlinks(path, key);
    await this.#exclusive(async () => {
      try {
        await Deno.remove(path);
      } catch (error) {
        if (isMissing(error)) return;
        throw fsError(error, `delete ${key}`);
      }
      try {
        await syncDirectory(dirname(path));
      } catch (error) {
        throw new UnavailableError(`delete ${key}: removed but not synced: ${message(error)}`, {
          cause: error,
        });
      }
    });
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
    const start = this.#resolve(complete.flatMap((segment) => directoryNames(segment)));
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
    const segments = key.split("/");
    const last = segments.pop()!;
    const names = segments.flatMap((segment) => directoryNames(segment));
    const pieces = escapeSegment(last);
    const file = pieces.pop()! + OBJECT_SUFFIX;
    return this.#resolve([...names, ...pieces.map((piece) => piece + CONTINUED_SUFFIX), file]);
  }

  /**
   * Refuses (`invalid`) a path under the root that goes through a symbolic
   * link: a link planted inside the store must not lead reads or writes
   * outside it. Checked with `lstat` before each operation (Deno has no
   * `O_NOFOLLOW`), so a link swapped in between is not caught; whoever can
   * write into the root can also corrupt the queue directly.
   */
  async #refuseSymlinks(path: string, key: string): Promise<void> {
    let current = this.#root;
    for (const name of path.slice(this.#root.length + 1).split(sep)) {
      current = join(current, name);
      let info: Deno.FileInfo;
      try {
        info = await Deno.lstat(current);
      } catch (error) {
        if (isMissing(error)) return;
        throw fsError(error, `check ${key}`);
      }
      if (info.isSymlink) {
        throw new InvalidError(
          `${key}: refusing to follow the symbolic link ${current} inside the store root`,
        );
      }
    }
  }

  /** Joins names under the root, checking that the result stays inside it. */
  #resolve(names: string[]): string {
    const path = resolve(this.#root, ...names);
    if (path !== this.#root && !path.startsWith(this.#root + sep)) {
      throw new InvalidError(`key escapes the store root: ${path}`);
    }
    return path;
  }

  /** Creates the root once (and fsyncs its parent). */
  #ensureRoot(): Promise<void> {
    this.#ready ??= ensureDirectory(this.#root).catch((error) => {
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
    let file: Deno.FsFile;
    try {
      file = await Deno.open(temp, { write: true, createNew: true });
    } catch (error) {
      throw fsError(error, `put ${key}`);
    }
    try {
      let written = 0;
      while (written < body.length) written += await file.write(body.subarray(written));
      await file.sync();
    } catch (error) {
      file.close();
      await Deno.remove(temp).catch(() => {});
      throw fsError(error, `put ${key}`);
    }
    file.close();
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

/**
 * Takes the exclusive flock on `lock`, polling with a non-blocking try (a
 * blocking `flock` cannot be cancelled), for at most `timeoutMs`; then throws
 * `UnavailableError`.
 */
async function acquireLock(lock: Deno.FsFile, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (let pause = 1;; pause = Math.min(pause * 2, 50)) {
    let locked: boolean;
    try {
      locked = await lock.tryLock(true);
    } catch (error) {
      throw fsError(error, "lock");
    }
    if (locked) return;
    const left = deadline - performance.now();
    if (left <= 0) {
      throw new UnavailableError(
        `the store's write lock is held by someone else; gave up after ${timeoutMs} ms`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)));
  }
}

/** The ETag of a body: 32 hex digits of its SHA-256. */
async function etagOf(body: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", body as Uint8Array<ArrayBuffer>),
  );
  let hex = "";
  for (let i = 0; i < 16; i++) hex += digest[i].toString(16).padStart(2, "0");
  return hex;
}

/** The ETag of the object file at `path`, or `null` when it does not exist. */
async function currentEtag(path: string, key: string): Promise<string | null> {
  try {
    return await etagOf(await Deno.readFile(path));
  } catch (error) {
    if (isMissing(error)) return null;
    throw fsError(error, `read ${key}`);
  }
}

/** Escapes one byte; a `.` is escaped when it would start a name. */
function escapeByte(byte: number, first: boolean): string {
  const literal = (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x30 && byte <= 0x39) ||
    byte === 0x5f || byte === 0x2d || (byte === 0x2e && !first);
  return literal
    ? String.fromCharCode(byte)
    : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
}

/** Escapes the bytes of one name piece. */
function escapeBytes(bytes: Uint8Array): string {
  let name = "";
  for (const byte of bytes) name += escapeByte(byte, name === "");
  return name;
}

/** Escapes a key segment into name pieces of at most {@linkcode MAX_NAME_CHARS} characters. */
function escapeSegment(segment: string): string[] {
  const pieces: string[] = [];
  let current = "";
  for (const byte of encoder.encode(segment)) {
    let unit = escapeByte(byte, current === "");
    if (current.length + unit.length > MAX_NAME_CHARS) {
      pieces.push(current);
      current = "";
      unit = escapeByte(byte, true);
    }
    current += unit;
  }
  pieces.push(current);
  return pieces;
}

/** The directory names of a key segment that is followed by more segments. */
function directoryNames(segment: string): string[] {
  const pieces = escapeSegment(segment);
  const last = pieces.pop()!;
  return [...pieces.map((piece) => piece + CONTINUED_SUFFIX), last];
}

/** Decodes a name piece, or `null` when it is not one this store would write. */
function unescapeName(name: string): Uint8Array | null {
  const bytes: number[] = [];
  for (let i = 0; i < name.length; i++) {
    if (name[i] === "%") {
      const hex = name.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) return null;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      const code = name.charCodeAt(i);
      if (code > 0x7f) return null;
      bytes.push(code);
    }
  }
  const decoded = new Uint8Array(bytes);
  return decoded.length > 0 && escapeBytes(decoded) === name ? decoded : null; // canonical only
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function decodeSegment(parts: Uint8Array[]): string | null {
  try {
    return strictDecoder.decode(concatBytes(parts));
  } catch {
    return null;
  }
}

/**
 * Collects the keys under `dir` into `keys`. `segments` are the decoded
 * segments above `dir`; `pending` the bytes of a segment continued in `dir`.
 */
async function walk(
  dir: string,
  segments: string[],
  pending: Uint8Array[],
  keys: string[],
  signal: AbortSignal | undefined,
): Promise<void> {
  const entries: Deno.DirEntry[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) entries.push(entry);
  } catch (error) {
    if (isMissing(error)) return;
    throw error;
  }
  signal?.throwIfAborted();
  for (const entry of entries) {
    const { name } = entry;
    if (entry.isFile && name.endsWith(OBJECT_SUFFIX)) {
      const bytes = unescapeName(name.slice(0, -OBJECT_SUFFIX.length));
      const segment = bytes && decodeSegment([...pending, bytes]);
      if (segment) keys.push([...segments, segment].join("/"));
    } else if (entry.isDirectory && name.endsWith(CONTINUED_SUFFIX)) {
      const bytes = unescapeName(name.slice(0, -CONTINUED_SUFFIX.length));
      if (bytes) await walk(join(dir, name), segments, [...pending, bytes], keys, signal);
    } else if (entry.isDirectory) {
      const bytes = unescapeName(name);
      const segment = bytes && decodeSegment([...pending, bytes]);
      if (segment) await walk(join(dir, name), [...segments, segment], [], keys, signal);
    }
  }
}

/** Creates `dir` and its missing parents, fsyncing each parent that gained an entry. */
async function ensureDirectory(dir: string): Promise<void> {
  try {
    if ((await Deno.stat(dir)).isDirectory) return;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const parent = dirname(dir);
  if (parent !== dir) await ensureDirectory(parent);
  try {
    await Deno.mkdir(dir);
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    return; // another writer created it (and syncs the parent)
  }
  await syncDirectory(parent);
}

/** fsyncs a directory so that a rename, create or unlink in it survives a crash. */
async function syncDirectory(dir: string): Promise<void> {
  if (Deno.build.os === "windows") return; // directories cannot be opened for fsync there
  const handle = await Deno.open(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}

function checkAborted(signal: AbortSignal | undefined, key: string): void {
  if (signal?.aborted) {
    throw new AmbiguousWriteError(`put ${key} aborted`, { cause: signal.reason });
  }
}

/** Whether `error` says the path (or one of its directories) does not exist. */
function isMissing(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Maps a file-system error to the store's typed errors. */
function fsError(error: unknown, what: string): OsqueueError {
  if (error instanceof OsqueueError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "ENAMETOOLONG") {
    return new InvalidError(`${what}: path too long: ${message(error)}`, { cause: error });
  }
  return new UnavailableError(`${what}: ${message(error)}`, { cause: error });
}
