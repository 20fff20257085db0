/**
 * {@linkcode JobRunner}: the job side of a {@linkcode Worker} — where a
 * delivered job goes (a handler slot, the prefetch, or back to the queue),
 * settling it when its handler returns, and the credits that keep the jobs
 * out to the worker at `concurrency` plus the prefetch wanted now. Its
 * methods run inside the worker's actor loop only; its callbacks (a handler
 * finished, a lease lost, a hold ran out) come back through the worker's
 * mailbox (`post`).
 *
 * @module
 */
import { type OsqueueError, ShuttingDownError, ValidationError } from "../errors.ts";
import type { ClaimedJob, JsonValue } from "../protocol/operations.ts";
import type { FailOptions } from "./client_options.ts";
import { prepareJob, type PrepareJobOptions } from "./job_start.ts";
import { Prefetch } from "./prefetch.ts";
import type { JobSchemas } from "./registry.ts";
import { type HandlerOutcome, RunningJobs } from "./running_jobs.ts";
import { messageOf, Settler } from "./settler.ts";
import type { ResolvedWorkerOptions, WorkerLog } from "./worker_options.ts";

/** What the runner's callbacks post to the worker's mailbox. */
export type RunnerEvent =
  | { kind: "finished"; token: string; outcome: HandlerOutcome }
  | { kind: "lost"; token: string; error: OsqueueError }
  | { kind: "hold" };

/** Options of {@linkcode JobRunner}: the worker's resolved options, and its mailbox and state. */
export interface JobRunnerOptions<S extends JobSchemas> extends ResolvedWorkerOptions<S> {
  /** Posts an event to the worker's mailbox. */
  post: (event: RunnerEvent) => void;
  /** Whether the worker takes jobs now (starting or running). */
  taking: () => boolean;
}

/** The job side of one worker. */
export class JobRunner<S extends JobSchemas> {
  readonly #o: JobRunnerOptions<S>;
  readonly #jobs: PrepareJobOptions<S>;
  readonly #log: WorkerLog;
  readonly #settler: Settler;
  readonly #active: RunningJobs;
  readonly #prefetch: Prefetch;
  /** Credits granted and not yet used by a delivery. */
  #creditsOut = 0;

