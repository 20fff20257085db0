/**
 * Recycled files for {@linkcode DirectoryStore}: a deleted small object's
 * file is renamed to a spare name instead of unlinked, and a later write
 * reuses it instead of allocating a new inode, as PostgreSQL recycles WAL
 * segments. On ext4 without a journal, allocating an inode skips every inode
 * freed in the last seconds, so a log that creates and deletes hundreds of
 * small files a second spends about 1 ms of kernel time per create; recycling
 * takes that to nothing. The pool can also be filled ahead with empty files
 * created in the background (`prefill`), so that a commit never waits for
 * an inode when deletes have not yet refilled it.
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
  /**
   * Empty files to keep ready, created in the background whenever fewer
   * than half are left (default 0: only deleted files are reused).
   */
  prefill?: number;
}

/** A FIFO pool of recycled files in a store's root. */
export class SpareFiles {
  #root: string;
  #clock: Pick<Clock, "now">;
  #spares: Spare[] = [];
  #head = 0;
  #fresh: string[] = [];
  #prefill: number;
  #filling = false;

  /** A pool for the store at `options.root`. */
  constructor(options: SpareFilesOptions) {
    this.#root = options.root;
    this.#clock = options.clock ?? systemClock;
    this.#prefill = Math.min(options.prefill ?? 0, MAX_SPARES);
  }

  /** Spares held (ready or still waiting). */
  get size(): number {
    return this.#spares.length - this.#head + this.#fresh.length;
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
    this.topUp();
    for (let spare = this.#ready(); spare !== undefined; spare = this.#ready()) {
      try {
        Deno.renameSync(spare, temp);
        return true;
      } catch (error) {
        if (!isMissing(error)) throw error;
      }
    }
    return false;
  }

  /** {@linkcode SpareFiles.claimSync} with async calls. */
  async claim(temp: string): Promise<boolean> {
    this.topUp();
    for (let spare = this.#ready(); spare !== undefined; spare = this.#ready()) {
      try {
        await Deno.rename(spare, temp);
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

  /**
   * Starts creating empty spares in the background when fewer than half of
   * `prefill` are left; at most one fill runs at a time, and a failed create
   * ends it quietly (writes then allocate their own files).
   */
  topUp(): void {
    if (this.#filling || this.#fresh.length * 2 >= this.#prefill) return;
    this.#filling = true;
    (async () => {
      while (this.#fresh.length < this.#prefill && this.hasRoom) {
        const path = this.newName();
        (await Deno.open(path, { write: true, createNew: true })).close();
        this.#fresh.push(path);
      }
    })().catch(() => {}).finally(() => this.#filling = false);
  }

  /** The path of the oldest deleted file past its quarantine, else of a fresh one. */
  #ready(): string | undefined {
    const spare = this.#spares[this.#head];
    if (spare === undefined || this.#clock.now() - spare.freedAt < RECYCLE_AFTER_MS) {
      return this.#fresh.pop();
    }
    this.#head++;
    if (this.#head > 64 && this.#head * 2 > this.#spares.length) {
      this.#spares = this.#spares.slice(this.#head);
      this.#head = 0;
    }
    return spare.path;
  }
}
