/**
 * One commit attempt: apply a batch to the state (then the parked claims
 * that can now get a job), turn the result into effects, append them as one
 * log record. The broker actor loops over attempts and keeps the books.
 *
 * @module
 */
import type { ClaimOperation } from "../protocol/operations.ts";
import {
  applyBatch,
  type ApplyContext,
  type BrokerOperation,
  type JobChange,
  type OperationReply,
} from "../core/apply.ts";
import { batchEffects, isEmptyEffects } from "../core/effects.ts";
import { hasReady, type QueueState } from "../core/state.ts";
import type { AppendOutcome, StateStore } from "./state_store.ts";
import type { Pending } from "./parked_claims.ts";

/** What one commit attempt works on. */
export interface CommitInput {
  /** The state to apply to. */
  state: QueueState;
  /** The batch's operations (housekeeping first, then requests). */
  operations: readonly BrokerOperation[];
  /** Parked long-poll claims; those that can get a job now are applied after the batch. */
  parked: readonly Pending[];
  /** Write even when nothing changed (a renewal shows the leader is alive). */
  renew: boolean;
  /** Ids of the finished jobs the batch archives. */
  archiveIds: readonly string[];
  /** Time, lease length, tokens and randomness for `applyBatch`. */
  context: ApplyContext;
}

/** Replies of one attempt: to the batch's operations, and to the parked claims that were applied. */
export interface CommitReplies {
  /** One per operation, in order. */
  replies: OperationReply[];
  /** For the parked claims applied this time. */
  parkedReplies: Map<Pending, OperationReply>;
  /** Operations applied (the batch's and the parked claims'). */
  applied: number;
}

/** The outcome of {@linkcode commitOnce}: the append's outcome, or `read-only` when nothing was written. */
export type CommitOutcome =
  | ({ kind: "read-only"; state: QueueState } & CommitReplies)
  | (
    & Extract<AppendOutcome, { kind: "landed" }>
    & CommitReplies
    & { before: QueueState; changes: ReadonlyMap<number, JobChange> }
  )
  | Exclude<AppendOutcome, { kind: "landed" }>;

/** Applies the batch and appends its effects once. */
export async function commitOnce(
  stateStore: StateStore,
  input: CommitInput,
): Promise<CommitOutcome> {
  const { state: before, context } = input;
  const first = applyBatch(before, input.operations, context);
  const ready = input.parked.filter((pending) =>
    hasReady(first.state, context.now, (pending.operation as ClaimOperation).types)
  );
  const second = ready.length === 0
    ? undefined
    : applyBatch(first.state, ready.map((pending) => pending.operation), context);
  const after = second?.state ?? first.state;
  const parkedReplies = new Map<Pending, OperationReply>();
  ready.forEach((pending, i) => parkedReplies.set(pending, second!.replies[i]));
  const replies: CommitReplies = {
    replies: first.replies,
    parkedReplies,
    applied: input.operations.length + ready.length,
  };
  const changes = new Map(first.changes);
  for (const [seq, change] of second?.changes ?? []) changes.set(seq, change);
  const effects = batchEffects(before, after, changes);
  if (isEmptyEffects(effects) && !input.renew) {
    return { kind: "read-only", state: after, ...replies };
  }
  const removed = new Set(effects.del);
  const outcome = await stateStore.append({
    before,
    after,
    effects,
    archiveIds: input.archiveIds.filter((id) => removed.has(id)),
  });
  return outcome.kind === "landed" ? { ...outcome, ...replies, before, changes } : outcome;
}
