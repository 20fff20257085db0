/**
 * {@linkcode BatchQueue}: work items that arrive while a batch runs form the
 * next batch. The stores use it to gather deletes (one lock and one
 * directory fsync per batch on a directory, one `DeleteObjects` per batch on
 * S3).
 *
 * @module
 */

/** A queued item and how to settle its caller. */
export interface Batched<T> {
  /** The item. */
  value: T;
  /** Settles the caller's promise with success. */
  resolve: () => void;
  /** Settles the caller's promise with `error`. */
  reject: (error: unknown) => void;
}

/** Options of {@linkcode BatchQueue}. */
export interface BatchQueueOptions<T> {
  /** Most items in one batch. */
  maxBatch: number;
  /** Runs one batch; settles each item (an item it leaves unsettled when it throws is rejected). */
  run: (batch: Batched<T>[]) => Promise<void>;
  /**
   * Waits one microtask before the first batch, so the items added in the
   * same turn go together (default false: the first item goes alone, at once).
   */
  gatherTurn?: boolean;
}

/** Runs items in batches: one batch at a time, the next made of those that arrived meanwhile. */
export class BatchQueue<T> {
  readonly #options: BatchQueueOptions<T>;
  #queued: Batched<T>[] = [];
  #draining = false;

  /** A queue that runs its batches with `options.run`. */
  constructor(options: BatchQueueOptions<T>) {
    this.#options = options;
  }

  /** Queues `value`; resolves or rejects as its batch settles it. */
  add(value: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queued.push({ value, resolve, reject });
      if (!this.#draining) void this.#drain();
    });
  }

  /** Runs batches until none is queued (the flag drops in the same step as the last check). */
  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      if (this.#options.gatherTurn === true) await Promise.resolve();
      while (this.#queued.length > 0) {
        const batch = this.#queued.splice(0, this.#options.maxBatch);
        try {
          await this.#options.run(batch);
        } catch (error) {
          for (const item of batch) item.reject(error); // settled ones stay as they were
        }
      }
    } finally {
      this.#draining = false;
    }
  }
}
