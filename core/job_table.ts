/**
 * A persistent table of jobs keyed by sequence number, in chunks of
 * {@linkcode CHUNK_SIZE} consecutive numbers.
 *
 * A {@linkcode JobTable} is immutable; a {@linkcode JobTableDraft} copies the
 * map of chunks once and each chunk it touches once. Each chunk also caches
 * its encoded JSON, so encoding a state re-serialises only the chunks that
 * changed since the last encode.
 *
 * @module
 */
import type { Job } from "../protocol/operations.ts";
import { encodeStoredJobs } from "./job_codec.ts";

const CHUNK_BITS = 7;
/** Sequence numbers per chunk. */
export const CHUNK_SIZE: number = 1 << CHUNK_BITS;

interface JobChunk {
  /** Jobs by slot (`seq % CHUNK_SIZE`); holes are `undefined`. */
  readonly jobs: (Job | undefined)[];
  /** Jobs held. */
  count: number;
  /** The jobs' JSON (comma-separated, no brackets), once computed for this frozen chunk. */
  bytes: Uint8Array | undefined;
}

const chunkOf = (seq: number): number => Math.floor(seq / CHUNK_SIZE);
const slotOf = (seq: number): number => seq % CHUNK_SIZE;

/** An immutable table of jobs keyed by sequence number. */
export class JobTable {
  /** The empty table. */
  static readonly EMPTY: JobTable = new JobTable(new Map(), 0);

  /** Builds a table from jobs with their sequence numbers, in ascending `seq` order. */
  static fromSorted(entries: readonly { seq: number; job: Job }[]): JobTable {
    const draft = JobTable.EMPTY.draft();
    for (const { seq, job } of entries) draft.set(seq, job);
    return draft.freeze();
  }

  /** @internal Use {@linkcode JobTable.fromSorted} or a draft. */
  constructor(
    /** Non-empty chunks by chunk number, in ascending order. Never mutated (but for the byte cache). */
    readonly chunks: ReadonlyMap<number, JobChunk>,
    /** Number of jobs. */
    readonly size: number,
  ) {}

  /** The job with sequence number `seq`, if held. */
  get(seq: number): Job | undefined {
    return this.chunks.get(chunkOf(seq))?.jobs[slotOf(seq)];
  }

  /** All jobs, in ascending sequence order. */
  *[Symbol.iterator](): IterableIterator<Job> {
    for (const chunk of this.chunks.values()) {
      for (const job of chunk.jobs) if (job !== undefined) yield job;
    }
  }

  /**
   * The stored JSON of every non-empty chunk, in sequence order: each is the
   * chunk's jobs as comma-separated JSON values (see `job_codec.ts`), cached
   * on the chunk so unchanged chunks cost nothing the next time.
   */
  encodedChunks(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const chunk of this.chunks.values()) {
      if (chunk.bytes === undefined) {
        const jobs: Job[] = [];
        for (const job of chunk.jobs) if (job !== undefined) jobs.push(job);
        chunk.bytes = encodeStoredJobs(jobs);
      }
      out.push(chunk.bytes);
    }
    return out;
  }

  /** A mutable copy-on-write draft of this table. */
  draft(): JobTableDraft {
    return new JobTableDraft(this);
  }
}

/** A mutable working copy of a {@linkcode JobTable}; the table it came from is never changed. */
export class JobTableDraft {
  #chunks: Map<number, JobChunk>;
  #owned = new Set<JobChunk>();
  #size: number;

  /** Starts a draft from `base`. */
  constructor(base: JobTable) {
    this.#chunks = new Map(base.chunks);
    this.#size = base.size;
  }

  /** Number of jobs. */
  get size(): number {
    return this.#size;
  }

  /** The job with sequence number `seq`, if held. */
  get(seq: number): Job | undefined {
    return this.#chunks.get(chunkOf(seq))?.jobs[slotOf(seq)];
  }

  /**
   * Stores `job` under `seq`. New sequence numbers must be larger than every
   * number ever held (they come from a counter), which keeps chunks in order.
   */
  set(seq: number, job: Job): void {
    const c = chunkOf(seq);
    let chunk = this.#chunks.get(c);
    if (chunk === undefined) {
      chunk = { jobs: [], count: 0, bytes: undefined };
      this.#owned.add(chunk);
      this.#chunks.set(c, chunk);
    } else {
      chunk = this.#own(c, chunk);
    }
    const slot = slotOf(seq);
    if (chunk.jobs[slot] === undefined) {
      chunk.count++;
      this.#size++;
    }
    chunk.jobs[slot] = job;
  }

  /** Removes the job under `seq`; returns whether it was held. */
  delete(seq: number): boolean {
    const c = chunkOf(seq);
    const found = this.#chunks.get(c);
    const slot = slotOf(seq);
    if (found?.jobs[slot] === undefined) return false;
    this.#size--;
    if (found.count === 1) {
      this.#chunks.delete(c);
      return true;
    }
    const chunk = this.#own(c, found);
    chunk.jobs[slot] = undefined;
    chunk.count--;
    return true;
  }

  /** The immutable table holding this draft's jobs; the draft must not be used afterwards. */
  freeze(): JobTable {
    return new JobTable(this.#chunks, this.#size);
  }

  #own(c: number, chunk: JobChunk): JobChunk {
    if (this.#owned.has(chunk)) {
      chunk.bytes = undefined;
      return chunk;
    }
    const copy: JobChunk = { jobs: chunk.jobs.slice(), count: chunk.count, bytes: undefined };
    this.#owned.add(copy);
    this.#chunks.set(c, copy);
    return copy;
  }
}
