/**
 * {@linkcode InProcessClient}: the client a `Worker` needs, on a broker in the
 * same process — no server, no WebSocket. Push delivery runs on the same
 * {@linkcode PushDispatcher} a WebSocket connection uses (credits, parked
 * claims, releasing jobs that arrive after an unsubscribe); the job calls
 * (`heartbeat`, `complete`, `fail`, `release`, `progress`) and `push`/`get`
 * go straight to the backend's `request`, which validates them; so it is
 * also a producer client (`createProducer(client, jobs)`). The heartbeat loop is the
 * Worker's own (the client has no `startHeartbeat`).
 *
 * It lives in `server/` because it reuses the dispatcher; the Worker stays in
 * the browser-safe `worker/` and only sees the `WorkerClient` shape.
 *
 * @example A worker embedded next to its broker
 * ```ts
 * import { Broker, InProcessClient, MemoryStore, Worker } from "@osqueue/osqueue";
 *
 * const broker = new Broker({ store: new MemoryStore() });
 * await broker.start();
 * const client = new InProcessClient({ backend: broker });
 * const worker = new Worker({
 *   client,
 *   workerId: "embedded-1",
 *   handlers: { greet: (job) => ({ hello: job.payload }) },
 * });
 * await worker.start();
 * await broker.request({ op: "push", jobs: [{ type: "greet", payload: "world" }] });
 * // … later:
 * await worker.stop();
 * await client.close();
 * await broker.stop();
 * ```
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import {
  DisconnectedError,
  type OsqueueError,
  toOsqueueError,
  ValidationError,
} from "../errors.ts";
import type { QueueBackend } from "../protocol/backend.ts";
import type {
  ClaimedJob,
  JsonValue,
  Operation,
  OperationResult,
  OperationResults,
  PushJob,
} from "../protocol/operations.ts";
import { parsePayload, type PayloadSchema } from "../protocol/payload_schema.ts";
import type { SubscribeParams } from "../protocol/wire.ts";
import { subscribeParamsSchema } from "../protocol/wire_schemas.ts";
import { PushDispatcher } from "./dispatcher.ts";

/** Options of {@linkcode InProcessClient}. */
export interface InProcessClientOptions {
  /** The broker (any `QueueBackend`, e.g. a `Broker`). */
  backend: QueueBackend;
  /**
   * Called with errors nobody awaits: a delivery handler that threw, push
   * delivery stopped by the broker (`not_leader`, `shutting_down`).
   */
  onError?: (error: OsqueueError) => void;
  /** Clock and timers of push delivery (default the system's). */
  clock?: Clock;
  /** How long each parked delivery claim waits in the broker, ms (default 25 000). */
  claimWaitMs?: number;
}

/** Options of {@linkcode InProcessClient.fail}. */
export interface InProcessFailOptions {
  /** `false` dead-letters the job at once, whatever attempts remain (default true). */
  retry?: boolean;
}

/** Receives jobs pushed to the subscription. */
export type InProcessDeliveryHandler = (jobs: ClaimedJob[]) => void;

function parseOrThrow<T>(schema: PayloadSchema<unknown, T>, value: unknown, what: string): T {
  const parsed = parsePayload(schema, value);
  if (parsed.ok) return parsed.value as T;
  const issues = parsed.issues.map((issue) => `${issue.path}: ${issue.message}`);
  throw new ValidationError(`invalid ${what}: ${issues.join("; ")}`);
}

/**
 * A worker client on an in-process broker. One subscription at a time, as
 * over WebSocket; {@linkcode InProcessClient.close} stops delivery and waits
 * until every parked claim has settled.
 */
export class InProcessClient {
  readonly #backend: QueueBackend;
  readonly #dispatcher: PushDispatcher;
  readonly #onError?: (error: OsqueueError) => void;
  #onJobs?: InProcessDeliveryHandler;
  #closed = false;

