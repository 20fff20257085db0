/**
 * A {@linkcode DirectoryStore}'s deletes, done in batches: the deletes that
 * arrive while a batch runs form the next one, which takes the store lock
 * once and fsyncs each directory once. Garbage collection deletes hundreds
 * of log records at a time; one lock and one fsync each would cost about a
 * millisecond per record.
 *
 * @module
 */
import { dirname } from "node:path";
import { UnavailableError } from "../errors.ts";
import { fsError, isMissing, message, syncDirectory } from "./directory_files.ts";
import { refuseSymlinksSync, symlinkRefused } from "./directory_paths.ts";
import { RECYCLE_MAX_BYTES, type SpareFiles } from "./spare_files.ts";
import { type Batched, BatchQueue } from "./batch_queue.ts";

/**
 * Most deletes in one batch: its renames block the event loop (about 20 µs
 * each), so a caller deleting thousands at once does not stall it for long.
 */
export const MAX_DELETE_BATCH = 256;

/** Options of {@linkcode DeleteBatches}. */
export interface DeleteBatchesOptions {
  /** The store's root (no symbolic link below it is followed). */
  root: string;
  /** Runs `fn` holding the store's exclusive lock. */
  exclusive: <T>(fn: () => Promise<T>) => Promise<T>;
  /** Where small deleted files go to be reused. */
  spares: SpareFiles;
  /** The fsync of a directory (a test may count or fail the calls). */
  syncDirectory?: (dir: string) => Promise<void>;
}

type Deletion = Batched<{ key: string; path: string }>;

/** Runs deletes in batches: one lock and one fsync per directory for all that arrive together. */
export class DeleteBatches {
  readonly #options: DeleteBatchesOptions;
  readonly #syncDirectory: (dir: string) => Promise<void>;
  readonly #queue: BatchQueue<{ key: string; path: string }>;

  /** Deletes for one store. */
  constructor(options: DeleteBatchesOptions) {
    this.#options = options;
    this.#syncDirectory = options.syncDirectory ?? syncDirectory;
    this.#queue = new BatchQueue({ maxBatch: MAX_DELETE_BATCH, run: (batch) => this.#run(batch) });
  }

  /**
   * Deletes the file at `path` (the object `key`; a missing file is not an
   * error); resolves once the removal is durable. A small file is kept as a
   * spare while the pool has room. A path through a symbolic link under the
   * root is refused (`invalid`).
   */
  delete(options: { key: string; path: string }): Promise<void> {
    return this.#queue.add(options);
  }

  async #run(batch: Deletion[]): Promise<void> {
    const { exclusive, spares, root } = this.#options;
    const removed = new Map<string, Deletion[]>(); // by directory
    try {
      await exclusive(() => {
        // Blocking calls: a batch is a few hundred microseconds of renames, far
        // cheaper than an async call (and a thread-pool hop) per step.
        const checked = new Map<string, boolean>(); // directory → exists (no links on the way)
        for (const deletion of batch) {
          const { key, path } = deletion.value;
          const dir = dirname(path);
          let spare: string | undefined;
          try {
            let exists = checked.get(dir);
            if (exists === undefined) {
              exists = refuseSymlinksSync(root, dir, key)?.isDirectory === true;
              checked.set(dir, exists);
            }
            if (!exists) {
              deletion.resolve();
              continue;
            }
            const info = Deno.lstatSync(path);
            if (info.isSymlink) throw symlinkRefused(key, path);
            // A small file becomes a spare for a later write (see spare_files.ts).
            spare = keepsAsSpare(info) && spares.hasRoom ? spares.recycledName(dir) : undefined;
            if (spare === undefined) Deno.removeSync(path);
            else Deno.renameSync(path, spare);
          } catch (error) {
            if (isMissing(error)) deletion.resolve();
            else deletion.reject(fsError(error, `delete ${key}`));
            continue;
          }
          if (spare !== undefined) spares.recycled(spare);
          const inDir = removed.get(dir);
          if (inDir === undefined) removed.set(dir, [deletion]);
          else inDir.push(deletion);
        }
        return Promise.resolve();
      });
    } catch (error) {
      // The lock was not taken (or a bug): whatever was not settled yet fails.
      for (const deletion of batch) deletion.reject(error);
      return;
    }
    await Promise.all([...removed].map(async ([dir, deletions]) => {
      try {
        await this.#syncDirectory(dir);
      } catch (error) {
        for (const deletion of deletions) {
          deletion.reject(
            new UnavailableError(
              `delete ${deletion.value.key}: removed but not synced: ${message(error)}`,
              {
                cause: error,
              },
            ),
          );
        }
        return;
      }
      for (const deletion of deletions) deletion.resolve();
    }));
  }
}

/** Whether a file of this size is kept as a spare when deleted. */
function keepsAsSpare(info: Deno.FileInfo | null): boolean {
  return info?.isFile === true && info.size <= RECYCLE_MAX_BYTES;
}
