/**
 * The queue's operations and their replies: the one vocabulary shared by the
 * pure state model, the broker actor, the wire protocol and the clients.
 * Parameters are validated with zod wherever they enter from outside.
 *
 * Pure module: no `Deno.*`, no `node:` imports.
 *
 * @module
 */
import { z } from "zod";
import { copyJsonValue, MAX_JSON_DEPTH } from "./json_value.ts";

/** Any JSON value (payloads and results). */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

/** How the delay before a retry grows. */
export interface BackoffPolicy {
  /** `exponential`: delay × 2^(attempt−1); `fixed`: the same delay each time. */
  type: "exponential" | "fixed";
  /** Base delay in milliseconds. */
  delayMs: number;
  /** Upper bound of the delay in milliseconds (default 1 hour). */
  maxDelayMs?: number;
  /** Fraction 0..1 of the delay that is randomised (default 0.2 for exponential, 0 for fixed). */
  jitter?: number;
}

/** What a producer sends to enqueue one job. */
export interface PushJob {
  /** The job's type, e.g. `email:send`; workers claim by type. 1–128 characters. */
  type: string;
  /** Any JSON value. */
  payload: JsonValue;
  /** Higher runs first (default 0). */
  priority?: number;
  /** Run no earlier than this many milliseconds from now. */
  delayMs?: number;
  /** Run no earlier than this epoch-milliseconds time (wins over `delayMs`). */
  runAt?: number;
  /** Attempts before the job is dead-lettered (default 3). */
  maxAttempts?: number;
  /** Retry delay policy (default exponential from 1 s). */
  backoff?: BackoffPolicy;
  /** A second push with the same key returns the first job's id while that job is known. */
  idempotencyKey?: string;
}

/** The lifecycle states a job can be in. */
export type JobState = "ready" | "delayed" | "active" | "completed" | "dead" | "cancelled";

/** A job's lease while it is active. */
export interface Lease {
  /** Who holds the job. */
  workerId: string;
  /** Secret the holder must present to heartbeat, complete, fail or release. */
  token: string;
  /** Epoch ms when the lease runs out unless heartbeated. */
  expiresAt: number;
}

/** The full record of a job as the state keeps it. */
export interface Job {
  /** Unique id, assigned by the broker. */
  id: string;
  /** The job's type. */
  type: string;
  /** The job's payload. */
  payload: JsonValue;
  /** Current lifecycle state. */
  state: JobState;
  /** Higher runs first. */
  priority: number;
  /** Epoch ms at which the job may run (for delayed jobs, and retries with backoff). */
  runAt: number;
  /** Attempts started so far (a claim starts one). */
  attempts: number;
  /** Attempts allowed before dead-lettering. */
  maxAttempts: number;
  /** Retry delay policy. */
  backoff: BackoffPolicy;
  /** The lease, while active. */
  lease?: Lease;
  /** Epoch ms when the job was pushed. */
  createdAt: number;
  /** Epoch ms of the last state change. */
  updatedAt: number;
  /** Idempotency key given at push, if any. */
  idempotencyKey?: string;
  /** The last failure's message, if any. */
  lastError?: string;
  /** The result given at completion, if any. */
  result?: JsonValue;
  /** Epoch ms when the job completed, died or was cancelled. */
  finishedAt?: number;
}

/**
 * A job's record as `get` returns it: the lease, when there is one, shows who
 * holds the job and until when, but never its token (only the holder, who got
 * it from its claim, may present it).
 */
export type JobView = Omit<Job, "lease"> & { lease?: Omit<Lease, "token"> };

/** A job as handed to a worker by a claim. */
export interface ClaimedJob {
  /** The job's id. */
  id: string;
  /** The job's type. */
  type: string;
  /** The job's payload. */
  payload: JsonValue;
  /** Which attempt this is, starting at 1. */
  attempt: number;
  /** Attempts allowed. */
  maxAttempts: number;
  /** The job's priority. */
  priority: number;
  /** Epoch ms when the job was pushed. */
  createdAt: number;
  /** Token to present with heartbeat, complete, fail and release. */
  leaseToken: string;
  /** Epoch ms when the lease runs out unless heartbeated. */
  leaseExpiresAt: number;
}

