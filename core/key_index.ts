/**
 * A persistent map from idempotency keys to job sequence numbers, split by
 * hash into {@linkcode BUCKETS} buckets. A {@linkcode KeyIndexDraft} copies
 * the bucket array once and each bucket it writes once, so a batch never
 * copies the whole map unless it touches every bucket.
 *
 * @module
 */

/** Number of hash buckets. */
export const BUCKETS = 4096;

type Bucket = Map<string, number>;

/** FNV-1a over UTF-16 code units, reduced to a bucket number. */
function bucketOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % BUCKETS;
}

/** Read access shared by an index and its draft. */
export interface KeyIndexView {
  /** The sequence number of the job holding `key`, if any. */
  get(key: string): number | undefined;
}

/** An immutable map of idempotency keys to sequence numbers. */
export class KeyIndex implements KeyIndexView {
  /** The empty index. */
  static readonly EMPTY: KeyIndex = new KeyIndex(new Array<Bucket | undefined>(BUCKETS), 0);

  /**
   * Builds an index from `[key, seq]` pairs; calls `onDuplicate` for a key
   * that appears twice (the later pair wins if it returns).
   */
  static fromEntries(
    entries: Iterable<readonly [string, number]>,
    onDuplicate: (key: string) => void = () => {},
  ): KeyIndex {
    const buckets = new Array<Bucket | undefined>(BUCKETS);
    let size = 0;
    for (const [key, seq] of entries) {
      const b = bucketOf(key);
      const bucket = buckets[b] ??= new Map();
      if (bucket.has(key)) onDuplicate(key);
      else size++;
      bucket.set(key, seq);
    }
    return new KeyIndex(buckets, size);
  }

  /** @internal Use {@linkcode KeyIndex.fromEntries} or a draft. */
  constructor(
    /** Buckets by hash; never mutated. */
    readonly buckets: readonly (ReadonlyMap<string, number> | undefined)[],
    /** Number of keys. */
    readonly size: number,
  ) {}

  /** The sequence number of the job holding `key`, if any. */
  get(key: string): number | undefined {
    return this.buckets[bucketOf(key)]?.get(key);
  }

  /** A mutable copy-on-write draft of this index. */
  draft(): KeyIndexDraft {
    return new KeyIndexDraft(this);
  }
}

/** A mutable working copy of a {@linkcode KeyIndex}; the index it came from is never changed. */
export class KeyIndexDraft implements KeyIndexView {
  #buckets: (Bucket | undefined)[];
  #owned = new Set<Bucket>();
  #size: number;

  /** Starts a draft from `base`. */
  constructor(base: KeyIndex) {
    this.#buckets = base.buckets.slice() as (Bucket | undefined)[];
    this.#size = base.size;
  }

  /** The sequence number of the job holding `key`, if any. */
  get(key: string): number | undefined {
    return this.#buckets[bucketOf(key)]?.get(key);
  }

  /** Maps `key` to `seq`. */
  set(key: string, seq: number): void {
    const bucket = this.#own(bucketOf(key));
    if (!bucket.has(key)) this.#size++;
    bucket.set(key, seq);
  }

  /** Removes `key` if it maps to `seq`; returns whether it did. */
  delete(key: string, seq: number): boolean {
    const b = bucketOf(key);
    if (this.#buckets[b]?.get(key) !== seq) return false;
    this.#own(b).delete(key);
    this.#size--;
    return true;
  }

  /** The immutable index holding this draft's keys; the draft must not be used afterwards. */
  freeze(): KeyIndex {
    return new KeyIndex(this.#buckets, this.#size);
  }

  #own(b: number): Bucket {
    const bucket = this.#buckets[b];
    if (bucket !== undefined && this.#owned.has(bucket)) return bucket;
    const copy: Bucket = new Map(bucket);
    this.#owned.add(copy);
    this.#buckets[b] = copy;
    return copy;
  }
}
