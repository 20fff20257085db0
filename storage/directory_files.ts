/**
 * The file-system steps of {@linkcode DirectoryStore}: synced writes,
 * directory creation and fsync, the write lock, ETags and error mapping. Most
 * steps come twice: async (through Deno's thread pool) and blocking (on the
 * calling thread, for small writes where the pool's hops cost more than the
 * work; see `DirectoryStoreOptions.blockingWriteMaxBytes`).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { dirname } from "node:path";
import { AmbiguousWriteError, InvalidError, OsqueueError, UnavailableError } from "../errors.ts";

/** The ETag of a body: 32 hex digits of its SHA-256. */
export function etagOf(body: Uint8Array): string {
  return createHash("sha256").update(body).digest("hex").slice(0, 32);
}

/** The ETag of the object file at `path`, or `null` when it does not exist. */
export async function currentEtag(path: string, key: string): Promise<string | null> {
  try {
    const body = await readStable(path);
    return body === null ? null : etagOf(body);
  } catch (error) {
    throw fsError(error, `read ${key}`);
  }
}

/**
 * Reads the file at `path`, or `null` when it does not exist. Checks after
 * reading that `path` still names the file that was read (same inode), and
 * reads again if not: a file deleted while being read may be recycled (see
 * `spare_files.ts`) and rewritten with another object's bytes. `onOpened`
 * lets tests act between the open and the read.
 */
export async function readStable(
  path: string,
  onOpened?: () => Promise<void>,
): Promise<Uint8Array | null> {
  for (let attempt = 0;; attempt++) {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
    let body: Uint8Array;
    let ino: number | null;
    try {
      await onOpened?.(); // tests: what another writer does between open and read
      const info = await file.stat();
      ino = info.ino;
      body = await readToEnd(file, info.size);
    } finally {
      file.close();
    }
    if (ino === null) return body; // no inode numbers (Windows): nothing is recycled there
    let now: Deno.FileInfo;
    try {
      now = await Deno.lstat(path);
    } catch (error) {
      if (isMissing(error)) return null; // deleted while read
      throw error;
    }
    if (now.ino === ino) return body;
    if (attempt >= 16) throw new Error(`${path} kept changing while being read`);
  }
}

async function readToEnd(file: Deno.FsFile, size: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const chunk = new Uint8Array(Math.max(size - total + 1, 4096));
    const n = await file.read(chunk);
    if (n === null) break;
    chunks.push(chunk.subarray(0, n));
    total += n;
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/**
 * Writes `body` to `path` and fsyncs it: a new file (which must not exist),
 * or, with `recycled`, a spare claimed under that name (truncated first).
 */
export async function writeNewFile(
  path: string,
  body: Uint8Array,
  recycled = false,
): Promise<void> {
  const file = await Deno.open(
    path,
    recycled ? { write: true, truncate: true } : { write: true, createNew: true },
  );
  try {
    let written = 0;
    while (written < body.length) written += await file.write(body.subarray(written));
    await file.sync();
  } catch (error) {
    file.close();
    await Deno.remove(path).catch(() => {});
    throw error;
  }
  file.close();
}

/**
 * {@linkcode writeNewFile} with blocking calls. A spare is written over and
 * then cut to the body's length only if it was longer: truncating it to zero
 * first frees its blocks just to allocate them again (`do_truncate` was 6 %
 * of a W2 broker's samples in `perf` on ext4).
 */
export function writeNewFileSync(path: string, body: Uint8Array, recycled = false): void {
  const file = Deno.openSync(path, recycled ? { write: true } : { write: true, createNew: true });
  try {
    const before = recycled ? file.statSync().size : 0;
    let written = 0;
    while (written < body.length) written += file.writeSync(body.subarray(written));
    if (before > body.length) file.truncateSync(body.length);
    file.syncSync();
  } catch (error) {
    file.close();
    try {
      Deno.removeSync(path);
    } catch { /* best effort: a temp file left behind is never listed */ }
    throw error;
  }
  file.close();
}

/** Creates `dir` and its missing parents, fsyncing each parent that gained an entry. */
export async function ensureDirectory(dir: string): Promise<void> {
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

/** {@linkcode ensureDirectory} with blocking calls. */
export function ensureDirectorySync(dir: string): void {
  try {
    if (Deno.statSync(dir).isDirectory) return;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const parent = dirname(dir);
  if (parent !== dir) ensureDirectorySync(parent);
  try {
    Deno.mkdirSync(dir);
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    return;
  }
  syncDirectorySync(parent);
}

/** fsyncs a directory so that a rename, create or unlink in it survives a crash. */
export async function syncDirectory(dir: string): Promise<void> {
  if (Deno.build.os === "windows") return; // directories cannot be opened for fsync there
  const handle = await Deno.open(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}

/** {@linkcode syncDirectory} with blocking calls. */
export function syncDirectorySync(dir: string): void {
  if (Deno.build.os === "windows") return;
  const handle = Deno.openSync(dir, { read: true });
  try {
    handle.syncSync();
  } finally {
    handle.close();
  }
}

/**
 * Takes the exclusive flock on `lock`, polling with a non-blocking try (a
 * blocking `flock` cannot be cancelled), for at most `timeoutMs`; then throws
 * `UnavailableError`.
 */
export async function acquireLock(lock: Deno.FsFile, timeoutMs: number): Promise<void> {
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

/** Throws `AmbiguousWriteError` when a put's signal has aborted. */
export function checkAborted(signal: AbortSignal | undefined, key: string): void {
  if (signal?.aborted) {
    throw new AmbiguousWriteError(`put ${key} aborted`, { cause: signal.reason });
  }
}

/** Whether `error` says the path (or one of its directories) does not exist. */
export function isMissing(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory;
}

/** The message of an error, or the thrown value as text. */
export function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Maps a file-system error to the store's typed errors. */
export function fsError(error: unknown, what: string): OsqueueError {
  if (error instanceof OsqueueError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "ENAMETOOLONG") {
    return new InvalidError(`${what}: path too long: ${message(error)}`, { cause: error });
  }
  return new UnavailableError(`${what}: ${message(error)}`, { cause: error });
}
