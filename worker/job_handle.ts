/**
 * A handle on a submitted job: {@linkcode JobHandle.result} waits until the
 * job finished and resolves with its handler's result, or rejects with a
 * {@linkcode JobFailedError} (dead or cancelled) or a `TimeoutError`.
 *
 * It waits by reading the job (`get`, which also finds archived jobs) with
 * a growing interval (from `minPollMs` to `maxPollMs`): one cheap read per
 * interval, no state kept by the broker.
 *
 * @module
 */
import { JobFailedError, TimeoutError } from "../errors.ts";
import type { JobView, JsonValue, OperationResults } from "../protocol/operations.ts";
import type { Timers } from "./client_options.ts";

/** Options of {@linkcode JobHandle.result}. */
export interface ResultOptions {
  /** Give up after this many ms with a `TimeoutError` (default: wait for ever). */
  timeoutMs?: number;
  /** First interval between reads, ms (default 50); it doubles up to `maxPollMs`. */
  minPollMs?: number;
  /** Longest interval between reads, ms (default 1000). */
  maxPollMs?: number;
  /** Stop waiting (rejects with the signal's reason). */
  signal?: AbortSignal;
}

/** What a {@linkcode JobHandle} needs from a client. */
export interface JobHandleSource {
  /** Reads a job. */
  get(jobId: string): Promise<OperationResults["get"]>;
  /** Timers for the waits between reads. */
  timers: Timers;
  /** The current time, epoch ms. */
  now(): number;
}

/** A submitted job: its id, and a way to wait for its outcome. */
export class JobHandle {
  /** The job's id. */
  readonly id: string;
  /** Whether the push matched an earlier job by idempotency key (the handle is on that job). */
  readonly duplicate: boolean;
  #source: JobHandleSource;

  /** A handle on job `id`. */
  constructor(id: string, duplicate: boolean, source: JobHandleSource) {
    this.id = id;
    this.duplicate = duplicate;
    this.#source = source;
  }

  /** The job's record now. */
  async job(): Promise<JobView> {
    return (await this.#source.get(this.id)).job;
  }

  /**
   * Resolves with the job's result (`undefined` when its handler returned
   * none) once it completed; rejects with a {@linkcode JobFailedError}
   * carrying the job's last error when it died or was cancelled.
   */
  async result(options: ResultOptions = {}): Promise<JsonValue | undefined> {
    const { timers } = this.#source;
    const deadline = options.timeoutMs === undefined
      ? Infinity
      : this.#source.now() + options.timeoutMs;
    let wait = options.minPollMs ?? 50;
    const maxPoll = options.maxPollMs ?? 1000;
    for (;;) {
      options.signal?.throwIfAborted();
      const job = await this.job();
      if (job.state === "completed") return job.result;
      if (job.state === "dead" || job.state === "cancelled") {
        throw new JobFailedError(
          `job ${JSON.stringify(job.id)} is ${job.state}${
            job.lastError === undefined ? "" : `: ${job.lastError}`
          }`,
          { data: { jobId: job.id, state: job.state, lastError: job.lastError ?? null } },
        );
      }
      const left = deadline - this.#source.now();
      if (left <= 0) {
        throw new TimeoutError(
          `job ${
            JSON.stringify(job.id)
          } did not finish within ${options.timeoutMs} ms (it is ${job.state})`,
        );
      }
      await new Promise<void>((resolve, reject) => {
        const handle = timers.setTimeout(() => {
          options.signal?.removeEventListener("abort", onAbort);
          resolve();
        }, Math.min(wait, left));
        const onAbort = () => {
          timers.clearTimeout(handle);
          reject(options.signal!.reason);
        };
        options.signal?.addEventListener("abort", onAbort, { once: true });
      });
      wait = Math.min(wait * 2, maxPoll);
    }
  }
}
