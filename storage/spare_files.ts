/**
 * Recycled files for {@linkcode DirectoryStore}: a deleted small object's
 * file is renamed to a spare name instead of unlinked, and a later write
 * reuses it instead of allocating a new inode, as PostgreSQL recycles WAL
 * segments. On ext4 without a journal, allocating an inode skips every inode
 * freed in the last seconds, so a log that creates and deletes hundreds of
 * small files a second spends about 1 ms of kernel time per create; recycling
 * takes that to nothing.
 *
 * Safety: a spare is reused only after {@linkcode RECYCLE_AFTER_MS}, and the
 * store's reads check that the file they read is still the key's file (see
 * `readStable`), so a reader that opened an object just before it was
 * deleted gets its old bytes or "missing", never another object's bytes.
 * Spares are claimed with `rename(2)`, which only one process can win, so
 * processes sharing a store (or adopting a crashed process's spares) never
 * write the same spare.
 *
 * @module
 */
import { join } from "node:path";
import { type Clock, systemClock } from "../clock.ts";
import { isMissing } from "./directory_files.ts";

/** The prefix of a spare's name in the store's root (never listed: it starts with `.~`). */
export const SPARE_PREFIX = ".~spare-";
/** A deleted file is reused no sooner than this, ms. */
export const RECYCLE_AFTER_MS = 1_000;
/** Files larger than this are unlinked, not kept as spares, bytes. */
export const RECYCLE_MAX_BYTES = 64 * 1024;
/** The most spares kept; a delete beyond this unlinks. */
export const MAX_SPARES = 1_024;

interface Spare {
  path: string;
  freedAt: number;
}

/** Options of {@linkcode SpareFiles}. */
export interface SpareFilesOptions {
  /** The store's root, where spares live. */
  root: string;
  /** Time for the quarantine (default the system clock). */
  clock?: Pick<Clock, "now">;
}

/** A FIFO pool of recycled files in a store's root. */
export class SpareFiles {
  #root: string;
  #clock: Pick<Clock, "now">;
  #spares: Spare[] = [];
  #head = 0;

  /** A pool for the store at `options.root`. */
  constructor(options: SpareFilesOptions) {
    this.#root = options.root;
    this.#clock = options.clock ?? systemClock;
  }

  /** Spares held (ready or still waiting). */
  get size(): number {
    return this.#spares.length - this.#head;
  }

  /** Whether the pool takes another file. */
  get hasRoom(): boolean {
    return this.size < MAX_SPARES;
  }

  /** A fresh spare name to rename a deleted file to; pass it to {@linkcode SpareFiles.add} once renamed. */
  newName(): string {
    return join(this.#root, `${SPARE_PREFIX}${crypto.randomUUID()}`);
  }

  /** Records a file renamed to `path` (freed now, or adopted from an earlier process). */
  add(path: string): void {
    this.#spares.push({ path, freedAt: this.#clock.now() });
  }

  /**
   * Claims the oldest spare past its quarantine by renaming it to `temp`;
   * false when none is ready (or every ready one was taken by another process).
   */
  claimSync(temp: string): boolean {
    for (let spare = this.#ready(); spare !== undefined; spare = this.#ready()) {
      try {
        Deno.renameSync(spare.path, temp);
        return true;
      } catch (error) {
        if (!isMissing(error)) throw error;
      }
    }
    return false;
  }

  /** {@linkcode SpareFiles.claimSync} with async calls. */
  async claim(temp: string): Promise<boolean> {
    for (let spare = this.#ready(); spare !== undefined; spare = this.#ready()) {
      try {
        await Deno.rename(spare.path, temp);
        return true;
      } catch (error) {
        if (!isMissing(error)) throw error;
      }
    }
    return false;
  }

  /** Adopts spares left in the root by earlier processes (they start their quarantine now). */
  async adopt(): Promise<void> {
    for await (const entry of Deno.readDir(this.#root)) {
      if (entry.isFile && entry.name.startsWith(SPARE_PREFIX) && this.hasRoom) {
        this.add(join(this.#root, entry.name));
      }
    }
  }

  /** Takes the oldest spare if its quarantine is over. */
  #ready(): Spare | undefined {
    const spare = this.#spares[this.#head];
    if (spare === undefined || this.#clock.now() - spare.freedAt < RECYCLE_AFTER_MS) {
      return undefined;
    }
    this.#head++;
    if (this.#head > 64 && this.#head * 2 > this.#spares.length) {
      this.#spares = this.#spares.slice(this.#head);
      this.#head = 0;
    }
    return spare;
  }
}