  /** Creates a client on `options.backend`; nothing is claimed until {@linkcode InProcessClient.subscribe}. */
  constructor(options: InProcessClientOptions) {
    this.#backend = options.backend;
    this.#onError = options.onError;
    this.#dispatcher = new PushDispatcher({
      backend: options.backend,
      deliver: (jobs) => this.#deliver(jobs),
      onFatal: (error) => this.#onError?.(error),
      ...(options.clock === undefined ? {} : { clock: options.clock }),
      ...(options.claimWaitMs === undefined ? {} : { claimWaitMs: options.claimWaitMs }),
    });
  }

  /** Credits granted and not yet used by a delivery. */
  get credits(): number {
    return this.#dispatcher.credits;
  }

  /** Sends any queue operation to the broker and resolves with its reply. */
  request<O extends Operation>(operation: O): Promise<OperationResult<O>> {
    if (this.#closed) return Promise.reject(this.#closedError());
    return this.#backend.request(operation);
  }

  /** Enqueues one job or a batch; one `{id, duplicate}` per job, in order. */
  push(jobs: PushJob | PushJob[]): Promise<OperationResults["push"]> {
    return this.request({ op: "push", jobs: Array.isArray(jobs) ? jobs : [jobs] });
  }

  /** Reads a job's record. */
  get(jobId: string): Promise<OperationResults["get"]> {
    return this.request({ op: "get", jobId });
  }

  /**
   * Starts push delivery: the broker hands jobs to `onJobs`, never more than
   * the credits granted (`params.credits` now, plus every
   * {@linkcode InProcessClient.credit}). Subscribing again replaces the
   * subscription. Rejects with `ValidationError` on bad params.
   */
  subscribe(params: SubscribeParams, onJobs: InProcessDeliveryHandler): Promise<void> {
    try {
      if (this.#closed) throw this.#closedError();
      const parsed = parseOrThrow(subscribeParamsSchema, params, "subscribe params");
      this.#onJobs = onJobs;
      this.#dispatcher.subscribe(parsed);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#dispatcher.pump();
    return Promise.resolve();
  }

  /**
   * Grants `credits` more deliveries (one per finished job). Ignored without
   * an active subscription, as over WebSocket; a total above 10 000 rejects
   * with `ValidationError`.
   */
  credit(credits: number): Promise<void> {
    if (!Number.isInteger(credits) || credits <= 0 || !this.#dispatcher.subscribed) {
      return Promise.resolve();
    }
    try {
      this.#dispatcher.credit(credits);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#dispatcher.pump();
    return Promise.resolve();
  }

  /** Stops push delivery; jobs a parked claim still returns are released. */
  unsubscribe(): Promise<void> {
    this.#dispatcher.unsubscribe();
    this.#onJobs = undefined;
    return Promise.resolve();
  }

  /** Extends a lease by `leaseMs` from now (the broker's default when absent). */
  heartbeat(
    jobId: string,
    leaseToken: string,
    leaseMs?: number,
  ): Promise<OperationResults["heartbeat"]> {
    return this.request(
      leaseMs === undefined
        ? { op: "heartbeat", jobId, leaseToken }
        : { op: "heartbeat", jobId, leaseToken, leaseMs },
    );
  }

  /** Finishes a job successfully, with an optional JSON result. */
  complete(
    jobId: string,
    leaseToken: string,
    result?: JsonValue,
  ): Promise<OperationResults["complete"]> {
    return this.request(
      result === undefined
        ? { op: "complete", jobId, leaseToken }
        : { op: "complete", jobId, leaseToken, result },
    );
  }

  /** Reports a failed attempt: retried with backoff, or dead-lettered with `retry: false`. */
  fail(
    jobId: string,
    leaseToken: string,
    error: string,
    options: InProcessFailOptions = {},
  ): Promise<OperationResults["fail"]> {
    return this.request(
      options.retry === undefined
        ? { op: "fail", jobId, leaseToken, error }
        : { op: "fail", jobId, leaseToken, error, retry: options.retry },
    );
  }

  /** Gives a job back unstarted: ready again at once, the attempt not counted. */
  release(jobId: string, leaseToken: string): Promise<OperationResults["release"]> {
    return this.request({ op: "release", jobId, leaseToken });
  }

  /** Stores a running job's progress (small JSON, at most 1 KB), shown by `get`. */
  progress(
    jobId: string,
    leaseToken: string,
    value: JsonValue,
  ): Promise<OperationResults["progress"]> {
    return this.request({ op: "progress", jobId, leaseToken, value });
  }

  /**
   * Stops delivery for good and resolves once every parked claim has settled
   * (jobs they still return are released). Later requests fail with
   * `disconnected`. Stop the Worker first, so its jobs are settled.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#onJobs = undefined;
    this.#dispatcher.close();
    await this.#dispatcher.settled();
  }

  #deliver(jobs: ClaimedJob[]): boolean {
    const onJobs = this.#onJobs;
    if (onJobs === undefined || this.#closed) return false;
    try {
      onJobs(jobs);
    } catch (error) {
      this.#onError?.(toOsqueueError(error));
    }
    return true;
  }

  #closedError(): OsqueueError {
    return new DisconnectedError("in-process client closed");
  }
}
