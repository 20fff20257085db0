/**
 * A persistent sorted list of index entries, the building block of the
 * queue's indexes (ready, delayed, active, finished).
 *
 * Entries live in sorted chunks of at most {@linkcode MAX_CHUNK} entries. A
 * {@linkcode SortedList} is immutable; a {@linkcode SortedListDraft} made from
 * it copies the (short) array of chunk references once and each chunk it
 * touches once, so one batch of operations costs O(n / chunk + touched chunks)
 * in copying, never O(n) per operation, and the list it was made from stays
 * valid.
 *
 * @module
 */

/** One index entry, ordered by `a`, then `b`, then `seq` (all ascending). */
export interface IndexEntry {
  /** Primary key (e.g. minus the priority, or a time). */
  readonly a: number;
  /** Secondary key (e.g. `runAt`), 0 when unused. */
  readonly b: number;
  /** The job's sequence number: the tie-break, unique within one list. */
  readonly seq: number;
}

/** Compares two entries by `a`, `b`, then `seq`. */
export function compareEntries(x: IndexEntry, y: IndexEntry): number {
  return x.a - y.a || x.b - y.b || x.seq - y.seq;
}

/** Most entries in one chunk; a fuller chunk is split in two. */
export const MAX_CHUNK = 512;

type Chunk = IndexEntry[];

/** Read access shared by a list and its draft. */
export interface SortedListView {
  /** Number of entries. */
  readonly size: number;
  /** The smallest entry, if any. */
  first(): IndexEntry | undefined;
}

/** An immutable sorted list of {@linkcode IndexEntry}. */
export class SortedList implements SortedListView {
  /** The empty list. */
  static readonly EMPTY: SortedList = new SortedList([], 0);

  /** Builds a list from entries already sorted by {@linkcode compareEntries}, without duplicates. */
  static fromSorted(entries: readonly IndexEntry[]): SortedList {
    if (entries.length === 0) return SortedList.EMPTY;
    const half = MAX_CHUNK >> 1;
    const chunks: Chunk[] = [];
    for (let i = 0; i < entries.length; i += half) chunks.push(entries.slice(i, i + half));
    return new SortedList(chunks, entries.length);
  }

  /** Builds a list from entries in any order (sorts a copy). */
  static from(entries: readonly IndexEntry[]): SortedList {
    return SortedList.fromSorted([...entries].sort(compareEntries));
  }

  /** @internal Use {@linkcode SortedList.fromSorted} or a draft. */
  constructor(
    /** The non-empty sorted chunks, in order. Never mutated. */
    readonly chunks: readonly (readonly IndexEntry[])[],
    /** Number of entries. */
    readonly size: number,
  ) {}

  /** The smallest entry, if any. */
  first(): IndexEntry | undefined {
    return this.chunks[0]?.[0];
  }

  /** The smallest entry whose `a` is greater than `value`, if any. */
  firstAbove(value: number): IndexEntry | undefined {
    const chunk = this.chunks[chunkAbove(this.chunks, value)];
    return chunk === undefined ? undefined : chunk[indexAbove(chunk, value)];
  }

  /** How many entries have `a <= value`. */
  countAtMost(value: number): number {
    const c = chunkAbove(this.chunks, value);
    let count = 0;
    for (let i = 0; i < c; i++) count += this.chunks[i].length;
    const chunk = this.chunks[c];
    return chunk === undefined ? count : count + indexAbove(chunk, value);
  }

  /** The first `limit` entries, in order. */
  take(limit: number): IndexEntry[] {
    const out: IndexEntry[] = [];
    for (const chunk of this.chunks) {
      for (const entry of chunk) {
        if (out.length >= limit) return out;
        out.push(entry);
      }
    }
    return out;
  }

  /** All entries, in order. */
  *[Symbol.iterator](): IterableIterator<IndexEntry> {
    for (const chunk of this.chunks) yield* chunk;
  }

  /** A mutable copy-on-write draft of this list. */
  draft(): SortedListDraft {
    return new SortedListDraft(this);
  }
}

/** A mutable working copy of a {@linkcode SortedList}; the list it came from is never changed. */
export class SortedListDraft implements SortedListView {
  #chunks: Chunk[];
  #owned = new Set<Chunk>();
  #size: number;

  /** Starts a draft from `base`. */
  constructor(base: SortedList) {
    this.#chunks = base.chunks.slice() as Chunk[];
    this.#size = base.size;
  }

  /** Number of entries. */
  get size(): number {
    return this.#size;
  }

  /** The smallest entry, if any. */
  first(): IndexEntry | undefined {
    return this.#chunks[0]?.[0];
  }

  /** Adds an entry (entries are unique by key; adding an equal entry twice keeps two). */
  insert(entry: IndexEntry): void {
    const chunks = this.#chunks;
    this.#size++;
    if (chunks.length === 0) {
      const chunk = [entry];
      this.#owned.add(chunk);
      chunks.push(chunk);
      return;
    }
    let c = chunkFor(chunks, entry);
    if (c === chunks.length) c--; // larger than everything: append to the last chunk
    const chunk = this.#own(c);
    chunk.splice(lowerBound(chunk, entry), 0, entry);
    if (chunk.length > MAX_CHUNK) {
      const tail = chunk.splice(chunk.length >> 1);
      this.#owned.add(tail);
      chunks.splice(c + 1, 0, tail);
    }
  }

  /** Removes the entry equal to `entry` by key; returns whether it was there. */
  remove(entry: IndexEntry): boolean {
    const chunks = this.#chunks;
    const c = chunkFor(chunks, entry);
    const found = chunks[c];
    if (found === undefined) return false;
    const i = lowerBound(found, entry);
    if (i >= found.length || compareEntries(found[i], entry) !== 0) return false;
    this.#size--;
    if (found.length === 1) {
      chunks.splice(c, 1);
      return true;
    }
    this.#own(c).splice(i, 1);
    return true;
  }

  /** The immutable list holding this draft's entries; the draft must not be used afterwards. */
  freeze(): SortedList {
    return this.#size === 0 ? SortedList.EMPTY : new SortedList(this.#chunks, this.#size);
  }

  #own(c: number): Chunk {
    const chunk = this.#chunks[c];
    if (this.#owned.has(chunk)) return chunk;
    const copy = chunk.slice();
    this.#owned.add(copy);
    this.#chunks[c] = copy;
    return copy;
  }
}

/** Index of the first chunk whose last entry is >= `entry` (chunks.length if none). */
function chunkFor(chunks: readonly (readonly IndexEntry[])[], entry: IndexEntry): number {
  let lo = 0;
  let hi = chunks.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const chunk = chunks[mid];
    if (compareEntries(chunk[chunk.length - 1], entry) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first entry >= `entry` in a sorted chunk. */
function lowerBound(chunk: readonly IndexEntry[], entry: IndexEntry): number {
  let lo = 0;
  let hi = chunk.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareEntries(chunk[mid], entry) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first chunk whose last entry has `a > value`. */
function chunkAbove(chunks: readonly (readonly IndexEntry[])[], value: number): number {
  let lo = 0;
  let hi = chunks.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const chunk = chunks[mid];
    if (chunk[chunk.length - 1].a <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first entry with `a > value` in a sorted chunk. */
function indexAbove(chunk: readonly IndexEntry[], value: number): number {
  let lo = 0;
  let hi = chunk.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (chunk[mid].a <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