/** Counters since the queue was created. */
export interface QueueTotals {
  /** Jobs pushed (duplicates by idempotency key not counted). */
  pushed: number;
  /** Jobs completed. */
  completed: number;
  /** Failed attempts reported with `fail`. */
  failed: number;
  /** Failed attempts that were scheduled for a retry. */
  retried: number;
  /** Jobs dead-lettered (by `fail` or by an expired last attempt). */
  dead: number;
  /** Leases that ran out. */
  expired: number;
  /** Jobs cancelled. */
  cancelled: number;
}

/**
 * Capacity limits a broker enforces on `push` (both optional; absent = no
 * limit). A push that would go past one is refused whole with `overloaded`.
 */
export interface QueueLimits {
  /** Most unfinished jobs (ready + delayed + active) the queue holds. */
  maxPendingJobs?: number;
  /**
   * Most bytes the queue's state may hold: the size of the state as last
   * written, plus the payloads (and results) added since, as JSON.
   */
  maxStateBytes?: number;
}

/** The limits in force and how close the queue is to them, as `stats` reports them. */
export interface QueueLimitsStats extends QueueLimits {
  /** Unfinished jobs now (ready + delayed + active). */
  pendingJobs: number;
  /** The state's size in bytes as the broker counts it for `maxStateBytes`, when known. */
  stateBytes?: number;
}

/** Queue counters returned by `stats`. */
export interface QueueStats {
  /** Jobs ready to run now. */
  ready: number;
  /** Jobs waiting for their `runAt` (delays and retry backoff). */
  delayed: number;
  /** Jobs held by workers. */
  active: number;
  /** Finished jobs still in the state, waiting to be archived. */
  finishedPending: number;
  /** Totals since the queue was created. */
  totals: QueueTotals;
  /** Ready + delayed + active jobs by type. */
  byType: Record<string, number>;
  /** The leader's epoch. */
  epoch: number;
  /** The commit counter of the state. */
  commit: number;
  /** The capacity limits in force, when the broker has any (see {@linkcode QueueLimits}). */
  limits?: QueueLimitsStats;
}

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

/** Every operation a client may send. */
export type Operation =
  | PushOperation
  | ClaimOperation
  | HeartbeatOperation
  | CompleteOperation
  | FailOperation
  | ReleaseOperation
  | CancelOperation
  | GetOperation
  | StatsOperation
  | ListOperation
  | RetryOperation
  | DeleteOperation
  | PromoteOperation;

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
}

/** The reply type of operation `O`. */
export type OperationResult<O extends Operation> = OperationResults[O["op"]];

// ---------------------------------------------------------------------------
// Limits and schemas.

/** Limits applied to operations that enter from outside. */
export const LIMITS = {
  /** Longest job type. */
  maxTypeLength: 128,
  /** Largest payload, as JSON bytes. */
  maxPayloadBytes: 256 * 1024,
  /** Largest completion result, as JSON bytes. */
  maxResultBytes: 16 * 1024,
  /** Longest error message kept. */
  maxErrorLength: 4096,
  /** Most jobs in one push. */
  maxPushBatch: 1000,
  /** Most jobs in one claim. */
  maxClaimBatch: 1000,
  /** Longest lease. */
  maxLeaseMs: 24 * 3600_000,
  /** Longest long-poll wait. */
  maxWaitMs: 120_000,
  /** Longest id, worker id, token or idempotency key. */
  maxIdLength: 256,
  /** Deepest nesting of arrays and objects in a payload or result. */
  maxJsonDepth: MAX_JSON_DEPTH,
  /** Largest page of a `list`. */
  maxListLimit: 1000,
} as const;

const id = z.string().min(1).max(LIMITS.maxIdLength);

