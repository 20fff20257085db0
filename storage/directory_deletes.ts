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
import { RECYCLE_MAX_BYTES, type SpareFiles } from "./spare_files.ts";

/** Options of {@linkcode DeleteBatches}. */
export interface DeleteBatchesOptions {
  /** Runs `fn` holding the store's exclusive lock. */
  exclusive: <T>(fn: () => Promise<T>) => Promise<T>;
  /** Where small deleted files go to be reused. */
  spares: SpareFiles;
  /** The fsync of a directory (a test may count or fail the calls). */
  syncDirectory?: (dir: string) => Promise<void>;
}

interface Deletion {
  key: string;
  path: string;
  /** Whether the file is small enough to keep as a spare. */
  small: boolean;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** Runs deletes in batches: one lock and one fsync per directory for all that arrive together. */
export class DeleteBatches {
  readonly #options: DeleteBatchesOptions;
  readonly #syncDirectory: (dir: string) => Promise<void>;
  #queued: Deletion[] = [];
  #draining = false;

  /** Deletes for one store. */
  constructor(options: DeleteBatchesOptions) {
    this.#options = options;
    this.#syncDirectory = options.syncDirectory ?? syncDirectory;
  }

  /**
   * Deletes the file at `path` (the object `key`; a missing file is not an
   * error); resolves once the removal is durable. A small file (`small`)
   * is kept as a spare while the pool has room.
   */
  delete(options: { key: string; path: string; small: boolean }): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queued.push({ ...options, resolve, reject });
      if (!this.#draining) void this.#drain();
    });
  }

  /** Runs batches until none is queued (the flag drops in the same step as the last check). */
  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      while (this.#queued.length > 0) {
        const batch = this.#queued;
        this.#queued = [];
        await this.#run(batch);
      }
    } finally {
      this.#draining = false;
    }
  }

  async #run(batch: Deletion[]): Promise<void> {
    const { exclusive, spares } = this.#options;
    const removed = new Map<string, Deletion[]>(); // by directory
    try {
      await exclusive(async () => {
        for (const deletion of batch) {
          const dir = dirname(deletion.path);
          // A small file becomes a spare for a later write (see spare_files.ts).
          const spare = deletion.small && spares.hasRoom ? spares.recycledName(dir) : undefined;
          try {
            if (spare === undefined) await Deno.remove(deletion.path);
            else await Deno.rename(deletion.path, spare);
          } catch (error) {
            if (isMissing(error)) deletion.resolve();
            else deletion.reject(fsError(error, `delete ${deletion.key}`));
            continue;
          }
          if (spare !== undefined) spares.recycled(spare);
          const inDir = removed.get(dir);
          if (inDir === undefined) removed.set(dir, [deletion]);
          else inDir.push(deletion);
        }
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
              `delete ${deletion.key}: removed but not synced: ${message(error)}`,
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
export function keepsAsSpare(info: Deno.FileInfo | null): boolean {
  return info?.isFile === true && info.size <= RECYCLE_MAX_BYTES;
}
