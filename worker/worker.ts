/**
 * {@linkcode Worker}: runs job handlers for jobs pushed by a broker, as an
 * actor — one loop reacting to deliveries, finished handlers, lost leases and
 * the shutdown deadline, so its bookkeeping has a single writer.
 *
 * - Push delivery: subscribes with `credits = concurrency` and returns one
 *   credit per finished job, so the broker never has more than `concurrency`
 *   jobs out to this worker. Should it send more anyway, the extra jobs are
 *   released at once: never more than `concurrency` handlers run.
 * - Payloads are validated with the registry at receipt; an invalid payload
 *   fails the job with `retry: false` and the validation message.
 * - While a handler runs its lease is heartbeated; if the lease is lost the
 *   handler's `signal` is aborted and its outcome is dropped (the job belongs
 *   to someone else now).
 * - A handler's return value completes the job; a throw fails it with the
 *   error's message, so retries and backoff apply (a thrown
 *   {@linkcode ValidationError} fails it with `retry: false`).
 *
 * Web-standard APIs only: the runtime works in browsers and on Deno Deploy.
 * Wire process signals in the host, e.g. with {@linkcode createShutdownHandler}:
 * `Deno.addSignalListener("SIGINT", createShutdownHandler(worker))`.
 *
 * @example A typed worker
 * ```ts ignore
 * import { z } from "zod";
 * import { connectClient, createShutdownHandler, defineJobs, Worker } from "@osqueue/osqueue/worker";
 *
 * const jobs = defineJobs({ "email:send": z.object({ to: z.email(), subject: z.string() }) });
 * const worker = new Worker({
 *   client: connectClient({ url: "http://localhost:8080" }),
 *   workerId: "mailer-1",
 *   registry: jobs,
 *   concurrency: 4,
 *   handlers: {
 *     "email:send": async (job) => {
 *       await sendMail(job.payload.to, job.payload.subject, { signal: job.signal });
 *       return { sent: true };
 *     },
 *   },
 * });
 * await worker.start();
 * Deno.addSignalListener("SIGINT", createShutdownHandler(worker));
 * ```
 *
 * @module
 */
import { Actor } from "../actors/actor.ts";
import {
  InvalidError,
  LeaseLostError,
  type OsqueueError,
  ShuttingDownError,
  ValidationError,
} from "../errors.ts";
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
 * What a {@linkcode Worker} needs from a client; {@linkcode OsqueueClient}
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
  /** Heartbeats a lease until the returned function is called. */
  startHeartbeat(jobId: string, leaseToken: string, options: HeartbeatLoopOptions): () => void;
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

/** Options of {@linkcode Worker}. */
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
  /** Default deadline of {@linkcode Worker.stop}, ms (default 30 000). */
  shutdownTimeoutMs?: number;
  /** Log sink (default: warnings and errors to `console.error`). */
  log?: WorkerLog;
  /** Timer functions (default the platform's). */
  timers?: Timers;
}

/** Options of {@linkcode Worker.stop}. */
export interface WorkerStopOptions {
  /** How long running handlers may take to finish, ms (default `shutdownTimeoutMs`). */
  timeoutMs?: number;
}

/** Where a worker is in its life. */
export type WorkerState = "idle" | "starting" | "running" | "stopping" | "stopped";

type Outcome = { ok: true; value: JsonValue | void } | { ok: false; error: unknown };

type WorkerEvent =
  | { kind: "deliver"; jobs: ClaimedJob[] }
  | { kind: "finished"; token: string; outcome: Outcome }
  | { kind: "lost"; token: string; error: OsqueueError }
  | { kind: "deadline" };

interface ActiveJob {
  job: ClaimedJob;
  controller: AbortController;
  stopHeartbeat: () => void;
  /** The lease was lost: drop the outcome. */
  lost: boolean;
}

type AnyHandler = (job: JobContext<unknown>) => Promise<JsonValue | void> | JsonValue | void;

