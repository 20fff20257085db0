/**
 * Ready-made files for {@linkcode DirectoryStore}'s creates, so that a commit
 * does not allocate an inode. On ext4 without a journal, allocating an inode
 * skips every inode freed in the last seconds, and a log that creates and
 * deletes hundreds of small files a second pays up to a millisecond of
 * kernel time per create, holding the directory's lock meanwhile. Two
 * sources, both owned by this store instance only (no other process ever
 * sees their names, so nobody else writes them):
 *
 * - **Recycled:** a deleted small object's file is renamed, within its own
 *   directory, to a spare name instead of unlinked (as PostgreSQL recycles
 *   WAL segments), and reused for a create in that directory after
 *   {@linkcode RECYCLE_AFTER_MS}. The store's reads check that the file they
 *   read is still the key's file (`readStable`), so a reader that opened an
 *   object just before it was deleted gets its old bytes or "missing".
 * - **Fresh:** empty files created in the background in this instance's own
 *   directory `.~spare-<id>/` (`prefill`). A create links one to its key and
 *   unlinks the spare name later, off the commit path. The instance holds a
 *   lock on its directory; a later instance removes directories whose lock
 *   is free (their owner is gone).
 *
 * @module
 */
import { dirname, join } from "node:path";
import { type Clock, systemClock } from "../clock.ts";

/** The prefix of spare names and of the fresh spares' directory (never listed: it starts with `.~`). */
export const SPARE_PREFIX = ".~spare-";
/** A deleted file is reused no sooner than this, ms. */
export const RECYCLE_AFTER_MS = 1_000;
/** Files larger than this are unlinked, not kept as spares, bytes. */
export const RECYCLE_MAX_BYTES = 64 * 1024;
/**
 * The most spares kept (recycled and fresh together); a delete beyond this
 * unlinks. Garbage collection frees a checkpoint's worth of log records at
 * once and they wait out the quarantine: 4,096 covers two to three seconds
 * of commits at 1,500 a second, so a busy broker reuses files instead of
 * allocating (a W2 run's broker CPU: 12.7 s with 1,024, 10.3 s with 4,096).
 */
export const MAX_SPARES = 4_096;

/** A spare handed out for one create. */
export interface Spare {
  /** Its path: write it (truncating), link it to the key, then call {@linkcode SpareFiles.done}. */
  path: string;
  /** Fresh spares live in another directory: their name is unlinked in the background. */
  fresh: boolean;
}

/** Options of {@linkcode SpareFiles}. */
export interface SpareFilesOptions {
  /** The store's root. */
  root: string;
  /** Time for the quarantine (default the system clock). */
  clock?: Pick<Clock, "now">;
  /** Fresh files to keep ready (default 0: only deleted files are reused). */
  prefill?: number;
}

interface Recycled {
  path: string;
  freedAt: number;
}

/** The spares of one store instance. */
export class SpareFiles {
  readonly #clock: Pick<Clock, "now">;
  readonly #prefill: number;
  readonly #dir: string;
  readonly #recycled = new Map<string, Recycled[]>();
  #recycledCount = 0;
  #fresh: string[] = [];
  #filling: Promise<void> | undefined;
  #lock: Deno.FsFile | undefined;
  #unlinks: string[] = [];
  #unlinking: Promise<void> | undefined;

  /** Spares for the store at `options.root`; nothing touches the disk before {@linkcode SpareFiles.start}. */
  constructor(options: SpareFilesOptions) {
    this.#clock = options.clock ?? systemClock;
    this.#prefill = Math.min(options.prefill ?? 0, MAX_SPARES);
    this.#dir = join(options.root, `${SPARE_PREFIX}${crypto.randomUUID()}`);
  }

  /** Spares held (recycled, waiting or ready, and fresh). */
  get size(): number {
    return this.#recycledCount + this.#fresh.length;
  }

  /** Whether the pool takes another recycled file. */
  get hasRoom(): boolean {
    return this.size < MAX_SPARES;
  }

