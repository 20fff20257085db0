/**
 * Operator operations on the queue state: list jobs by state, retry dead
 * jobs, delete a job, promote a delayed one. Pure like the rest of `apply.ts`
 * (which dispatches to these): they change the state only through the
 * {@linkcode StateDraft} methods, and take the time as an argument.
 *
 * `list` and `retry` by type scan every job the state holds (O(jobs) per
 * call): fine for an operator's page view, not for a hot path.
 *
 * @module
 */
import { JobNotFoundError, ValidationError } from "../errors.ts";
import type {
  DeleteOperation,
  Job,
  JobState,
  JobView,
  ListOperation,
  OperationResults,
  PromoteOperation,
  RetryOperation,
} from "../protocol/operations.ts";
import { parseJobId } from "./job_id.ts";
import { effectiveState, listJobs, type QueueState } from "./state.ts";
import type { StateDraft } from "./state_draft.ts";

/** Default page size of `list`. */
export const DEFAULT_LIST_LIMIT = 50;

/** A job as shown to people: the lease without its token; a due delayed job reads as `ready`. */
export function jobView(job: Job | JobView, now: number): JobView {
  const { lease, ...rest } = job;
  const view: JobView = { ...rest, state: effectiveState(job, now) };
  if (lease !== undefined) view.lease = { workerId: lease.workerId, expiresAt: lease.expiresAt };
  return view;
}

/** One page of the jobs in `operation.state` (and type), newest (highest id) first. */
export function listPage(
  draft: StateDraft,
  operation: ListOperation,
  now: number,
): OperationResults["list"] {
  const limit = Math.max(1, Math.min(operation.limit ?? DEFAULT_LIST_LIMIT, 1000));
  const below = operation.cursor === undefined ? Infinity : parseJobId(operation.cursor);
  if (below === undefined) {
    throw new ValidationError(`list: cursor ${JSON.stringify(operation.cursor)} is not a job id`);
  }
  const all = listJobs(draft.snapshot());
  const jobs: JobView[] = [];
  let total = 0;
  let next: string | undefined;
  for (let i = all.length - 1; i >= 0; i--) {
    const job = all[i];
    if (effectiveState(job, now) !== operation.state) continue;
    if (operation.type !== undefined && job.type !== operation.type) continue;
    total++;
    if ((parseJobId(job.id) ?? 0) >= below) continue;
    if (jobs.length < limit) jobs.push(jobView(job, now));
    else next ??= jobs[jobs.length - 1].id;
  }
  return next === undefined ? { jobs, total } : { jobs, total, next };
}

/** Puts a dead job (or every dead job of a type) back to ready with its attempts reset. */
export function retryDead(
  draft: StateDraft,
  operation: RetryOperation,
  now: number,
): OperationResults["retry"] {
  const targets: { seq: number; job: Job }[] = [];
  if (operation.jobId !== undefined) {
    const found = known(draft, operation.jobId);
    if (found.job.state !== "dead") {
      throw new ValidationError(
        `job ${
          JSON.stringify(found.job.id)
        } is ${found.job.state}, not dead: only dead jobs are retried`,
      );
    }
    targets.push(found);
  } else if (typeof operation.type === "string") {
    for (const job of listJobs(draft.snapshot())) {
      if (job.state !== "dead" || job.type !== operation.type) continue;
      const seq = parseJobId(job.id);
      const current = seq === undefined ? undefined : draft.job(seq);
      if (seq !== undefined && current !== undefined) targets.push({ seq, job: current });
    }
  } else {
    throw new ValidationError("retry: give exactly one of jobId and type");
  }
  for (const { seq, job } of targets) {
    const { finishedAt: _finishedAt, ...rest } = job;
    draft.update(seq, job, { ...rest, state: "ready", attempts: 0, runAt: now, updatedAt: now });
  }
  return { retried: targets.map(({ job }) => job.id) };
}

/** Removes a job that is not active (any job with `force`); it is not archived. */
export function deleteJob(
  draft: StateDraft,
  operation: DeleteOperation,
): OperationResults["delete"] {
  const { seq, job } = known(draft, operation.jobId);
  if (job.state === "active" && operation.force !== true) {
    throw new ValidationError(
      `job ${JSON.stringify(job.id)} is active (held by worker ${
        JSON.stringify(job.lease?.workerId)
      }): cancel it first, or delete with force`,
    );
  }
  draft.remove(seq, job);
  return { deleted: true };
}

/** Makes a delayed job ready now; `promoted: false` when it was ready (or due) already. */
export function promoteJob(
  draft: StateDraft,
  operation: PromoteOperation,
  now: number,
): OperationResults["promote"] {
  const { seq, job } = known(draft, operation.jobId);
  const state = effectiveState(job, now);
  if (state === "ready") return { promoted: false };
  if (state !== "delayed") {
    throw new ValidationError(
      `job ${JSON.stringify(job.id)} is ${state}: only delayed jobs can be promoted`,
    );
  }
  draft.update(seq, job, { ...job, state: "ready", runAt: now, updatedAt: now });
  return { promoted: true };
}

function known(draft: StateDraft, id: string): { seq: number; job: Job } {
  const seq = parseJobId(id);
  const job = seq === undefined ? undefined : draft.job(seq);
  if (seq === undefined || job === undefined) {
    throw new JobNotFoundError(
      `job ${JSON.stringify(id)} not found (unknown, or finished and already archived)`,
    );
  }
  return { seq, job };
}

/** Counts of the jobs a state holds, for dashboards and metrics. */
export interface JobSummary {
  /** Jobs by (effective) state, then by type. */
  byStateAndType: Record<JobState, Record<string, number>>;
  /** Active jobs by the worker holding them. */
  activeByWorker: Record<string, number>;
}

/** Counts every job of `state` by state and type, and active ones by worker (a scan: O(jobs)). */
export function summarizeJobs(state: QueueState, now: number): JobSummary {
  const byStateAndType: Record<JobState, Record<string, number>> = {
    ready: {},
    delayed: {},
    active: {},
    completed: {},
    dead: {},
    cancelled: {},
  };
  const activeByWorker: Record<string, number> = {};
  for (const job of listJobs(state)) {
    const counts = byStateAndType[effectiveState(job, now)];
    counts[job.type] = (counts[job.type] ?? 0) + 1;
    if (job.lease !== undefined) {
      activeByWorker[job.lease.workerId] = (activeByWorker[job.lease.workerId] ?? 0) + 1;
    }
  }
  return { byStateAndType, activeByWorker };
}