/** Attempts at a complete/fail/release before giving up (the lease then runs out). */
const SETTLE_ATTEMPTS = 3;
/** Transport failures after which a complete/fail/release is worth repeating. */
const RETRY_CODES = new Set(["disconnected", "timeout", "unavailable", "overloaded"]);

const defaultLog: WorkerLog = (level, message, data) => {
  if (level === "warn" || level === "error") {
    console.error(`[osqueue worker] ${level}: ${message}`, data ?? "");
  }
};

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return typeof error === "string" ? error : String(error);
}

/**
 * A job-running worker. See the module documentation for its guarantees.
 * Create it, `start()` it, and `stop()` it on shutdown.
 */
export class Worker<S extends JobSchemas = UntypedSchemas> {
  readonly #client: WorkerClient;
  readonly #workerId: string;
  readonly #registry?: JobRegistry<S>;
  readonly #handlers: Map<string, AnyHandler>;
  readonly #concurrency: number;
  readonly #leaseMs?: number;
  readonly #heartbeatIntervalMs?: number;
  readonly #shutdownTimeoutMs: number;
  readonly #hooks: WorkerHooks;
  readonly #log: WorkerLog;
  readonly #timers: Timers;
  readonly #actor: Actor<WorkerEvent, void>;

  #state: WorkerState = "idle";
  readonly #active = new Map<string, ActiveJob>();
  readonly #settling = new Set<Promise<unknown>>();
  #starting?: Promise<void>;
  #stopping?: Promise<void>;
  #drained?: () => void;

