/**
 * Giving claimed jobs back to the queue when they arrive for a consumer that
 * is gone (or cannot take them): each is released, so it runs again at once
 * instead of waiting for its lease to run out.
 *
 * @module
 */
import type { QueueBackend } from "../protocol/backend.ts";
import type { ClaimedJob } from "../protocol/operations.ts";

/** Options of {@linkcode releaseJobs}. */
export interface ReleaseJobsOptions {
  /** The broker that leased the jobs. */
  backend: QueueBackend;
  /** The jobs to give back. */
  jobs: readonly ClaimedJob[];
  /** Log sink for release failures (the lease then simply runs out). */
  log?: (line: string) => void;
}

/** Gives claimed jobs back to the queue (`release`), for jobs that arrive for a gone consumer. */
export function releaseJobs(options: ReleaseJobsOptions): Promise<void> {
  const { backend, jobs, log } = options;
  return Promise.all(jobs.map(async (job) => {
    try {
      await backend.request({ op: "release", jobId: job.id, leaseToken: job.leaseToken });
    } catch (error) {
      log?.(`release ${job.id} failed: ${error instanceof Error ? error.message : error}`);
    }
  })).then(() => {});
}
