/**
 * The handlers a {@linkcode Worker} runs ({@linkcode RunningJobs}), by lease
 * token: starting one (its context, the abort controller of its `signal`, its
 * lease heartbeat, the handler call), and ending one — finished, lease lost,
 * or abandoned at the shutdown deadline. The worker's actor loop is the only
 * caller, so this table has a single writer.
 *
 * @module
 */
import type { OsqueueError } from "../errors.ts";
import type { ClaimedJob, JsonValue } from "../protocol/operations.ts";
import type { Timers } from "./client_options.ts";
import {
  createJobContext,
  type JobHeartbeatOptions,
  type RunningJob,
  startJobHeartbeat,
} from "./job_context.ts";
import type { AnyHandler, WorkerClient, WorkerLog } from "./worker_options.ts";

/** What a handler did: returned a value, or threw. */
export type HandlerOutcome = { ok: true; value: JsonValue | void } | { ok: false; error: unknown };

/** One running handler. */
export interface ActiveJob {
  /** The job as delivered. */
  job: ClaimedJob;
  /** Aborts the handler's `signal`. */
  controller: AbortController;
  /** Stops the lease heartbeat. */
  stopHeartbeat: () => void;
  /** The lease was lost: drop the outcome. */
  lost: boolean;
  /** When the handler started, epoch ms (the worker's clock). */
  startedAt: number;
}

/** Options of {@linkcode RunningJobs}. */
export interface RunningJobsOptions {
  /** The worker's client (heartbeats). */
  client: WorkerClient;
  /** The worker's log. */
  log: WorkerLog;
  /** Clock of the heartbeat loop. */
  clock: () => number;
  /** Timers of the heartbeat loop. */
  timers: Timers;
  /** Lease asked for by each heartbeat, ms (the broker's default when absent). */
  leaseMs?: number;
  /** Heartbeat interval, ms (derived from the lease when absent). */
  heartbeatIntervalMs?: number;
  /** Called once a handler is tracked, before it is called. */
  onStart: (job: ClaimedJob) => void;
  /** The lease of the job under `token` was lost (posted to the worker's mailbox). */
  onLost: (token: string, error: OsqueueError) => void;
  /** The handler of the job under `token` returned or threw (posted to the worker's mailbox). */
  onFinished: (token: string, outcome: HandlerOutcome) => void;
}

/** The running handlers of one worker, by lease token. */
export class RunningJobs {
  readonly #options: RunningJobsOptions;
  readonly #active = new Map<string, ActiveJob>();

  /** Builds an empty table. */
  constructor(options: RunningJobsOptions) {
    this.#options = options;
  }

  /** How many handlers run (lost leases included until their handler returns). */
  get size(): number {
    return this.#active.size;
  }

  /** Runs `handler` on `job` (its payload parsed already), heartbeating its lease meanwhile. */
  start(job: ClaimedJob, handler: AnyHandler, payload: unknown): void {
    const options = this.#options;
    const controller = new AbortController();
    const token = job.leaseToken;
    const running: RunningJob = {
      job,
      client: options.client,
      log: options.log,
      onLost: (error) => options.onLost(token, error),
    };
    if (options.leaseMs !== undefined) running.leaseMs = options.leaseMs;
    const context = createJobContext(running, payload, controller.signal);
    const heartbeat: JobHeartbeatOptions = { clock: options.clock, timers: options.timers };
    if (options.heartbeatIntervalMs !== undefined) {
      heartbeat.intervalMs = options.heartbeatIntervalMs;
    }
    const stopHeartbeat = startJobHeartbeat(running, heartbeat);
    this.#active.set(token, {
      job,
      controller,
      stopHeartbeat,
      lost: false,
      startedAt: options.clock(),
    });
    options.onStart(job);
    (async () => await handler(context))().then(
      (value) => options.onFinished(token, { ok: true, value }),
      (error) => options.onFinished(token, { ok: false, error }),
    );
  }

  /** The handler under `token` returned: forgets it and stops its heartbeat; undefined if it was abandoned. */
  finish(token: string): ActiveJob | undefined {
    const active = this.#active.get(token);
    if (active === undefined) return undefined;
    this.#active.delete(token);
    active.stopHeartbeat();
    return active;
  }

  /**
   * The lease under `token` was lost: marks it (its outcome will be dropped)
   * and stops its heartbeat; undefined if unknown or marked already. The
   * caller aborts the handler's signal.
   */
  lose(token: string): ActiveJob | undefined {
    const active = this.#active.get(token);
    if (active === undefined || active.lost) return undefined;
    active.lost = true;
    active.stopHeartbeat();
    return active;
  }

  /**
   * The shutdown deadline passed: stops every heartbeat, forgets every
   * handler, and returns those whose lease is still held (the caller aborts
   * and releases them); their outcomes will be ignored.
   */
  abandon(): ActiveJob[] {
    const held: ActiveJob[] = [];
    for (const active of this.#active.values()) {
      active.stopHeartbeat();
      if (!active.lost) held.push(active);
    }
    this.#active.clear();
    return held;
  }
}
