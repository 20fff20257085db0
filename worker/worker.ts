/**
 * {@linkcode Worker}: runs job handlers for jobs pushed by a broker, as an
 * actor — one loop draining a {@linkcode Mailbox} of events (deliveries,
 * finished handlers, lost leases, the shutdown deadline), so its bookkeeping
 * has a single writer. This is the same mailbox the broker's loop drains;
 * osqueue has no other actor abstraction (see ARCHITECTURE.md).
 *
 * - Push delivery: subscribes with `credits = concurrency + prefetch` and
 *   returns one credit per finished job, so the broker never has more than
 *   that many jobs out to this worker. Jobs beyond the running handlers wait
 *   in the prefetch (see `prefetch.ts`) and start as slots free; should the
 *   broker send more anyway, the extra jobs are released at once: never more
 *   than `concurrency` handlers run.
 * - Payloads are validated with the registry at receipt; an invalid payload
 *   fails the job with `retry: false` and the validation message.
 * - While a handler runs its lease is heartbeated (by the client's
 *   `startHeartbeat` when it has one, else by the worker's own heartbeat loop
 *   on the client's `heartbeat`); if the lease is lost the handler's `signal`
 *   is aborted and its outcome is dropped (the job belongs to someone else now).
 * - A handler's return value completes the job; a throw fails it with the
 *   error's message, so retries and backoff apply (a thrown
 *   `ValidationError` fails it with `retry: false`).
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
import { InvalidError } from "../errors.ts";
import type { ClaimedJob } from "../protocol/operations.ts";
import type { SubscribeParams } from "../protocol/wire.ts";
import type { Timers } from "./client_options.ts";
import { JobRunner, type RunnerEvent } from "./job_runner.ts";
import type { JobSchemas } from "./registry.ts";
import { messageOf } from "./settler.ts";
import {
  resolveWorkerOptions,
  type UntypedSchemas,
  type WorkerClient,
  type WorkerLog,
  type WorkerOptions,
  type WorkerState,
  type WorkerStopOptions,
} from "./worker_options.ts";

// Kept importable from here (older imports); `mod.ts` exports them from their own files.
export type { JobContext, UntypedSchemas, WorkerClient, WorkerOptions } from "./worker_options.ts";

type WorkerEvent =
  | { kind: "deliver"; jobs: ClaimedJob[] }
  | RunnerEvent
  | { kind: "deadline" };

/**
 * A job-running worker. See the module documentation for its guarantees.
 * Create it, `start()` it, and `stop()` it on shutdown.
 */
export class Worker<S extends JobSchemas = UntypedSchemas> {
  readonly #client: WorkerClient;
  readonly #workerId: string;
  readonly #types: string[];
  readonly #leaseMs?: number;
  readonly #shutdownTimeoutMs: number;
  readonly #log: WorkerLog;
  readonly #timers: Timers;
  readonly #mailbox = new Mailbox<WorkerEvent>();
  readonly #jobs: JobRunner<S>;
  #loop?: Promise<void>;

  #state: WorkerState = "idle";
  #starting?: Promise<void>;
  #stopping?: Promise<void>;
  #drained?: () => void;

  /** Builds a worker (`InvalidError` on bad options); nothing happens until {@linkcode Worker.start}. */
  constructor(options: WorkerOptions<S>) {
    const resolved = resolveWorkerOptions(options);
    this.#client = resolved.client;
    this.#workerId = resolved.workerId;
    this.#types = [...resolved.handlers.keys()];
    this.#leaseMs = resolved.leaseMs;
    this.#shutdownTimeoutMs = resolved.shutdownTimeoutMs;
    this.#log = resolved.log;
    this.#timers = resolved.timers;
    this.#jobs = new JobRunner({
      ...resolved,
      post: (event) => this.#post(event),
      taking: () => this.#state === "running" || this.#state === "starting",
    });
  }

  /** Where the worker is in its life. */
  get state(): WorkerState {
    return this.#state;
  }

  /** How many handlers are running now (lost leases included until their handler returns). */
  get running(): number {
    return this.#jobs.running;
  }

  /** The job types this worker subscribes to. */
  get types(): string[] {
    return [...this.#types];
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
      credits: this.#jobs.subscribeCredits(),
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
    this.#post({ kind: "hold" }); // releases the held jobs (the worker is stopping)
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
    await this.#jobs.settled();
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
      if (event.kind === "deliver") { for (const job of event.jobs) this.#jobs.release(job); }
      else {this.#log("debug", "worker event dropped", {
          kind: event.kind,
          error: messageOf(error),
        });}
    }
  }

  #handle(event: WorkerEvent): void {
    switch (event.kind) {
      case "deliver":
        return this.#jobs.deliver(event.jobs);
      case "finished":
        return this.#jobs.finished(event.token, event.outcome);
      case "lost":
        return this.#jobs.lost(event.token, event.error);
      case "deadline":
        if (this.#state === "stopping") this.#jobs.abandonAll();
        return;
      case "hold":
        return this.#jobs.holdRanOut();
    }
  }

  #checkDrained(): void {
    if (this.#state === "stopping" && this.#jobs.running === 0 && this.#drained !== undefined) {
      this.#drained();
      this.#drained = undefined;
    }
  }
}
