/**
 * A {@linkcode DirectoryStore}'s create-if-absent, which takes no lock: the
 * body is written to a file of its own and fsynced, then hard-linked to the
 * object's name; `link(2)` fails atomically when the name exists, across
 * processes. The log's commits take this path, so they never wait behind
 * garbage collection's deletes or another writer's lock.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { AmbiguousWriteError, ConflictError } from "../errors.ts";
import {
  checkAborted,
  ensureDirectorySync,
  fsError,
  message,
  syncDirectory,
  syncDirectorySync,
  writeNewFileSync,
} from "./directory_files.ts";
import { refuseSymlinksSync } from "./directory_paths.ts";
import type { SpareFiles } from "./spare_files.ts";

/** The prefix of a store's temp files (never listed). */
export const TEMP_PREFIX = ".~tmp-";

/** Links the synced `temp` file to `path` (async), then fsyncs the directory; removes `temp` either way. */
export async function linkNew(
  options: { key: string; path: string; temp: string; signal?: AbortSignal },
): Promise<void> {
  const { key, path, temp, signal } = options;
  try {
    checkAborted(signal, key);
    try {
      await Deno.link(temp, path);
    } catch (error) {
      throw linkError(error, key);
    }
    try {
      await syncDirectory(dirname(path));
    } catch (error) {
      throw notSynced(error, key);
    }
  } finally {
    await Deno.remove(temp).catch(() => {});
  }
}

/**
 * The whole create-if-absent with blocking calls, for small bodies once the
 * root exists: one fsync'd create takes about half as long as through the
 * thread pool's hops. The body goes into a ready-made spare file when
 * `spares` has one for the directory (no inode to allocate on the commit's
 * path), else into a new temp file.
 */
export function createSmallSync(
  options: { root: string; key: string; path: string; body: Uint8Array; spares: SpareFiles },
): void {
  const { root, key, path, body, spares } = options;
  const dir = dirname(path);
  // Only the directories are checked: link(2) never follows a link at the object's name.
  const existing = refuseSymlinksSync(root, dir, key);
  const spare = existing?.isDirectory ? spares.take(dir) : undefined;
  // A random name only has to be unique; createNew refuses to clobber anything.
  const temp = spare?.path ?? join(dir, `${TEMP_PREFIX}${crypto.randomUUID()}`);
  try {
    if (!existing?.isDirectory) ensureDirectorySync(dir);
    writeNewFileSync(temp, body, spare !== undefined);
  } catch (error) {
    if (spare !== undefined) spares.done(spare);
    throw fsError(error, `put ${key}`);
  }
  try {
    try {
      Deno.linkSync(temp, path);
    } catch (error) {
      throw linkError(error, key);
    }
    try {
      syncDirectorySync(dir);
    } catch (error) {
      throw notSynced(error, key);
    }
  } finally {
    if (spare !== undefined) {
      spares.done(spare);
    } else {
      try {
        Deno.removeSync(temp);
      } catch { /* a temp file left behind is never listed */ }
    }
  }
}

function linkError(error: unknown, key: string): Error {
  if (error instanceof Deno.errors.AlreadyExists) return new ConflictError(`${key} already exists`);
  return fsError(error, `put ${key}`);
}

function notSynced(error: unknown, key: string): AmbiguousWriteError {
  return new AmbiguousWriteError(`put ${key}: written but not synced: ${message(error)}`, {
    cause: error,
  });
}
