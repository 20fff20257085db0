/**
 * Applying operations to a queue state: the pure transition function the
 * broker actor runs once per tick over every pending operation.
 *
 * {@linkcode applyBatch} applies the operations in order (each sees the
 * effects of those before it), returns one reply per operation, never throws
 * for a problem with one operation (it becomes an error reply and changes
 * nothing), and never changes the state it was given. The clock and the
 * randomness come from the {@linkcode ApplyContext}.
 *
 * Claim order: highest `priority` first, then earliest `runAt`, then push
 * order. A retried job re-enters at its new `runAt` (behind jobs that were
 * due earlier); a released or expired job keeps its `runAt`, so it goes back
 * to the front of its priority.
 *
 * A delayed job that is due (`runAt <= now`) is claimable and reads as
 * `ready` in `get` and `stats`; its record turns `active` when claimed.
 *
 * A lease that has run out but has not yet been handled by an `expire`
 * operation is still valid: nobody else can hold the job until `expire`
 * runs, so a late heartbeat or completion from its holder is accepted.
 *
 * Each operation family has its own file: `push.ts`, `leases.ts` (claim,
 * heartbeat, progress, release), `settle.ts` (complete, fail, cancel,
 * expire, archived), `reads.ts` (get, stats), `admin.ts`, `schedules.ts`,
 * `type_controls.ts`; this module only dispatches.
 *
 * @module
 */
import { InternalError, OsqueueError, ValidationError } from "../errors.ts";
import { deleteJob, listPage, promoteJob, retryDead } from "./admin.ts";
import type { ApplyContext, BatchUsage } from "./apply_context.ts";
import type { BrokerOperation } from "./broker_operations.ts";
import { isObject } from "./job_codec.ts";
import { claim, heartbeat, progress, release } from "./leases.ts";
import { push } from "./push.ts";
import { get, stats } from "./reads.ts";
import { listSchedules, removeSchedule, runSchedules, setSchedule } from "./schedules.ts";
import { archived, cancel, complete, expire, fail } from "./settle.ts";
import type { QueueState } from "./state.ts";
import { stateData } from "./state_data.ts";
import { type JobChange, StateDraft } from "./state_draft.ts";
import { setLimit, setPaused } from "./type_controls.ts";

export type { ApplyContext } from "./apply_context.ts";
export type {
  ArchivedOperation,
  BrokerOperation,
  BrokerOperationResults,
  ExpireOperation,
  RunSchedulesOperation,
} from "./broker_operations.ts";
export type { JobChange } from "./state_draft.ts";

/** The reply to one operation: its value (see {@linkcode BrokerOperationResults}) or its error. */
export type OperationReply = { ok: true; value: unknown } | { ok: false; error: OsqueueError };

/** What {@linkcode applyBatch} returns. */
export interface BatchResult {
  /**
   * The state after the batch. When `changed` is false it holds the same jobs
   * and counters as the input (the input itself, or a copy whose indexes
   * moved due delayed jobs to ready); the input is never changed.
   */
  state: QueueState;
  /** One reply per operation, in order. */
  replies: OperationReply[];
  /** Whether anything that must be written changed; `false` lets the broker skip the write. */
  changed: boolean;
  /** The jobs the batch added, updated or removed, by sequence number (what a log record holds). */
  changes: ReadonlyMap<number, JobChange>;
}

/**
 * Applies `operations` in order to `state` and returns the new state, one
 * reply per operation, and whether a write is needed. Does not touch the
 * epoch, the commit counter or the leader (see `withCommit`).
 */
export function applyBatch(
  state: QueueState,
  operations: readonly BrokerOperation[],
  context: ApplyContext,
): BatchResult {
  const base = stateData(state);
  const draft = new StateDraft(base);
  const replies: OperationReply[] = [];
  const usage: BatchUsage = { addedBytes: 0 };
  for (const operation of operations) {
    try {
      replies.push({ ok: true, value: applyOne(draft, operation, context, usage) });
    } catch (error) {
      replies.push({ ok: false, error: asOsqueueError(error, operation) });
    }
  }
  // When nothing stored changed, `state` may still differ from the input in
  // its indexes alone (due delayed jobs promoted by a claim): a broker keeps
  // it, so that those jobs do not look as if they still waited on the clock.
  return { state: draft.snapshot(), replies, changed: draft.dirty, changes: draft.changes };
}

/**
 * Applies one operation. Handlers check everything before their first write,
 * so a thrown error leaves the draft as it was.
 */
function applyOne(
  draft: StateDraft,
  operation: BrokerOperation,
  context: ApplyContext,
  usage: BatchUsage,
): unknown {
  if (!isObject(operation)) throw new ValidationError("an operation must be an object");
  switch (operation.op) {
    case "push":
      return push(draft, operation.jobs, context, usage);
    case "claim":
      return claim(draft, operation, context);
    case "heartbeat":
      return heartbeat(draft, operation, context);
    case "complete":
      return complete(draft, operation, context, usage);
    case "fail":
      return fail(draft, operation, context);
    case "progress":
      return progress(draft, operation);
    case "release":
      return release(draft, operation, context);
    case "cancel":
      return cancel(draft, operation, context);
    case "get":
      return get(draft, operation, context);
    case "stats":
      return stats(draft, context, usage);
    case "list":
      return listPage(draft, operation, context.now);
    case "retry":
      return retryDead(draft, operation, context.now);
    case "delete":
      return deleteJob(draft, operation, context.now);
    case "promote":
      return promoteJob(draft, operation, context.now);
    case "pause":
      return setPaused(draft, operation.types, true);
    case "resume":
      return setPaused(draft, operation.types, false);
    case "limit":
      return setLimit(draft, operation);
    case "schedule":
      return setSchedule(draft, operation, context.now);
    case "unschedule":
      return removeSchedule(draft, operation.name);
    case "schedules":
      return listSchedules(draft);
    case "run-schedules":
      return runSchedules(draft, context.now, (jobs) => push(draft, jobs, context, usage));
    case "expire":
      return expire(draft, context.now);
    case "archived":
      return archived(draft, operation.ids);
    default:
      throw new ValidationError(
        `unknown operation ${JSON.stringify((operation as { op?: unknown }).op)}`,
      );
  }
}

function asOsqueueError(error: unknown, operation: unknown): OsqueueError {
  if (error instanceof OsqueueError) return error;
  const op = isObject(operation) ? String(operation.op) : "operation";
  const message = error instanceof Error ? error.message : String(error);
  return new InternalError(`internal error applying ${op}: ${message}`, {
    cause: error,
  });
}
