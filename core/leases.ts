/**
 * The lease operations: `claim` hands out the best ready jobs under new
 * leases (highest priority first, then earliest `runAt`, then push order,
 * within the paused and limited types' gates); the holder then extends its
 * lease (`heartbeat`), reports progress, or gives the job back unstarted
 * (`release`).
 *
 * @module
 */
import type {
  ClaimedJob,
  ClaimOperation,
  HeartbeatOperation,
  Job,
  OperationResults,
  ProgressOperation,
  ReleaseOperation,
} from "../protocol/operations.ts";
import { type ApplyContext, leaseDuration } from "./apply_context.ts";
import { leased, withoutLease } from "./job_lookup.ts";
import { compareEntries, type IndexEntry } from "./sorted_list.ts";
import type { StateDraft } from "./state_draft.ts";
import { activeCounter, ClaimGate, readControls } from "./type_controls.ts";

/** Leases up to `operation.max` ready jobs to `operation.workerId`. */
export function claim(
  draft: StateDraft,
  operation: ClaimOperation,
  context: ApplyContext,
): OperationResults["claim"] {
  const now = context.now;
  const max = operation.max === undefined || !(operation.max >= 1)
    ? 1
    : Math.min(Math.floor(operation.max), Number.MAX_SAFE_INTEGER);
  let types = operation.types === undefined || operation.types.length === 0
    ? undefined
    : [...new Set(operation.types)];
  const expiresAt = now + leaseDuration(operation.leaseMs, context);
  draft.promoteDue(now);
  // Paused and limited types (type_controls.ts): claims pick among the others.
  const controls = readControls((key) => draft.extra(key));
  const gate = controls === undefined
    ? undefined
    : new ClaimGate(controls, now, activeCounter(() => draft.snapshot()));
  if (gate !== undefined) {
    types = (types ?? [...draft.readyTypes()]).filter((t) => !gate.blocked(t));
  }
  const out: ClaimedJob[] = [];
  while (out.length < max) {
    const found = bestReady(draft, types);
    if (found === undefined) break;
    const { entry, type } = found;
    const job = draft.job(entry.seq);
    if (
      job === undefined || !isReadyEntry(job, entry) || (type !== undefined && type !== job.type)
    ) {
      draft.dropStale("ready", entry, [type, job?.type]);
      continue;
    }
    if (job.state === "delayed" && job.runAt > now) {
      draft.demote(entry.seq, job); // promoted earlier, but the clock went back
      continue;
    }
    const lease = { workerId: operation.workerId, token: context.newToken(), expiresAt };
    const next: Job = {
      ...job,
      state: "active",
      attempts: job.attempts + 1,
      lease,
      updatedAt: now,
    };
    draft.update(entry.seq, job, next);
    if (gate !== undefined) {
      gate.took(job.type);
      if (gate.blocked(job.type)) types = types!.filter((t) => t !== job.type);
    }
    out.push({
      id: job.id,
      type: job.type,
      payload: job.payload,
      attempt: next.attempts,
      maxAttempts: job.maxAttempts,
      priority: job.priority,
      createdAt: job.createdAt,
      leaseToken: lease.token,
      leaseExpiresAt: expiresAt,
    });
  }
  gate?.persist(draft);
  return { jobs: out };
}

/** Extends the lease `operation.leaseToken` holds on its job. */
export function heartbeat(
  draft: StateDraft,
  operation: HeartbeatOperation,
  context: ApplyContext,
): OperationResults["heartbeat"] {
  const { seq, job, lease } = leased(draft, operation.jobId, operation.leaseToken);
  const expiresAt = context.now + leaseDuration(operation.leaseMs, context);
  draft.update(seq, job, { ...job, lease: { ...lease, expiresAt } });
  return { leaseExpiresAt: expiresAt };
}

/** Stores the progress the lease holder reported on its job. */
export function progress(
  draft: StateDraft,
  operation: ProgressOperation,
): OperationResults["progress"] {
  const { seq, job } = leased(draft, operation.jobId, operation.leaseToken);
  draft.update(seq, job, { ...job, progress: operation.value ?? null });
  return { ok: true };
}

/** Gives a leased job back unstarted: ready again at once, the attempt not counted. */
export function release(
  draft: StateDraft,
  operation: ReleaseOperation,
  context: ApplyContext,
): OperationResults["release"] {
  const { seq, job } = leased(draft, operation.jobId, operation.leaseToken);
  const next: Job = {
    ...withoutLease(job),
    state: "ready",
    attempts: Math.max(0, job.attempts - 1),
    updatedAt: context.now,
  };
  draft.update(seq, job, next);
  return { ok: true };
}

/** The first claimable entry for `types` (all types when undefined). */
function bestReady(
  draft: StateDraft,
  types: readonly string[] | undefined,
): { entry: IndexEntry; type?: string } | undefined {
  if (types === undefined) {
    const entry = draft.ready().first();
    return entry === undefined ? undefined : { entry };
  }
  let best: { entry: IndexEntry; type: string } | undefined;
  for (const type of types) {
    const head = draft.readyOfType(type)?.first();
    if (head !== undefined && (best === undefined || compareEntries(head, best.entry) < 0)) {
      best = { entry: head, type };
    }
  }
  return best;
}

/** Whether a ready-index entry matches its job's record (always, barring a bug). */
function isReadyEntry(job: Job, entry: IndexEntry): boolean {
  return (job.state === "ready" || job.state === "delayed") && entry.a === -job.priority &&
    entry.b === job.runAt;
}
