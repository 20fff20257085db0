/**
 * {@linkcode Worker}: runs job handlers for jobs pushed by a broker, as an
 * actor — one loop draining a {@linkcode Mailbox} of events (deliveries,
 * finished handlers, lost leases, the shutdown deadline), so its bookkeeping
 * has a single writer. This is the same mailbox the broker's loop drains;
 * osqueue has no other actor abstraction (see ARCHITECTURE.md).
 *
 * - Push delivery: subscribes with `credits = concurrency` and returns one
 *   credit per finished job, so the broker never has more than `concurrency`
 *   jobs out to this worker. Should it send more anyway, the extra jobs are
 *   released at once: never more than `concurrency` handlers run.
 * - Payloads are validated with the registry at receipt; an invalid payload
 *   fails the job with `retry: false` and the validation message.
 * - While a handler runs its lease is heartbeated (by the client's
 *   `startHeartbeat` when it has one, else by the worker's own heartbeat loop
 *   on the client's `heartbeat`); if the lease is lost the handler's `signal`
 *   is aborted and its outcome is dropped (the job belongs to someone else now).
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
import { Mailbox } from "../actors/mailbox.ts";
import { InvalidError, type OsqueueError, ShuttingDownError, ValidationError } from "../errors.ts";
import type { ClaimedJob, JsonValue } from "../protocol/operations.ts";
import type { SubscribeParams } from "../protocol/wire.ts";
import type { FailOptions, Timers } from "./client_options.ts";
import type { JobRegistry, JobSchemas, JobType } from "./registry.ts";
import { type HandlerOutcome, RunningJobs } from "./running_jobs.ts";
import { messageOf, Settler } from "./settler.ts";
import {
  type AnyHandler,
  resolveWorkerOptions,
  type UntypedSchemas,
  type WorkerClient,
  type WorkerHooks,
  type WorkerLog,
  type WorkerOptions,
  type WorkerState,
  type WorkerStopOptions,
} from "./worker_options.ts";

// Kept importable from here (older imports); `mod.ts` exports them from their own files.
export type { JobContext, UntypedSchemas, WorkerClient, WorkerOptions } from "./worker_options.ts";

type WorkerEvent =
  | { kind: "deliver"; jobs: ClaimedJob[] }
  | { kind: "finished"; token: string; outcome: HandlerOutcome }
  | { kind: "lost"; token: string; error: OsqueueError }
  | { kind: "deadline" };

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
  readonly #shutdownTimeoutMs: number;
  readonly #hooks: WorkerHooks;
  readonly #log: WorkerLog;
  readonly #timers: Timers;
  readonly #mailbox = new Mailbox<WorkerEvent>();
  readonly #settler: Settler;
  #loop?: Promise<void>;

  #state: WorkerState = "idle";
  readonly #active: RunningJobs;
  #starting?: Promise<void>;
  #stopping?: Promise<void>;
  #drained?: () => void;

  /** Builds a worker (`InvalidError` on bad options); nothing happens until {@linkcode Worker.start}. */
  constructor(options: WorkerOptions<S>) {
    const resolved = resolveWorkerOptions(options);
    this.#client = resolved.client;
    this.#workerId = resolved.workerId;
    if (resolved.registry !== undefined) this.#registry = resolved.registry;
    this.#handlers = resolved.handlers;
    this.#concurrency = resolved.concurrency;
    this.#leaseMs = resolved.leaseMs;
    this.#shutdownTimeoutMs = resolved.shutdownTimeoutMs;
    this.#hooks = resolved.hooks;
    this.#log = resolved.log;
    this.#timers = resolved.timers;
    this.#settler = new Settler(this.#log);
    this.#active = new RunningJobs({
      client: this.#client,
      log: this.#log,
      clock: resolved.clock,
      timers: resolved.timers,
      leaseMs: resolved.leaseMs,
      heartbeatIntervalMs: resolved.heartbeatIntervalMs,
      onStart: (job) => this.#hook("onJobStart", () => this.#hooks.onJobStart?.(job)),
      onLost: (token, error) => this.#post({ kind: "lost", token, error }),
      onFinished: (token, outcome) => this.#post({ kind: "finished", token, outcome }),
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
    this.#loop ??= this.#runLoop();
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
      await this.#closeMailbox();
      return;
    }
    if (this.#state === "starting") await this.#starting?.catch(() => {});
    if ((this.#state as WorkerState) === "idle") {
      this.#state = "stopped";
      await this.#closeMailbox();
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
    await this.#settler.settled();
    this.#state = "stopped";
    await this.#closeMailbox();
  }

  // -------------------------------------------------------------------------
  // The actor's side: every method below runs inside one handled event.

  /** The loop: handles every queued event, one batch at a time, until the mailbox closes. */
  async #runLoop(): Promise<void> {
    while (!this.#mailbox.closed) {
      await this.#mailbox.next();
      this.#handleBatch(this.#mailbox.drain());
    }
  }

  /** Closes the mailbox, handles what was still queued, and waits for the loop to end. */
  async #closeMailbox(): Promise<void> {
    this.#handleBatch(this.#mailbox.close());
    await this.#loop;
  }

  #handleBatch(batch: WorkerEvent[]): void {
    if (batch.length === 0) return;
    for (const event of batch) {
      try {
        this.#handle(event);
      } catch (error) {
        this.#log("error", "worker event failed", { error: messageOf(error) });
      }
    }
    this.#checkDrained();
  }

  #post(event: WorkerEvent): void {
    try {
      this.#mailbox.post(event);
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
      this.#settler.settle(() => this.#client.fail(job.id, job.leaseToken, message), job, "fail");
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
        this.#settler.settle(
          () => this.#client.fail(job.id, job.leaseToken, message, { retry: false }),
          job,
          "fail",
        );
        this.#fireFail(job, error);
        return this.#returnCredit();
      }
    }
    this.#active.start(job, handler, payload);
  }

  #finished(token: string, outcome: HandlerOutcome): void {
    const active = this.#active.finish(token);
    if (active === undefined) return; // abandoned at the shutdown deadline
    const { job } = active;
    if (active.lost) {
      this.#log("debug", "handler finished after its lease was lost; outcome dropped", {
        jobId: job.id,
      });
    } else if (outcome.ok) {
      const result = outcome.value === undefined ? undefined : outcome.value as JsonValue;
      this.#settler.settle(() => this.#client.complete(job.id, token, result), job, "complete");
      this.#hook("onJobComplete", () => this.#hooks.onJobComplete?.(job, result));
    } else {
      const error = outcome.error;
      const options: FailOptions = error instanceof ValidationError ? { retry: false } : {};
      this.#settler.settle(
        () => this.#client.fail(job.id, token, messageOf(error), options),
        job,
        "fail",
      );
      this.#fireFail(job, error);
    }
    this.#returnCredit();
  }

  #lost(token: string, error: OsqueueError): void {
    const active = this.#active.lose(token);
    if (active === undefined) return;
    this.#log("warn", "lease lost; aborting the handler", {
      jobId: active.job.id,
      error: error.message,
    });
    active.controller.abort(error);
    this.#fireFail(active.job, error);
  }

  #deadline(): void {
    if (this.#state !== "stopping") return;
    for (const active of this.#active.abandon()) {
      this.#log("warn", "shutdown deadline passed; aborting and releasing the job", {
        jobId: active.job.id,
      });
      active.controller.abort(
        new ShuttingDownError(`worker ${this.#workerId} stopped before the job finished`),
      );
      this.#release(active.job);
    }
  }

  #returnCredit(): void {
    if (this.#state !== "running" && this.#state !== "starting") return;
    this.#client.credit(1).catch((error) =>
      this.#log("warn", "returning a credit failed", { error: messageOf(error) })
    );
  }

  #release(job: ClaimedJob): void {
    this.#settler.settle(() => this.#client.release(job.id, job.leaseToken), job, "release");
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
