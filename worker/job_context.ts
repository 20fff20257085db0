/**
 * What surrounds one running job: the {@linkcode JobContext} its handler gets
 * ({@linkcode createJobContext}) and the heartbeat that keeps its lease
 * ({@linkcode startJobHeartbeat}).
 *
 * @module
 */
import { LeaseLostError, type OsqueueError } from "../errors.ts";
import type { ClaimedJob } from "../protocol/operations.ts";
import type { Timers } from "./client_options.ts";
import { type HeartbeatLoopOptions, startHeartbeatLoop } from "./heartbeat_loop.ts";
import type { JobContext, WorkerClient, WorkerLog } from "./worker_options.ts";

/** What a running job's context and heartbeat need from the worker. */
export interface RunningJob {
  /** The job as delivered. */
  job: ClaimedJob;
  /** The worker's client. */
  client: WorkerClient;
  /** Lease asked for by each heartbeat, ms (the broker's default when absent). */
  leaseMs?: number;
  /** The worker's log. */
  log: WorkerLog;
  /** Tells the worker the lease is lost. */
  onLost: (error: OsqueueError) => void;
}

/** Builds the context a handler gets for `payload` (parsed already), aborted through `signal`. */
export function createJobContext(
  running: RunningJob,
  payload: unknown,
  signal: AbortSignal,
): JobContext<unknown> {
  const { job, client, leaseMs, log, onLost } = running;
  const token = job.leaseToken;
  return {
    id: job.id,
    type: job.type,
    payload,
    attempt: job.attempt,
    maxAttempts: job.maxAttempts,
    priority: job.priority,
    createdAt: job.createdAt,
    signal,
    heartbeat: async () => {
      try {
        await client.heartbeat(job.id, token, leaseMs);
      } catch (error) {
        if (
          error instanceof LeaseLostError || (error as OsqueueError)?.code === "job_not_found"
        ) {
          onLost(error as OsqueueError);
        }
        throw error;
      }
    },
    progress: async (value) => {
      if (client.progress === undefined) {
        throw new TypeError("this worker's client cannot report progress");
      }
      await client.progress(job.id, token, value);
    },
    log: (message, data) => log("info", message, { ...data, jobId: job.id, type: job.type }),
  };
}

/** How a worker heartbeats a running job. */
export interface JobHeartbeatOptions {
  /** Time between heartbeats, ms (a third of the granted lease when absent). */
  intervalMs?: number;
  /** Current time, epoch ms. */
  clock: () => number;
  /** Timer functions. */
  timers: Timers;
}

/**
 * Heartbeats the job's lease until the returned function is called: by the
 * client's `startHeartbeat` when it has one, else by
 * {@linkcode startHeartbeatLoop} on its `heartbeat`.
 */
export function startJobHeartbeat(
  running: RunningJob,
  options: JobHeartbeatOptions,
): () => void {
  const { job, client, leaseMs, log, onLost } = running;
  const loop: HeartbeatLoopOptions = {
    leaseExpiresAt: job.leaseExpiresAt,
    onLost,
    onError: (error) => log("warn", "heartbeat failed", { jobId: job.id, error: error.message }),
  };
  if (options.intervalMs !== undefined) loop.intervalMs = options.intervalMs;
  if (leaseMs !== undefined) loop.leaseMs = leaseMs;
  if (client.startHeartbeat !== undefined) {
    return client.startHeartbeat(job.id, job.leaseToken, loop);
  }
  return startHeartbeatLoop({
    jobId: job.id,
    loop,
    beat: () => client.heartbeat(job.id, job.leaseToken, leaseMs),
    clock: options.clock,
    timers: options.timers,
  });
}