  /** A runner with nothing running. */
  constructor(options: JobRunnerOptions<S>) {
    this.#o = options;
    this.#jobs = { handlers: options.handlers, workerId: options.workerId };
    if (options.registry !== undefined) this.#jobs.registry = options.registry;
    this.#log = options.log;
    this.#settler = new Settler(options.log);
    this.#prefetch = new Prefetch({
      limit: options.prefetch,
      clock: options.clock,
      timers: options.timers,
      onHoldRanOut: () => options.post({ kind: "hold" }),
    });
    this.#active = new RunningJobs({
      client: options.client,
      log: options.log,
      clock: options.clock,
      timers: options.timers,
      leaseMs: options.leaseMs,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      onStart: (job) => this.#hook("onJobStart", () => options.hooks.onJobStart?.(job)),
      onLost: (token, error) => options.post({ kind: "lost", token, error }),
      onFinished: (token, outcome) => options.post({ kind: "finished", token, outcome }),
    });
  }

  /** How many handlers run (lost leases included until their handler returns). */
  get running(): number {
    return this.#active.size;
  }

  /** The credits to subscribe with (counted as granted). */
  subscribeCredits(): number {
    this.#creditsOut = this.#o.concurrency + this.#prefetch.extra;
    return this.#creditsOut;
  }

  /** Jobs the broker delivered: each runs, is held, or goes back. */
  deliver(jobs: ClaimedJob[]): void {
    for (const job of jobs) {
      this.#creditsOut = Math.max(0, this.#creditsOut - 1);
      this.#receive(job);
    }
  }

  /** Resolves once every complete/fail/release sent so far has been answered. */
  settled(): Promise<void> {
    return this.#settler.settled();
  }

  #receive(job: ClaimedJob): void {
    if (!this.#o.taking()) {
      this.#log("debug", "releasing a job delivered while stopping", { jobId: job.id });
      return this.release(job);
    }
    if (this.#active.size >= this.#o.concurrency) {
      if (this.#prefetch.hold(job)) return;
      this.#log("warn", "broker delivered more jobs than credits granted; releasing", {
        jobId: job.id,
        running: this.#active.size,
        concurrency: this.#o.concurrency,
      });
      return this.release(job);
    }
    this.#startJob(job);
    this.#topUpCredits(); // a job that failed at once freed its credit
  }

  /** Runs `job`'s handler: fails it at once when no handler or an invalid payload. */
  #startJob(job: ClaimedJob): void {
    const prepared = prepareJob(job, this.#jobs);
    if (prepared.ok) return this.#active.start(job, prepared.handler, prepared.payload);
    const { message, retry } = prepared;
    if (!retry) {
      this.#log("warn", "invalid payload; failing the job without retry", {
        jobId: job.id,
        error: message,
      });
    }
    this.#settler.settle(
      () =>
        retry
          ? this.#o.client.fail(job.id, job.leaseToken, message)
          : this.#o.client.fail(job.id, job.leaseToken, message, { retry: false }),
      job,
      "fail",
    );
    this.#fireFail(job, prepared.error);
  }

  /** Starts held jobs while handler slots are free. */
  #fillSlots(): void {
    while (this.#active.size < this.#o.concurrency) {
      const next = this.#prefetch.next();
      if (next === undefined) return;
      this.#startJob(next);
    }
  }

  /** The handler under `token` returned or threw: settles the job, starts the next, tops up credits. */
  finished(token: string, outcome: HandlerOutcome): void {
    const active = this.#active.finish(token);
    if (active === undefined) return; // abandoned at the shutdown deadline
    const { job } = active;
    if (active.lost) {
      this.#log("debug", "handler finished after its lease was lost; outcome dropped", {
        jobId: job.id,
      });
    } else if (outcome.ok) {
      const result = outcome.value === undefined ? undefined : outcome.value as JsonValue;
      this.#settler.settle(() => this.#o.client.complete(job.id, token, result), job, "complete");
      this.#hook("onJobComplete", () => this.#o.hooks.onJobComplete?.(job, result));
    } else {
      const error = outcome.error;
      const options: FailOptions = error instanceof ValidationError ? { retry: false } : {};
      this.#settler.settle(
        () => this.#o.client.fail(job.id, token, messageOf(error), options),
        job,
        "fail",
      );
      this.#fireFail(job, error);
    }
    this.#prefetch.finished(this.#o.clock() - active.startedAt);
    this.#fillSlots();
    this.#topUpCredits();
  }

  /** Held jobs whose hold ran out (all of them once the worker stops taking jobs) go back to the queue. */
  holdRanOut(): void {
    const expired = this.#o.taking() ? this.#prefetch.expired() : this.#prefetch.drain();
    for (const job of expired) {
      this.#log("debug", "releasing a held job: no handler slot freed in time", { jobId: job.id });
      this.release(job);
    }
    this.#topUpCredits();
  }

  /** The lease under `token` was lost: aborts its handler (its outcome will be dropped). */
  lost(token: string, error: OsqueueError): void {
    const active = this.#active.lose(token);
    if (active === undefined) return;
    this.#log("warn", "lease lost; aborting the handler", {
      jobId: active.job.id,
      error: error.message,
    });
    active.controller.abort(error);
    this.#fireFail(active.job, error);
  }

  /** The shutdown deadline passed: aborts the handlers still running and releases their jobs. */
  abandonAll(): void {
    for (const active of this.#active.abandon()) {
      this.#log("warn", "shutdown deadline passed; aborting and releasing the job", {
        jobId: active.job.id,
      });
      active.controller.abort(
        new ShuttingDownError(`worker ${this.#o.workerId} stopped before the job finished`),
      );
      this.release(active.job);
    }
  }

  /**
   * Grants the credits that bring the jobs out to this worker (credits not
   * yet used, running handlers, held jobs) back to `concurrency` plus the
   * prefetch wanted now: one per finished job, none while the prefetch shrinks.
   */
  #topUpCredits(): void {
    if (!this.#o.taking()) return;
    const out = this.#creditsOut + this.#active.size + this.#prefetch.size;
    const missing = this.#o.concurrency + this.#prefetch.extra - out;
    if (missing <= 0) return;
    this.#creditsOut += missing;
    this.#o.client.credit(missing).catch((error) =>
      this.#log("warn", "returning a credit failed", { error: messageOf(error) })
    );
  }

  /** Gives `job` back to the queue. */
  release(job: ClaimedJob): void {
    this.#settler.settle(() => this.#o.client.release(job.id, job.leaseToken), job, "release");
  }

  #fireFail(job: ClaimedJob, error: unknown): void {
    this.#hook("onJobFail", () => this.#o.hooks.onJobFail?.(job, error));
  }

  #hook(name: string, call: () => void): void {
    try {
      call();
    } catch (error) {
      this.#log("error", `${name} hook threw`, { error: messageOf(error) });
    }
  }
}
