/**
 * What a `Worker` is built from: the client it needs
 * ({@linkcode WorkerClient}), the handlers it runs and what they get
 * ({@linkcode JobContext}), its hooks and options.
 *
 * @module
 */
import { InvalidError } from "../errors.ts";
import type { ClaimedJob, JsonValue } from "../protocol/operations.ts";
import type { PayloadSchema } from "../protocol/payload_schema.ts";
import type { SubscribeParams } from "../protocol/wire.ts";
import {
  defaultTimers,
  type DeliveryHandler,
  type FailOptions,
  type Timers,
} from "./client_options.ts";
import type { HeartbeatLoopOptions } from "./heartbeat_loop.ts";
import type { JobPayload, JobRegistry, JobSchemas, JobType } from "./registry.ts";

/**
 * What a `Worker` needs from a client; `OsqueueClient`
 * implements it (tests pass a double).
 */
export interface WorkerClient {
  /** Starts push delivery. */
  subscribe(params: SubscribeParams, onJobs: DeliveryHandler): Promise<void>;
  /** Stops push delivery. */
  unsubscribe(): Promise<void>;
  /** Grants more deliveries. */
  credit(credits: number): Promise<void>;
  /** Extends a lease once. */
  heartbeat(jobId: string, leaseToken: string, leaseMs?: number): Promise<unknown>;
  /**
   * Heartbeats a lease until the returned function is called (optional: the
   * worker runs `startHeartbeatLoop` on `heartbeat` without it).
   */
  startHeartbeat?(jobId: string, leaseToken: string, options: HeartbeatLoopOptions): () => void;
  /** Completes a job. */
  complete(jobId: string, leaseToken: string, result?: JsonValue): Promise<unknown>;
  /** Fails a job attempt. */
  fail(jobId: string, leaseToken: string, error: string, options?: FailOptions): Promise<unknown>;
  /** Gives a job back unstarted. */
  release(jobId: string, leaseToken: string): Promise<unknown>;
  /** Reports a job's progress (optional: `job.progress` needs it). */
  progress?(jobId: string, leaseToken: string, value: JsonValue): Promise<unknown>;
}

/** Severity of a worker log entry. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Receives the worker's log entries. */
export type WorkerLog = (level: LogLevel, message: string, data?: Record<string, unknown>) => void;

/** What a handler gets for one job. */
export interface JobContext<P = JsonValue, T extends string = string> {
  /** The job's id. */
  readonly id: string;
  /** The job's type. */
  readonly type: T;
  /** The payload, validated (and transformed) by the registry when there is one. */
  readonly payload: P;
  /** Which attempt this is, starting at 1. */
  readonly attempt: number;
  /** Attempts allowed before the job is dead-lettered. */
  readonly maxAttempts: number;
  /** The job's priority. */
  readonly priority: number;
  /** Epoch ms when the job was pushed. */
  readonly createdAt: number;
  /**
   * Aborted when the lease is lost (reason: `LeaseLostError`) or the worker's
   * shutdown deadline passes (reason: `ShuttingDownError`); the handler's
   * outcome is then dropped. Pass it to fetch and friends.
   */
  readonly signal: AbortSignal;
  /** Extends the lease now (heartbeats also run automatically). */
  heartbeat(): Promise<void>;
  /**
   * Stores `value` (small JSON, at most 1 KB) as the job's progress, shown by
   * `get`. Calls share the broker's group commit; await it, or not.
   */
  progress(value: JsonValue): Promise<void>;
  /** Logs through the worker's log, tagged with the job. */
  log(message: string, data?: Record<string, unknown>): void;
}

/** Runs one job; the returned JSON value (if any) becomes the job's result. */
export type JobHandler<P = JsonValue, T extends string = string> = (
  job: JobContext<P, T>,
) => Promise<JsonValue | void> | JsonValue | void;

/** Handlers typed from a registry's schemas: each receives its type's parsed payload. */
export type HandlersFor<S extends JobSchemas> = {
  [K in JobType<S>]?: JobHandler<JobPayload<S, K>, string extends JobType<S> ? string : K>;
};

/** The schemas of a worker without a registry: any type, JSON payloads. */
export type UntypedSchemas = Record<string, PayloadSchema<JsonValue>>;

/** Lifecycle hooks, called with the job as delivered; errors they throw are logged and otherwise ignored. */
export interface WorkerHooks {
  /** A handler is about to run. */
  onJobStart?: (job: ClaimedJob) => void;
  /** A handler returned; its job is being completed with `result`. */
  onJobComplete?: (job: ClaimedJob, result: JsonValue | undefined) => void;
  /**
   * An attempt failed: the handler threw, the payload was invalid, no handler
   * exists for the type, or the lease was lost (`LeaseLostError`).
   */
  onJobFail?: (job: ClaimedJob, error: unknown) => void;
}

