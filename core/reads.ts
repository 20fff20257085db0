/**
 * The read operations of the state: `get` (one job, without its lease token)
 * and `stats` (counters, capacity limits, type controls). They change nothing.
 *
 * @module
 */
import type { GetOperation, OperationResults } from "../protocol/operations.ts";
import { jobView } from "./admin.ts";
import type { ApplyContext, BatchUsage } from "./apply_context.ts";
import { known } from "./job_lookup.ts";
import { pendingJobs } from "./push.ts";
import { queueStats } from "./state.ts";
import type { StateDraft } from "./state_draft.ts";
import { activeCounter, controlStats, readControls } from "./type_controls.ts";

/** A job's record; never the lease token, since whoever asks is not necessarily the holder. */
export function get(
  draft: StateDraft,
  operation: GetOperation,
  context: ApplyContext,
): OperationResults["get"] {
  const { job } = known(draft, operation.jobId);
  return { job: jobView(job, context.now) };
}

/** The queue's counters, with the capacity limits and type controls in force. */
export function stats(
  draft: StateDraft,
  context: ApplyContext,
  usage: BatchUsage,
): OperationResults["stats"] {
  const stats = queueStats(draft.snapshot(), context.now);
  if (context.limits !== undefined) {
    stats.limits = { ...context.limits, pendingJobs: pendingJobs(draft) };
    if (context.stateBytes !== undefined) {
      stats.limits.stateBytes = context.stateBytes + usage.addedBytes;
    }
  }
  const controls = readControls((key) => draft.extra(key));
  if (controls !== undefined) {
    Object.assign(
      stats,
      controlStats(controls, context.now, activeCounter(() => draft.snapshot())),
    );
  }
  return stats;
}
