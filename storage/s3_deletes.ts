/**
 * An {@linkcode S3Store}'s deletes, gathered into multi-object deletes: the
 * deletes asked for together (garbage collection keeps 16 going) go to the
 * server as one `DeleteObjects` request of up to 1,000 keys rather than one
 * request each, and those asked for while it runs form the next one. A lone delete stays a plain `DeleteObject`. A server
 * that does not implement `DeleteObjects` (501) gets single deletes from then
 * on.
 *
 * @module
 */
import { InvalidError, UnavailableError } from "../errors.ts";
import { type Batched, BatchQueue } from "./batch_queue.ts";

/** Most keys in one `DeleteObjects` request (S3's limit). */
export const MAX_DELETE_BATCH = 1000;

/** What one key of a multi-object delete came back with. */
export interface DeleteOutcome {
  /** The key as sent. */
  key: string;
  /** The server's error code, when this key was not deleted. */
  code?: string;
  /** The server's message for that error. */
  message?: string;
}

/** Options of {@linkcode S3DeleteBatches}. */
export interface S3DeleteBatchesOptions {
  /** Deletes one key (a missing key is not an error). */
  deleteOne: (key: string) => Promise<void>;
  /**
   * Deletes several keys in one request; resolves with the keys that failed
   * (an empty list when all went). Rejects when the request itself failed.
   */
  deleteMany: (keys: string[]) => Promise<DeleteOutcome[]>;
  /** Whether a request error means the server has no multi-object delete. */
  isNotImplemented: (error: unknown) => boolean;
  /** `s3://bucket/prefix/key` for messages. */
  url: (key: string) => string;
}

type Deletion = Batched<string>;

/** Gathers the deletes asked for together into multi-object deletes. */
export class S3DeleteBatches {
  readonly #options: S3DeleteBatchesOptions;
  readonly #queue: BatchQueue<string>;
  #multi = true;

  /** Deletes for one store. */
  constructor(options: S3DeleteBatchesOptions) {
    this.#options = options;
    this.#queue = new BatchQueue({
      maxBatch: MAX_DELETE_BATCH,
      gatherTurn: true, // the deletes asked for in the same turn join the first batch
      run: (batch) => batch.length === 1 || !this.#multi ? this.#single(batch) : this.#many(batch),
    });
  }

  /** Deletes `key` (a missing key is not an error). */
  delete(key: string): Promise<void> {
    return this.#queue.add(key);
  }

  async #single(batch: Deletion[]): Promise<void> {
    await Promise.all(batch.map(async (deletion) => {
      try {
        await this.#options.deleteOne(deletion.value);
        deletion.resolve();
      } catch (error) {
        deletion.reject(error);
      }
    }));
  }

  async #many(batch: Deletion[]): Promise<void> {
    let failed: DeleteOutcome[];
    try {
      failed = await this.#options.deleteMany(batch.map((deletion) => deletion.value));
    } catch (error) {
      if (this.#options.isNotImplemented(error)) {
        this.#multi = false;
        return await this.#single(batch);
      }
      for (const deletion of batch) deletion.reject(error);
      return;
    }
    const errors = new Map(failed.map((outcome) => [outcome.key, outcome]));
    for (const deletion of batch) {
      const outcome = errors.get(deletion.value);
      if (outcome === undefined || outcome.code === "NoSuchKey") {
        deletion.resolve();
        continue;
      }
      const detail =
        `S3 DeleteObjects ${this.#options.url(deletion.value)}: ${outcome.code ?? "error"}` +
        (outcome.message === undefined ? "" : ` ${outcome.message}`);
      deletion.reject(
        outcome.code === "AccessDenied" ? new InvalidError(detail) : new UnavailableError(detail),
      );
    }
  }
}