/** Options of `Worker`. */
export interface WorkerOptions<S extends JobSchemas = UntypedSchemas> extends WorkerHooks {
  /** The broker client. */
  client: WorkerClient;
  /** This worker's name (the lease holder). */
  workerId: string;
  /** Payload schemas; payloads are validated at receipt and handlers typed from them. */
  registry?: JobRegistry<S>;
  /** One handler per job type this worker runs; it subscribes to exactly these types. */
  handlers: HandlersFor<S>;
  /** Most handlers running at once (default 1). */
  concurrency?: number;
  /**
   * Jobs held beyond the running ones (default `concurrency`; 0 turns it
   * off), delivered ahead so that a finished handler's slot starts the next
   * job at once instead of waiting a commit for it. Used while handlers take
   * under 100 ms on average; a job is held at most 1 s (and a third of its
   * lease), then goes back to the queue for other workers (see `prefetch.ts`).
   * A held job is leased: it counts toward its type's `maxActive`, and a job
   * of higher priority pushed later waits behind it.
   */
  prefetch?: number;
  /**
   * Lease duration asked for at delivery and by each heartbeat, ms. Leave it
   * out to take the broker's (`--heartbeat-timeout`, 30 s by default): the
   * broker's lease wins unless this is set.
   */
  leaseMs?: number;
  /**
   * Time between heartbeats, ms (default `leaseMs / 3` when `leaseMs` is set,
   * else a third of the lease the broker granted, from its `leaseExpiresAt`).
   */
  heartbeatIntervalMs?: number;
  /** Default deadline of `Worker.stop`, ms (default 30 000). */
  shutdownTimeoutMs?: number;
  /** Log sink (default: warnings and errors to `console.error`). */
  log?: WorkerLog;
  /** Timer functions (default the platform's). */
  timers?: Timers;
  /**
   * Current time in epoch ms (default `Date.now`); paces the heartbeat loop
   * the worker runs when its client has no `startHeartbeat`.
   */
  clock?: () => number;
}

/** Options of `Worker.stop`. */
export interface WorkerStopOptions {
  /** How long running handlers may take to finish, ms (default `shutdownTimeoutMs`). */
  timeoutMs?: number;
}

/** Where a worker is in its life. */
export type WorkerState = "idle" | "starting" | "running" | "stopping" | "stopped";

/** A handler of any payload type, as the worker keeps it. */
export type AnyHandler = (
  job: JobContext<unknown>,
) => Promise<JsonValue | void> | JsonValue | void;

/** {@linkcode WorkerOptions} checked, with every default filled in. */
export interface ResolvedWorkerOptions<S extends JobSchemas> {
  /** The broker client. */
  client: WorkerClient;
  /** The lease holder's name. */
  workerId: string;
  /** Payload schemas, if any. */
  registry?: JobRegistry<S>;
  /** One handler per job type (at least one). */
  handlers: Map<string, AnyHandler>;
  /** Most handlers at once. */
  concurrency: number;
  /** Most jobs held beyond the running ones. */
  prefetch: number;
  /** Lease asked for, ms (the broker's when absent). */
  leaseMs?: number;
  /** Time between heartbeats, ms (by the granted lease when absent). */
  heartbeatIntervalMs?: number;
  /** Default deadline of `stop`, ms. */
  shutdownTimeoutMs: number;
  /** The lifecycle hooks given. */
  hooks: WorkerHooks;
  /** Log sink. */
  log: WorkerLog;
  /** Timer functions. */
  timers: Timers;
  /** Current time, epoch ms. */
  clock: () => number;
}

/** The default worker log: warnings and errors to `console.error`. */
export const defaultWorkerLog: WorkerLog = (level, message, data) => {
  if (level === "warn" || level === "error") {
    console.error(`[osqueue worker] ${level}: ${message}`, data ?? "");
  }
};

/** Checks `options` (`InvalidError` on a bad one) and fills in the defaults. */
export function resolveWorkerOptions<S extends JobSchemas>(
  options: WorkerOptions<S>,
): ResolvedWorkerOptions<S> {
  const handlers = new Map<string, AnyHandler>();
  for (const [type, handler] of Object.entries(options.handlers)) {
    if (typeof handler === "function") handlers.set(type, handler as AnyHandler);
  }
  if (handlers.size === 0) throw new InvalidError("a worker needs at least one handler");
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new InvalidError(`concurrency must be a positive integer, got ${concurrency}`);
  }
  const prefetch = options.prefetch ?? concurrency;
  if (!Number.isInteger(prefetch) || prefetch < 0) {
    throw new InvalidError(`prefetch must be an integer ≥ 0, got ${prefetch}`);
  }
  for (const name of ["leaseMs", "heartbeatIntervalMs"] as const) {
    const value = options[name];
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
      throw new InvalidError(`${name} must be a positive integer, got ${value}`);
    }
  }
  const hooks: WorkerHooks = {};
  if (options.onJobStart) hooks.onJobStart = options.onJobStart;
  if (options.onJobComplete) hooks.onJobComplete = options.onJobComplete;
  if (options.onJobFail) hooks.onJobFail = options.onJobFail;
  const resolved: ResolvedWorkerOptions<S> = {
    client: options.client,
    workerId: options.workerId,
    handlers,
    concurrency,
    prefetch,
    shutdownTimeoutMs: options.shutdownTimeoutMs ?? 30_000,
    hooks,
    log: options.log ?? defaultWorkerLog,
    timers: options.timers ?? defaultTimers,
    clock: options.clock ?? Date.now,
  };
  if (options.registry !== undefined) resolved.registry = options.registry;
  if (options.leaseMs !== undefined) resolved.leaseMs = options.leaseMs;
  const heartbeatIntervalMs = options.heartbeatIntervalMs ??
    (options.leaseMs === undefined ? undefined : Math.max(1, Math.floor(options.leaseMs / 3)));
  if (heartbeatIntervalMs !== undefined) resolved.heartbeatIntervalMs = heartbeatIntervalMs;
  return resolved;
}
