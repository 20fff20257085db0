/**
 * The queue's operations and their replies: the one vocabulary shared by the
 * pure state model, the broker actor, the wire protocol and the clients.
 * Parameters are validated with zod wherever they enter from outside (the
 * schemas are in `operation_schema.ts`, kept out of this module so that
 * clients do not load zod; the bounds in `limits.ts`); the job
 * and stats types live in `job.ts` and `queue_stats.ts` and are re-exported
 * here.
 *
 * Pure module: no `Deno.*`, no `node:` imports.
 *
 * @module
 */
import type { ClaimedJob, JobState, JobView, JsonValue, PushJob } from "./job.ts";
import type { QueueStats, TypeLimit } from "./queue_stats.ts";

export type {
  BackoffPolicy,
  ClaimedJob,
  Job,
  JobState,
  JobView,
  JsonValue,
  Lease,
  PushJob,
} from "./job.ts";
export type {
  QueueLimits,
  QueueLimitsStats,
  QueueStats,
  QueueTotals,
  TypeLimit,
  TypeLimitStats,
} from "./queue_stats.ts";
export { LIMITS } from "./limits.ts";

// ---------------------------------------------------------------------------
// Operations. Each has an `op` tag; `OperationResult<O>` maps it to its reply.

/** Enqueue one or more jobs. */
export interface PushOperation {
  /** The operation tag. */
  op: "push";
  /** The jobs to enqueue, in order. */
  jobs: PushJob[];
}
/** Lease up to `max` ready jobs (highest priority first, then FIFO). */
export interface ClaimOperation {
  /** The operation tag. */
  op: "claim";
  /** The lease holder: who claims. */
  workerId: string;
  /** Only these types; all types when absent or empty. */
  types?: string[];
  /** At most this many jobs (default 1). */
  max?: number;
  /** Lease duration in ms (default: the broker's heartbeat timeout). */
  leaseMs?: number;
  /** Long-poll: wait up to this many ms for a job when none is ready (broker-level, default 0). */
  waitMs?: number;
}
/** Extend a lease. */
export interface HeartbeatOperation {
  /** The operation tag. */
  op: "heartbeat";
  /** The job concerned. */
  jobId: string;
  /** The token of the lease being presented. */
  leaseToken: string;
  /** New lease duration from now, in ms (default: the broker's heartbeat timeout). */
  leaseMs?: number;
}
/** Finish a job successfully. */
export interface CompleteOperation {
  /** The operation tag. */
  op: "complete";
  /** The job concerned. */
  jobId: string;
  /** The token of the lease being presented. */
  leaseToken: string;
  /** A small JSON result kept with the job. */
  result?: JsonValue;
}
/** Report a failed attempt: retry with backoff, or dead-letter. */
export interface FailOperation {
  /** The operation tag. */
  op: "fail";
  /** The job concerned. */
  jobId: string;
  /** The token of the lease being presented. */
  leaseToken: string;
  /** What went wrong (truncated to 4096 characters). */
  error: string;
  /** `false` dead-letters at once, whatever attempts remain (default true). */
  retry?: boolean;
}
/** Report a running job's progress (stored on the job, shown by `get`). */
export interface ProgressOperation {
  /** The operation tag. */
  op: "progress";
  /** The job concerned. */
  jobId: string;
  /** The token of the lease being presented. */
  leaseToken: string;
  /** Any small JSON value (at most 1 KB), e.g. a percentage or `{done, total}`. */
  value: JsonValue;
}
/** Give a job back unstarted: ready again at once, the attempt not counted. */
export interface ReleaseOperation {
  /** The operation tag. */
  op: "release";
  /** The job concerned. */
  jobId: string;
  /** The token of the lease being presented. */
  leaseToken: string;
}
/** Cancel a ready, delayed or active job (an active job's lease becomes stale). */
export interface CancelOperation {
  /** The operation tag. */
  op: "cancel";
  /** The job concerned. */
  jobId: string;
}
/** Read a job's record. */
export interface GetOperation {
  /** The operation tag. */
  op: "get";
  /** The job concerned. */
  jobId: string;
}
/** Read the queue's counters. */
export interface StatsOperation {
  /** The operation tag. */
  op: "stats";
}

/** List jobs in one state, newest first, a page at a time (operators; costs a scan of the state). */
export interface ListOperation {
  /** The operation tag. */
  op: "list";
  /** Which jobs: a due delayed job lists as `ready`. Finished jobs are only those not yet archived. */
  state: JobState;
  /** Only this type. */
  type?: string;
  /** The `next` of the previous page: list jobs older than it. */
  cursor?: string;
  /** Page size (default 50, at most 1000). */
  limit?: number;
}
/** Put a dead job (or every dead job of a type) back to ready, its attempts reset. */
export interface RetryOperation {
  /** The operation tag. */
  op: "retry";
  /** The dead job to retry (give this or `type`). */
  jobId?: string;
  /** Retry every dead job of this type still in the state (give this or `jobId`). */
  type?: string;
}
/** Remove a job from the queue for good (not archived). */
export interface DeleteOperation {
  /** The operation tag. */
  op: "delete";
  /** The job concerned. */
  jobId: string;
  /** Also delete an active job (its holder's lease becomes stale). */
  force?: boolean;
}
/** Make a delayed job ready now. */
export interface PromoteOperation {
  /** The operation tag. */
  op: "promote";
  /** The job concerned. */
  jobId: string;
}