  /** Once the root exists: removes dead instances' spare directories, starts the prefill. */
  async start(root: string): Promise<void> {
    if (this.#prefill === 0) return;
    await Deno.mkdir(this.#dir);
    this.#lock = await Deno.open(join(this.#dir, ".lock"), { write: true, createNew: true });
    await this.#lock.lock(true); // held until the process ends: the directory is in use
    for await (const entry of Deno.readDir(root)) {
      const path = join(root, entry.name);
      if (entry.isDirectory && entry.name.startsWith(SPARE_PREFIX) && path !== this.#dir) {
        await removeIfAbandoned(path);
      }
    }
    this.topUp();
  }

  /** A spare name in `dir` to rename a deleted file to; pass the path to {@linkcode SpareFiles.recycled} once renamed. */
  recycledName(dir: string): string {
    return join(dir, `${SPARE_PREFIX}${crypto.randomUUID()}`);
  }

  /** Records a file renamed to `path` (freed now). */
  recycled(path: string): void {
    const dir = dirname(path);
    let queue = this.#recycled.get(dir);
    if (queue === undefined) this.#recycled.set(dir, queue = []);
    queue.push({ path, freedAt: this.#clock.now() });
    this.#recycledCount++;
  }

  /** A spare for a create in `dir`: the oldest recycled one there past its quarantine, else a fresh one. */
  take(dir: string): Spare | undefined {
    const queue = this.#recycled.get(dir);
    const oldest = queue?.[0];
    if (oldest !== undefined && this.#clock.now() - oldest.freedAt >= RECYCLE_AFTER_MS) {
      queue!.shift();
      this.#recycledCount--;
      return { path: oldest.path, fresh: false };
    }
    const path = this.#fresh.pop();
    this.topUp();
    return path === undefined ? undefined : { path, fresh: true };
  }

  /** After a create linked `spare` to its key (or failed): drops the spare's own name. */
  done(spare: Spare): void {
    if (!spare.fresh) {
      try {
        Deno.removeSync(spare.path); // same directory as the key: quick
      } catch { /* a spare name left behind is never listed */ }
      return;
    }
    this.#unlinks.push(spare.path);
    this.#unlinking ??= (async () => {
      for (let path = this.#unlinks.pop(); path !== undefined; path = this.#unlinks.pop()) {
        await Deno.remove(path).catch(() => {});
      }
    })().finally(() => this.#unlinking = undefined);
  }

  /**
   * Starts creating fresh spares in the background when fewer than half of
   * `prefill` are left; one fill at a time, and a failed create ends it
   * quietly (creates then allocate their own files).
   */
  topUp(): void {
    if (this.#lock === undefined || this.#filling || this.#fresh.length * 2 >= this.#prefill) {
      return;
    }
    this.#filling = (async () => {
      while (this.#lock !== undefined && this.#fresh.length < this.#prefill && this.hasRoom) {
        const path = join(this.#dir, crypto.randomUUID());
        (await Deno.open(path, { write: true, createNew: true })).close();
        this.#fresh.push(path);
      }
    })().catch(() => {}).finally(() => this.#filling = undefined);
  }

  /** Waits for the background work, then releases the directory's lock (its files stay for a later instance to remove). */
  async close(): Promise<void> {
    const lock = this.#lock;
    this.#lock = undefined;
    await this.#filling;
    this.#fresh = []; // their directory may be removed by a later instance once unlocked
    await this.#unlinking;
    lock?.close();
  }
}

/** Removes another instance's spare directory when its lock is free (that instance is gone). */
async function removeIfAbandoned(dir: string): Promise<void> {
  let lock: Deno.FsFile;
  try {
    lock = await Deno.open(join(dir, ".lock"), { write: true });
  } catch {
    return; // no lock file (yet): leave it
  }
  try {
    if (!await lock.tryLock(true)) return; // its owner is alive
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  } finally {
    lock.close();
  }
}
