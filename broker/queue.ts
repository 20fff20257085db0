/**
 * Embedded mode: a typed `Queue<T>` over an in-process broker. One process,
 * no server; the state still lives in the store, so it survives restarts.
 *
 * @module
 */
import { ValidationError } from "../errors.ts";
import type {
  ClaimedJob,
  JobView,
  JsonValue,
  OperationResults,
  PushJob,
  QueueStats,
} from "../protocol/operations.ts";
import type { QueueBackend } from "../protocol/backend.ts";
import { parsePayload, type PayloadSchema } from "../protocol/payload_schema.ts";
import { Broker, type BrokerOptions } from "./broker.ts";

/** Options of a push: everything a {@linkcode PushJob} holds but its type and payload. */
export type QueuePushOptions = Omit<PushJob, "type" | "payload">;

/** Options of a claim. */
export interface QueueClaimOptions {
  /** Lease holder name (default: the queue's `workerId`). */
  workerId?: string;
  /** At most this many jobs (default 1). */
  max?: number;
  /** Lease duration, ms (default: the broker's heartbeat timeout). */
  leaseMs?: number;
  /** Wait up to this long for a job when none is ready (default 0). */
  waitMs?: number;
  /** Stops waiting. */
  signal?: AbortSignal;
}

/** A claimed job with a typed payload. */
export interface QueueJob<T> extends ClaimedJob {
  /** The payload, validated by the queue's schema when it has one. */
  payload: T & JsonValue;
}

/** Options of {@linkcode Queue}. */
export interface QueueOptions<T> {
  /** Validates payloads on push and on claim (any Standard Schema: zod, `zod/mini`, valibot…). */
  schema?: PayloadSchema<unknown, T>;
  /** The job type this queue pushes and claims (default `default`). */
  type?: string;
  /** Lease holder name for claims (default `embedded`). */
  workerId?: string;
}

/** Options of {@linkcode Queue.open}: a broker's options plus the queue's. */
export type OpenQueueOptions<T> = BrokerOptions & QueueOptions<T>;

/**
 * A typed queue of one job type.
 *
 * @example
 * ```ts
 * import { Queue } from "./queue.ts";
 * import { MemoryStore } from "../storage/memory_store.ts";
 *
 * const queue = await Queue.open<{ to: string }>({ store: new MemoryStore() });
 * await queue.push({ to: "a@example.com" });
 * const [job] = await queue.claim();
 * await queue.complete(job);
 * await queue.close();
 * ```
 */
export class Queue<T> {
  readonly #backend: QueueBackend;
  #owned: Broker | undefined;
  readonly #schema: PayloadSchema<unknown, T> | undefined;
  readonly #type: string;
  readonly #workerId: string;

  /** Wraps a running broker (or any {@linkcode QueueBackend}); {@linkcode Queue.close} leaves it running. */
  constructor(backend: QueueBackend, options: QueueOptions<T> = {}) {
    this.#backend = backend;
    this.#schema = options.schema;
    this.#type = options.type ?? "default";
    this.#workerId = options.workerId ?? "embedded";
  }

  /**
   * Starts an in-process broker on `options.store` (identity `embedded` unless
   * given, so a restarted process takes over at once) and returns a queue over
   * it; `close()` stops it.
   */
  static async open<T>(options: OpenQueueOptions<T>): Promise<Queue<T>> {
    const broker = new Broker({ identity: { id: "embedded" }, ...options });
    await broker.start();
    const queue = new Queue<T>(broker, options);
    queue.#owned = broker;
    return queue;
  }

  /** The broker behind this queue. */
  get backend(): QueueBackend {
    return this.#backend;
  }

  /** Pushes one job; resolves with its id once it is durably stored. */
  async push(payload: T, options: QueuePushOptions = {}): Promise<string> {
    const [id] = await this.pushMany([payload], options);
    return id;
  }

  /** Pushes many jobs in one operation; resolves with their ids, in order. */
  async pushMany(payloads: readonly T[], options: QueuePushOptions = {}): Promise<string[]> {
    const jobs: PushJob[] = payloads.map((payload) => ({
      ...options,
      type: this.#type,
      payload: this.#validate(payload, "push"),
    }));
    const reply = await this.#backend.request({ op: "push", jobs });
    return reply.jobs.map((job) => job.id);
  }

  /**
   * Claims up to `max` jobs. A job whose payload fails the schema is
   * dead-lettered (fail without retry) and not returned.
   */
  async claim(options: QueueClaimOptions = {}): Promise<QueueJob<T>[]> {
    const reply = await this.#backend.request({
      op: "claim",
      workerId: options.workerId ?? this.#workerId,
      types: [this.#type],
      max: options.max,
      leaseMs: options.leaseMs,
      waitMs: options.waitMs,
    }, { signal: options.signal });
    const valid: QueueJob<T>[] = [];
    for (const job of reply.jobs) {
      try {
        const payload = this.#validate(structuredClone(job.payload) as T, "claim");
        valid.push({ ...job, payload: payload as T & JsonValue });
      } catch (error) {
        await this.fail(job, (error as Error).message, { retry: false });
      }
    }
    return valid;
  }

  /** Extends a job's lease; rejects with `LeaseLostError` if the lease is no longer held. */
  async heartbeat(job: ClaimedJob, leaseMs?: number): Promise<number> {
    const reply = await this.#backend.request({
      op: "heartbeat",
      jobId: job.id,
      leaseToken: job.leaseToken,
      leaseMs,
    });
    return reply.leaseExpiresAt;
  }

  /** Completes a job, with an optional small JSON result. */
  async complete(job: ClaimedJob, result?: JsonValue): Promise<void> {
    await this.#backend.request({
      op: "complete",
      jobId: job.id,
      leaseToken: job.leaseToken,
      result,
    });
  }

  /** Fails an attempt: retried with backoff, or dead-lettered after its last attempt (or with `retry: false`). */
  fail(
    job: ClaimedJob,
    error: string,
    options: { retry?: boolean } = {},
  ): Promise<OperationResults["fail"]> {
    return this.#backend.request({
      op: "fail",
      jobId: job.id,
      leaseToken: job.leaseToken,
      error,
      retry: options.retry,
    });
  }

  /** Gives a job back unstarted: ready again at once, the attempt not counted. */
  async release(job: ClaimedJob): Promise<void> {
    await this.#backend.request({ op: "release", jobId: job.id, leaseToken: job.leaseToken });
  }

  /** Cancels a job that has not finished; resolves whether it was cancelled. */
  async cancel(id: string): Promise<boolean> {
    return (await this.#backend.request({ op: "cancel", jobId: id })).cancelled;
  }

  /** Reads a job's record; rejects with `JobNotFoundError` when unknown (or already archived). */
  async get(id: string): Promise<JobView> {
    return structuredClone((await this.#backend.request({ op: "get", jobId: id })).job);
  }

  /** Reads the queue's counters. */
  stats(): Promise<QueueStats> {
    return this.#backend.request({ op: "stats" });
  }

  /** Stops the broker if {@linkcode Queue.open} started it. */
  async close(): Promise<void> {
    await this.#owned?.stop();
  }

  #validate(payload: T, when: "push" | "claim"): JsonValue {
    if (this.#schema === undefined) return payload as JsonValue;
    const parsed = parsePayload(this.#schema, payload);
    if (!parsed.ok) {
      const issues = parsed.issues.map((issue) =>
        `${issue.path === "(root)" ? "payload" : issue.path}: ${issue.message}`
      ).join("; ");
      throw new ValidationError(`invalid ${this.#type} payload at ${when}: ${issues}`);
    }
    return parsed.value as JsonValue;
  }
}