  /** Builds a worker; nothing happens until {@linkcode Worker.start}. */
  constructor(options: WorkerOptions<S>) {
    this.#client = options.client;
    this.#workerId = options.workerId;
    if (options.registry !== undefined) this.#registry = options.registry;
    this.#handlers = new Map();
    for (const [type, handler] of Object.entries(options.handlers)) {
      if (typeof handler === "function") this.#handlers.set(type, handler as AnyHandler);
    }
    if (this.#handlers.size === 0) throw new InvalidError("a worker needs at least one handler");
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new InvalidError(`concurrency must be a positive integer, got ${concurrency}`);
    }
    this.#concurrency = concurrency;
    for (const name of ["leaseMs", "heartbeatIntervalMs"] as const) {
      const value = options[name];
      if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
        throw new InvalidError(`${name} must be a positive integer, got ${value}`);
      }
    }
    this.#leaseMs = options.leaseMs;
    this.#heartbeatIntervalMs = options.heartbeatIntervalMs ??
      (options.leaseMs === undefined ? undefined : Math.max(1, Math.floor(options.leaseMs / 3)));
    this.#shutdownTimeoutMs = options.shutdownTimeoutMs ?? 30_000;
    this.#hooks = {};
    if (options.onJobStart) this.#hooks.onJobStart = options.onJobStart;
    if (options.onJobComplete) this.#hooks.onJobComplete = options.onJobComplete;
    if (options.onJobFail) this.#hooks.onJobFail = options.onJobFail;
    this.#log = options.log ?? defaultLog;
    this.#timers = options.timers ?? defaultTimers;
    this.#actor = new Actor<WorkerEvent, void>({
      name: `worker ${this.#workerId}`,
      handleBatch: (batch) => {
        for (const envelope of batch) {
          try {
            this.#handle(envelope.message);
          } catch (error) {
            this.#log("error", "worker event failed", { error: messageOf(error) });
          }
          envelope.resolve();
        }
        this.#checkDrained();
        return Promise.resolve();
      },
      onError: (error) => this.#log("error", "worker actor error", { error: messageOf(error) }),
    });
  }

  /** Where the worker is in its life. */
  get state(): WorkerState {
    return this.#state;
  }

  /** How many handlers are running now (lost leases included until their handler returns). */
  get running(): number {
    return this.#active.size;
  }

  /** The job types this worker subscribes to. */
  get types(): string[] {
    return [...this.#handlers.keys()];
  }

  /**
   * Subscribes for push delivery and starts running jobs. Resolves once the
   * broker accepted the subscription; rejects (leaving the worker idle, so
   * `start` may be retried) when it did not.
   */
  start(): Promise<void> {
    if (this.#state !== "idle") {
      return this.#starting ?? Promise.reject(new InvalidError(`worker is ${this.#state}`));
    }
    this.#state = "starting";
    this.#actor.start();
    const params: SubscribeParams = {
      workerId: this.#workerId,
      types: this.types,
      credits: this.#concurrency,
    };
    if (this.#leaseMs !== undefined) params.leaseMs = this.#leaseMs;
    this.#starting = this.#client.subscribe(
      params,
      (jobs) => this.#post({ kind: "deliver", jobs }),
    ).then(
      () => {
        if (this.#state === "starting") this.#state = "running";
      },
      (error) => {
        if (this.#state === "starting") this.#state = "idle";
        this.#starting = undefined;
        throw error;
      },
    );
    return this.#starting;
  }

  /**
   * Stops taking jobs (unsubscribes; jobs delivered from now on are
   * released), lets running handlers finish within `timeoutMs`, then aborts
   * the signals of those still running and releases their jobs. Resolves
   * once every complete/fail/release has been answered. Idempotent.
   */
  stop(options: WorkerStopOptions = {}): Promise<void> {
    this.#stopping ??= this.#shutdown(options.timeoutMs ?? this.#shutdownTimeoutMs);
    return this.#stopping;
  }

  async #shutdown(timeoutMs: number): Promise<void> {
    if (this.#state === "idle") {
      this.#state = "stopped";
      await this.#actor.stop({ drain: true });
      return;
    }
    if (this.#state === "starting") await this.#starting?.catch(() => {});
    if ((this.#state as WorkerState) === "idle") {
      this.#state = "stopped";
      await this.#actor.stop({ drain: true });
      return;
    }
    this.#state = "stopping";
    try {
      await this.#client.unsubscribe();
    } catch (error) {
      this.#log("warn", "unsubscribe failed", { error: messageOf(error) });
    }
    const drained = new Promise<void>((resolve) => {
      this.#drained = resolve;
    });
    const handle = this.#timers.setTimeout(
      () => this.#post({ kind: "deadline" }),
      Math.max(0, timeoutMs),
    );
    this.#checkDrained();
    await drained;
    this.#timers.clearTimeout(handle);
    while (this.#settling.size > 0) await Promise.allSettled([...this.#settling]);
    this.#state = "stopped";
    await this.#actor.stop({ drain: true });
  }

  // -------------------------------------------------------------------------
  // The actor's side: every method below runs inside one handled event.

  #post(event: WorkerEvent): void {
    try {
      this.#actor.tell(event);
    } catch (error) {
      // The actor is gone (stopped) or full: deliveries go back to the queue.
      if (event.kind === "deliver") { for (const job of event.jobs) this.#release(job); }
      else {this.#log("debug", "worker event dropped", {
          kind: event.kind,
          error: messageOf(error),
        });}
    }
  }

  #handle(event: WorkerEvent): void {
    switch (event.kind) {
      case "deliver":
        for (const job of event.jobs) this.#receive(job);
        return;
      case "finished":
        return this.#finished(event.token, event.outcome);
      case "lost":
        return this.#lost(event.token, event.error);
      case "deadline":
        return this.#deadline();
    }
  }

  #checkDrained(): void {
    if (this.#state === "stopping" && this.#active.size === 0 && this.#drained !== undefined) {
      this.#drained();
      this.#drained = undefined;
    }
  }

  #receive(job: ClaimedJob): void {
    if (this.#state !== "running" && this.#state !== "starting") {
      this.#log("debug", "releasing a job delivered while stopping", { jobId: job.id });
      return this.#release(job);
    }
    if (this.#active.size >= this.#concurrency) {
      this.#log("warn", "broker delivered more jobs than credits granted; releasing", {
        jobId: job.id,
        running: this.#active.size,
        concurrency: this.#concurrency,
      });
      return this.#release(job);
    }
    const handler = this.#handlers.get(job.type);
    if (handler === undefined) {
      const message = `worker ${this.#workerId} has no handler for job type "${job.type}"`;
      this.#settle(() => this.#client.fail(job.id, job.leaseToken, message), job, "fail");
      this.#fireFail(job, new InvalidError(message));
      return this.#returnCredit();
    }
    let payload: unknown = job.payload;
    if (this.#registry !== undefined) {
      try {
        payload = this.#registry.parse(job.type as JobType<S>, job.payload);
      } catch (error) {
        const message = messageOf(error);
        this.#log("warn", "invalid payload; failing the job without retry", {
          jobId: job.id,
          error: message,
        });
        this.#settle(
          () => this.#client.fail(job.id, job.leaseToken, message, { retry: false }),
          job,
          "fail",
        );
        this.#fireFail(job, error);
        return this.#returnCredit();
      }
    }
    this.#run(job, handler, payload);
  }

  #run(job: ClaimedJob, handler: AnyHandler, payload: unknown): void {
    const controller = new AbortController();
    const token = job.leaseToken;
    const context: JobContext<unknown> = {
      id: job.id,
      type: job.type,
      payload,
      attempt: job.attempt,
      maxAttempts: job.maxAttempts,
      priority: job.priority,
      createdAt: job.createdAt,
      signal: controller.signal,
      heartbeat: async () => {
        try {
          await this.#client.heartbeat(job.id, token, this.#leaseMs);
        } catch (error) {
          if (
            error instanceof LeaseLostError || (error as OsqueueError)?.code === "job_not_found"
          ) {
            this.#post({ kind: "lost", token, error: error as OsqueueError });
          }
          throw error;
        }
      },
      progress: async (value) => {
        if (this.#client.progress === undefined) {
          throw new TypeError("this worker's client cannot report progress");
        }
        await this.#client.progress(job.id, token, value);
      },
      log: (message, data) =>
        this.#log("info", message, { ...data, jobId: job.id, type: job.type }),
    };
    const heartbeat: HeartbeatLoopOptions = {
      leaseExpiresAt: job.leaseExpiresAt,
      onLost: (error) => this.#post({ kind: "lost", token, error }),
      onError: (error) =>
        this.#log("warn", "heartbeat failed", { jobId: job.id, error: error.message }),
    };
    if (this.#heartbeatIntervalMs !== undefined) heartbeat.intervalMs = this.#heartbeatIntervalMs;
    if (this.#leaseMs !== undefined) heartbeat.leaseMs = this.#leaseMs;
    const stopHeartbeat = this.#client.startHeartbeat(job.id, token, heartbeat);
    this.#active.set(token, { job, controller, stopHeartbeat, lost: false });
    this.#hook("onJobStart", () => this.#hooks.onJobStart?.(job));
    (async () => await handler(context))().then(
      (value) => this.#post({ kind: "finished", token, outcome: { ok: true, value } }),
      (error) => this.#post({ kind: "finished", token, outcome: { ok: false, error } }),
    );
  }

  #finished(token: string, outcome: Outcome): void {
    const active = this.#active.get(token);
    if (active === undefined) return; // abandoned at the shutdown deadline
    this.#active.delete(token);
    active.stopHeartbeat();
    const { job } = active;
    if (active.lost) {
      this.#log("debug", "handler finished after its lease was lost; outcome dropped", {
        jobId: job.id,
      });
    } else if (outcome.ok) {
      const result = outcome.value === undefined ? undefined : outcome.value as JsonValue;
      this.#settle(() => this.#client.complete(job.id, token, result), job, "complete");
      this.#hook("onJobComplete", () => this.#hooks.onJobComplete?.(job, result));
    } else {
      const error = outcome.error;
      const options: FailOptions = error instanceof ValidationError ? { retry: false } : {};
      this.#settle(() => this.#client.fail(job.id, token, messageOf(error), options), job, "fail");
      this.#fireFail(job, error);
    }
    this.#returnCredit();
  }

  #lost(token: string, error: OsqueueError): void {
    const active = this.#active.get(token);
    if (active === undefined || active.lost) return;
    active.lost = true;
    active.stopHeartbeat();
    this.#log("warn", "lease lost; aborting the handler", {
      jobId: active.job.id,
      error: error.message,
    });
    active.controller.abort(error);
    this.#fireFail(active.job, error);
  }

  #deadline(): void {
    if (this.#state !== "stopping") return;
    for (const active of this.#active.values()) {
      active.stopHeartbeat();
      if (active.lost) continue;
      this.#log("warn", "shutdown deadline passed; aborting and releasing the job", {
        jobId: active.job.id,
      });
      active.controller.abort(
        new ShuttingDownError(`worker ${this.#workerId} stopped before the job finished`),
      );
      this.#release(active.job);
    }
    this.#active.clear();
  }

  #returnCredit(): void {
    if (this.#state !== "running" && this.#state !== "starting") return;
    this.#client.credit(1).catch((error) =>
      this.#log("warn", "returning a credit failed", { error: messageOf(error) })
    );
  }

  #release(job: ClaimedJob): void {
    this.#settle(() => this.#client.release(job.id, job.leaseToken), job, "release");
  }

  /**
   * Sends a complete/fail/release and tracks it until answered. A transport
   * failure (`disconnected`, `timeout`, …) is retried up to twice: these are
   * safe to repeat, since a repeat of one that had landed just answers
   * `lease_lost`.
   */
  #settle(send: () => Promise<unknown>, job: ClaimedJob, what: string): void {
    const attempt = async (): Promise<void> => {
      for (let tries = 1;; tries++) {
        try {
          await send();
          return;
        } catch (error) {
          const code = (error as { code?: unknown } | null)?.code;
          if (tries > 1 && code === "lease_lost") {
            this.#log("debug", `${what} had already landed`, { jobId: job.id });
            return;
          }
          if (tries >= SETTLE_ATTEMPTS || typeof code !== "string" || !RETRY_CODES.has(code)) {
            this.#log("warn", `${what} failed`, { jobId: job.id, error: messageOf(error) });
            return;
          }
        }
      }
    };
    const tracked = attempt().finally(() => this.#settling.delete(tracked));
    this.#settling.add(tracked);
  }

  #fireFail(job: ClaimedJob, error: unknown): void {
    this.#hook("onJobFail", () => this.#hooks.onJobFail?.(job, error));
  }

  #hook(name: string, call: () => void): void {
    try {
      call();
    } catch (error) {
      this.#log("error", `${name} hook threw`, { error: messageOf(error) });
    }
  }
}