/** Stop handing out jobs of these types (pushes are still accepted; claims get none of them). */
export interface PauseOperation {
  /** The operation tag. */
  op: "pause";
  /** The types to pause. */
  types: string[];
}
/** Hand out jobs of these types again. */
export interface ResumeOperation {
  /** The operation tag. */
  op: "resume";
  /** The types to resume. */
  types: string[];
}
/** Set (or, giving no limit, remove) a type's rate and concurrency limits. */
export interface LimitOperation extends TypeLimit {
  /** The operation tag. */
  op: "limit";
  /** The type concerned. */
  type: string;
}

/** What to do with runs missed while no broker ran: see `core/schedules.ts`. */
export type MissedRuns = "skip" | "runOnce" | "catchUp";

/** Create or replace a named schedule that pushes `job` at each due time. */
export interface ScheduleOperation {
  /** The operation tag. */
  op: "schedule";
  /** The schedule's name (unique in the queue). */
  name: string;
  /** A cron expression (5 fields, or 6 with seconds), evaluated in `timezone`. Give this or `everyMs`. */
  cron?: string;
  /** Or: run every this many ms (at least 1000), from the time the schedule is set. */
  everyMs?: number;
  /** IANA time zone of `cron` (default UTC). */
  timezone?: string;
  /** The job pushed at each run (no `dependsOn`, `delayMs` or `runAt`). */
  job: PushJob;
  /** Runs missed while no broker ran: `skip` (default), `runOnce` or `catchUp`. */
  missed?: MissedRuns;
  /** With `catchUp`: at most this many missed runs pushed at once (default 100, the latest). */
  maxCatchUp?: number;
}
/** Remove a schedule. */
export interface UnscheduleOperation {
  /** The operation tag. */
  op: "unschedule";
  /** The schedule's name. */
  name: string;
}
/** List the schedules. */
export interface SchedulesOperation {
  /** The operation tag. */
  op: "schedules";
}

/** A schedule as stored and listed. */
export interface ScheduleView extends Omit<ScheduleOperation, "op"> {
  /** When it runs next, epoch ms (absent when a cron expression never runs again). */
  nextRunAt?: number;
  /** The due time of the last run pushed, epoch ms. */
  lastRunAt?: number;
  /** Why the last runs could not be pushed (e.g. the queue was full), if they could not. */
  lastError?: string;
}

/** Every operation a client may send. */
export type Operation =
  | PushOperation
  | ClaimOperation
  | HeartbeatOperation
  | CompleteOperation
  | FailOperation
  | ReleaseOperation
  | ProgressOperation
  | CancelOperation
  | GetOperation
  | StatsOperation
  | ListOperation
  | RetryOperation
  | DeleteOperation
  | PromoteOperation
  | PauseOperation
  | ResumeOperation
  | LimitOperation
  | ScheduleOperation
  | UnscheduleOperation
  | SchedulesOperation;

/** The reply to one operation. */
export interface OperationResults {
  /** One entry per pushed job, in order; `duplicate` when the idempotency key was known. */
  push: { jobs: { id: string; duplicate: boolean }[] };
  /** The claimed jobs, possibly none. */
  claim: { jobs: ClaimedJob[] };
  /** When the extended lease runs out, epoch ms. */
  heartbeat: { leaseExpiresAt: number };
  /** Acknowledged. */
  complete: { ok: true };
  /** Where the job went: retry (`ready` / `delayed` at `runAt`) or `dead`. */
  fail: { state: "ready" | "delayed" | "dead"; runAt?: number };
  /** Acknowledged. */
  release: { ok: true };
  /** Acknowledged. */
  progress: { ok: true };
  /** Whether the job was cancelled (false when it had already finished). */
  cancel: { cancelled: boolean };
  /** The job without its lease token; `archived` when it had left the state and was read back from the archive. */
  get: { job: JobView; archived?: boolean };
  /** The queue's counters. */
  stats: QueueStats;
  /** One page of jobs, newest first; `total` matching jobs; `next` is the cursor of the next page. */
  list: { jobs: JobView[]; total: number; next?: string };
  /** The ids of the jobs put back to ready. */
  retry: { retried: string[] };
  /** Acknowledged. */
  delete: { deleted: true };
  /** Whether the job moved (false when it was ready already). */
  promote: { promoted: boolean };
  /** Every paused type, sorted. */
  pause: { paused: string[] };
  /** Every paused type, sorted. */
  resume: { paused: string[] };
  /** Every type's limits. */
  limit: { limits: Record<string, TypeLimit> };
  /** The schedule as stored, with its next run time. */
  schedule: { schedule: ScheduleView };
  /** Whether a schedule of that name was removed, and the schedule as it was. */
  unschedule: { removed: boolean; schedule?: ScheduleView };
  /** Every schedule, by name. */
  schedules: { schedules: ScheduleView[] };
}

/** The reply type of operation `O`. */
export type OperationResult<O extends Operation> = OperationResults[O["op"]];