/**
 * A JSON value checked and copied without recursion (see `json_value.ts`): at
 * most {@linkcode MAX_JSON_DEPTH} deep and `maxBytes` long. A recursive schema
 * (`z.json()`) overflows the stack on a few KB of nested brackets.
 */
function jsonSchema(what: string, maxBytes: number): z.ZodType<JsonValue> {
  return z.unknown().transform((value, ctx) => {
    const copied = copyJsonValue(value, { maxBytes });
    if (copied.ok) return copied.value;
    ctx.issues.push({ code: "custom", message: `${what} ${copied.problem}`, input: value });
    return z.NEVER;
  }) as unknown as z.ZodType<JsonValue>;
}

const backoffSchema: z.ZodType<BackoffPolicy> = z.object({
  type: z.enum(["exponential", "fixed"]),
  delayMs: z.number().int().min(0).max(LIMITS.maxLeaseMs),
  maxDelayMs: z.number().int().min(0).max(30 * 24 * 3600_000).optional(),
  jitter: z.number().min(0).max(1).optional(),
});

const pushJobSchema: z.ZodType<PushJob> = z.object({
  type: z.string().min(1).max(LIMITS.maxTypeLength),
  payload: jsonSchema("payload", LIMITS.maxPayloadBytes),
  priority: z.number().int().min(-1_000_000).max(1_000_000).optional(),
  delayMs: z.number().int().min(0).optional(),
  runAt: z.number().int().min(0).optional(),
  maxAttempts: z.number().int().min(1).max(1000).optional(),
  backoff: backoffSchema.optional(),
  idempotencyKey: id.optional(),
});

/** Validates any {@linkcode Operation} (a discriminated union on `op`). */
export const operationSchema: z.ZodType<Operation> = z.discriminatedUnion("op", [
  z.object({
    op: z.literal("push"),
    jobs: z.array(pushJobSchema).min(1).max(LIMITS.maxPushBatch),
  }),
  z.object({
    op: z.literal("claim"),
    workerId: id,
    types: z.array(z.string().min(1).max(LIMITS.maxTypeLength)).max(100).optional(),
    max: z.number().int().min(1).max(LIMITS.maxClaimBatch).optional(),
    leaseMs: z.number().int().min(1).max(LIMITS.maxLeaseMs).optional(),
    waitMs: z.number().int().min(0).max(LIMITS.maxWaitMs).optional(),
  }),
  z.object({
    op: z.literal("heartbeat"),
    jobId: id,
    leaseToken: id,
    leaseMs: z.number().int().min(1).max(LIMITS.maxLeaseMs).optional(),
  }),
  z.object({
    op: z.literal("complete"),
    jobId: id,
    leaseToken: id,
    result: jsonSchema("result", LIMITS.maxResultBytes).optional(),
  }),
  z.object({
    op: z.literal("fail"),
    jobId: id,
    leaseToken: id,
    error: z.string().transform((s) => s.slice(0, LIMITS.maxErrorLength)),
    retry: z.boolean().optional(),
  }),
  z.object({ op: z.literal("release"), jobId: id, leaseToken: id }),
  z.object({ op: z.literal("cancel"), jobId: id }),
  z.object({ op: z.literal("get"), jobId: id }),
  z.object({ op: z.literal("stats") }),
  z.object({
    op: z.literal("list"),
    state: z.enum(["ready", "delayed", "active", "completed", "dead", "cancelled"]),
    type: z.string().min(1).max(LIMITS.maxTypeLength).optional(),
    cursor: id.optional(),
    limit: z.number().int().min(1).max(LIMITS.maxListLimit).optional(),
  }),
  z.object({
    op: z.literal("retry"),
    jobId: id.optional(),
    type: z.string().min(1).max(LIMITS.maxTypeLength).optional(),
  }).refine((o) => (o.jobId === undefined) !== (o.type === undefined), {
    message: "retry: give exactly one of jobId and type",
  }),
  z.object({ op: z.literal("delete"), jobId: id, force: z.boolean().optional() }),
  z.object({ op: z.literal("promote"), jobId: id }),
]) as z.ZodType<Operation>;