/** Anything that stops gracefully (a {@linkcode Worker}). */
export interface Stoppable {
  /** Stops, within the optional deadline. */
  stop(options?: WorkerStopOptions): Promise<void>;
}

/** Options of {@linkcode createShutdownHandler}. */
export interface ShutdownHandlerOptions extends WorkerStopOptions {
  /** Called once the worker has stopped (e.g. to close the client and exit). */
  onStopped?: () => void;
  /** Called when stopping failed. */
  onError?: (error: unknown) => void;
}

/**
 * Returns a listener for the host's shutdown signals that stops `worker`
 * once (later calls are ignored). The worker module never touches process
 * APIs; the host wires them:
 *
 * ```ts ignore
 * const onSignal = createShutdownHandler(worker, { onStopped: () => Deno.exit(0) });
 * Deno.addSignalListener("SIGINT", onSignal);
 * Deno.addSignalListener("SIGTERM", onSignal);
 * ```
 */
export function createShutdownHandler(
  worker: Stoppable,
  options: ShutdownHandlerOptions = {},
): () => void {
  let called = false;
  return () => {
    if (called) return;
    called = true;
    const stopOptions: WorkerStopOptions = {};
    if (options.timeoutMs !== undefined) stopOptions.timeoutMs = options.timeoutMs;
    worker.stop(stopOptions).then(
      () => options.onStopped?.(),
      (error) => options.onError?.(error),
    );
  };
}
