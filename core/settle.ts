/**
 * Finishing jobs: `complete`, `fail` (a retry after backoff, or the dead
 * letter after the last attempt), `cancel`, the broker's `expire` (leases
 * that ran out) and `archived` (finished jobs dropped once archived). A
 * finished parent settles the children waiting on it (`dependencies.ts`).
 *
 * @module
 */
import { ValidationError } from "../errors.ts";
import {
  type CancelOperation,
  type CompleteOperation,
  type FailOperation,
  LIMITS,
  type OperationResults,
} from "../protocol/operations.ts";
import { type ApplyContext, type BatchUsage, jsonBytes } from "./apply_context.ts";
import { backoffDelay } from "./backoff.ts";
import type { BrokerOperationResults } from "./broker_operations.ts";
import { settleChildren } from "./dependencies.ts";
import { isFinished } from "./job_codec.ts";
import { parseJobId } from "./job_id.ts";
import { finished, known, leased, withoutLease } from "./job_lookup.ts";
import type { StateDraft } from "./state_draft.ts";

/** Completes a leased job, keeping its result (counted against `maxStateBytes`, never refused). */
export function complete(
  draft: StateDraft,
  operation: CompleteOperation,
  context: ApplyContext,
  usage: BatchUsage,
): OperationResults["complete"] {
  const { seq, job } = leased(draft, operation.jobId, operation.leaseToken);
  const next = finished(job, "completed", context.now);
  if (operation.result !== undefined) {
    next.result = operation.result;
    // Counted, never refused: refusing a completion would lose the work done.
    if (context.limits?.maxStateBytes !== undefined) usage.addedBytes += jsonBytes(next.result);
  }
  draft.update(seq, job, next);
  draft.count("completed");
  if (job.children !== undefined) settleChildren(draft, next, context.now);
  return { ok: true };
}

/** Records a failed attempt: a retry after the job's backoff, or the dead letter. */
export function fail(
  draft: StateDraft,
  operation: FailOperation,
  context: ApplyContext,
): OperationResults["fail"] {
  const { seq, job } = leased(draft, operation.jobId, operation.leaseToken);
  const now = context.now;
  const lastError = String(operation.error ?? "").slice(0, LIMITS.maxErrorLength);
  if (operation.retry !== false && job.attempts < job.maxAttempts) {
    const delay = backoffDelay({
      policy: job.backoff,
      attempt: job.attempts,
      random: context.random,
    });
    const runAt = now + delay;
    const state = delay > 0 ? "delayed" : "ready";
    draft.update(seq, job, { ...withoutLease(job), state, runAt, lastError, updatedAt: now });
    draft.count("failed");
    draft.count("retried");
    return { state, runAt };
  }
  const dead = { ...finished(job, "dead", now), lastError };
  draft.update(seq, job, dead);
  draft.count("failed");
  draft.count("dead");
  if (job.children !== undefined) settleChildren(draft, dead, now);
  return { state: "dead" };
}

/** Cancels a job that has not finished (an active job's lease becomes stale). */
export function cancel(
  draft: StateDraft,
  operation: CancelOperation,
  context: ApplyContext,
): OperationResults["cancel"] {
  const { seq, job } = known(draft, operation.jobId);
  if (isFinished(job.state)) return { cancelled: false };
  const next = finished(job, "cancelled", context.now);
  draft.update(seq, job, next);
  draft.count("cancelled");
  if (job.children !== undefined) settleChildren(draft, next, context.now);
  return { cancelled: true };
}

/** Moves every job whose lease ran out by `now` back to ready, or to dead after its last attempt. */
export function expire(draft: StateDraft, now: number): BrokerOperationResults["expire"] {
  let expired = 0;
  for (let entry = draft.active().first(); entry !== undefined && entry.a <= now;) {
    const job = draft.job(entry.seq);
    if (job?.state !== "active" || job.lease?.expiresAt !== entry.a) {
      draft.dropStale("active", entry); // cannot happen, barring a bug
      entry = draft.active().first();
      continue;
    }
    const lastError = `lease expired: worker ${
      JSON.stringify(job.lease?.workerId)
    } stopped heartbeating (attempt ${job.attempts} of ${job.maxAttempts})`;
    if (job.attempts >= job.maxAttempts) {
      const dead = { ...finished(job, "dead", now), lastError };
      draft.update(entry.seq, job, dead);
      draft.count("dead");
      if (job.children !== undefined) settleChildren(draft, dead, now);
    } else {
      draft.update(entry.seq, job, {
        ...withoutLease(job),
        state: "ready",
        lastError,
        updatedAt: now,
      });
    }
    draft.count("expired");
    expired++;
    entry = draft.active().first();
  }
  return { expired };
}

/** Drops the finished jobs `ids` (archived by the broker); other ids are ignored. */
export function archived(
  draft: StateDraft,
  ids: readonly string[],
): BrokerOperationResults["archived"] {
  if (!Array.isArray(ids)) throw new ValidationError("archived: ids must be an array");
  let removed = 0;
  for (const id of ids) {
    const seq = parseJobId(id);
    const job = seq === undefined ? undefined : draft.job(seq);
    if (seq === undefined || job === undefined || !isFinished(job.state)) continue;
    draft.remove(seq, job);
    removed++;
  }
  return { removed };
}
