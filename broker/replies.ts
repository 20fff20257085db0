/**
 * Settling requests after a tick: each gets its reply or the batch's error;
 * a long-poll claim that found nothing is parked until its deadline; a `get`
 * for a job no longer in the state is looked up in the archive.
 *
 * @module
 */
import { JobNotFoundError, type OsqueueError } from "../errors.ts";
import type { ClaimOperation, OperationResult } from "../protocol/operations.ts";
import type { OperationReply } from "../core/apply.ts";
import type { Job } from "../protocol/operations.ts";
import type { ParkedClaims, Pending } from "./parked_claims.ts";

/** What settling needs from the broker. */
export interface SettleContext {
  /** Where empty long-poll claims wait. */
  parked: ParkedClaims;
  /** Whether the broker still leads (only a leader parks claims). */
  leading: () => boolean;
  /** The current time, epoch ms. */
  now: () => number;
  /** Finds an archived job by id. */
  findArchived: (id: string) => Promise<Job | undefined>;
  /** The error for requests a broker that no longer leads cannot answer. */
  notLeader: () => OsqueueError;
}

/** Settles each request of a batch with its reply (after `offset` housekeeping replies), or the batch's error. */
export function settleBatch(
  context: SettleContext,
  entries: readonly Pending[],
  offset: number,
  replies: readonly OperationReply[] | undefined,
  error: OsqueueError | undefined,
): void {
  entries.forEach((pending, index) => {
    if (replies === undefined) return pending.reject(error);
    answer(context, pending, replies[offset + index]);
  });
}

/** Parked claims: answered when they were applied, parked again otherwise (or rejected when no longer leading). */
export function settleParked(
  context: SettleContext,
  parked: readonly Pending[],
  replies: ReadonlyMap<Pending, OperationReply> | undefined,
  error: OsqueueError | undefined,
): void {
  for (const pending of parked) {
    const reply = replies?.get(pending);
    if (reply !== undefined) answer(context, pending, reply);
    else if (context.leading()) context.parked.park(pending);
    else pending.reject(error ?? context.notLeader());
  }
}

/** Answers one request with its reply. */
export function answer(context: SettleContext, pending: Pending, reply: OperationReply): void {
  const operation = pending.operation;
  if (!reply.ok) {
    if (operation.op === "get" && reply.error instanceof JobNotFoundError) {
      // It may have been archived: look there, without holding up the loop.
      context.findArchived(operation.jobId).then(
        (job) =>
          job === undefined
            ? pending.reject(reply.error)
            : pending.resolve({ job, archived: true }),
        () => pending.reject(reply.error),
      );
      return;
    }
    return pending.reject(reply.error);
  }
  if (operation.op === "claim" && context.leading()) {
    const jobs = (reply.value as OperationResult<ClaimOperation>).jobs;
    const now = context.now();
    if (jobs.length === 0) {
      const waitMs = operation.waitMs ?? 0;
      if (pending.deadline === undefined && waitMs > 0) pending.deadline = now + waitMs;
      if (pending.deadline !== undefined && pending.deadline > now) {
        return context.parked.park(pending);
      }
    }
  }
  pending.resolve(reply.value);
}
