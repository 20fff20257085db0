/**
 * Finding the job an operation names: by id ({@linkcode known}), or by id and
 * lease token ({@linkcode leased}), with an error that says why not; and the
 * record changes every finishing handler shares ({@linkcode finished}).
 *
 * @module
 */
import { JobNotFoundError, LeaseLostError } from "../errors.ts";
import type { Job } from "../protocol/operations.ts";
import { parseJobId } from "./job_id.ts";
import type { StateDraft } from "./state_draft.ts";

/** The job `id` and its sequence number; JobNotFoundError when the state does not hold it. */
export function known(draft: StateDraft, id: string): { seq: number; job: Job } {
  const seq = parseJobId(id);
  const job = seq === undefined ? undefined : draft.job(seq);
  if (seq === undefined || job === undefined) {
    throw new JobNotFoundError(
      `job ${JSON.stringify(id)} not found (unknown, or finished and already archived)`,
    );
  }
  return { seq, job };
}

/** The job `id` if `token` is its current lease; else JobNotFoundError or LeaseLostError saying why. */
export function leased(
  draft: StateDraft,
  id: string,
  token: string,
): { seq: number; job: Job; lease: NonNullable<Job["lease"]> } {
  const { seq, job } = known(draft, id);
  const name = `job ${JSON.stringify(job.id)}`;
  switch (job.state) {
    case "completed":
      throw new LeaseLostError(`${name} is already completed`);
    case "dead":
      throw new LeaseLostError(`${name} is dead (dead-lettered); its lease is over`);
    case "cancelled":
      throw new LeaseLostError(`${name} was cancelled; its lease is no longer valid`);
    case "ready":
    case "delayed":
      throw new LeaseLostError(
        `${name} is not active: its lease expired, or it was released or failed`,
      );
  }
  const lease = job.lease;
  if (lease === undefined || lease.token !== token) {
    throw new LeaseLostError(
      `${name} is leased under another token (now held by worker ${
        JSON.stringify(lease?.workerId)
      }): the lease expired and the job was claimed again, or the token is wrong`,
    );
  }
  return { seq, job, lease };
}

/** The job without its lease (the same object when it has none). */
export function withoutLease(job: Job): Job {
  if (job.lease === undefined) return job;
  const { lease: _lease, ...rest } = job;
  return rest;
}

/** The job finished in `state` at `now`, its lease dropped. */
export function finished(job: Job, state: "completed" | "dead" | "cancelled", now: number): Job {
  return { ...withoutLease(job), state, finishedAt: now, updatedAt: now };
}
