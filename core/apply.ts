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
 * @module
 */
import {
  JobNotFoundError,
  LeaseLostError,
  OsqueueError,
  OverloadedError,
  ValidationError,
} from "../errors.ts";
import {
  type BackoffPolicy,
  type ClaimedJob,
  type ClaimOperation,
  type Job,
  type JobView,
  LIMITS,
  type Operation,
  type OperationResults,
  type PushJob,
  type QueueLimits,
} from "../protocol/operations.ts";
import { deleteJob, listPage, promoteJob, retryDead } from "./admin.ts";
import { backoffDelay, DEFAULT_BACKOFF, isDefaultBackoff } from "./backoff.ts";
import { DEFAULT_MAX_ATTEMPTS, DEFAULT_PRIORITY, isFinished, isObject } from "./job_codec.ts";
import { formatJobId, parseJobId } from "./job_id.ts";
import { compareEntries, type IndexEntry } from "./sorted_list.ts";
import { effectiveState, type QueueState, queueStats } from "./state.ts";
import { stateData } from "./state_data.ts";
import { type JobChange, StateDraft } from "./state_draft.ts";

export type { JobChange } from "./state_draft.ts";

/** Broker-internal: move every job whose lease ran out back to ready, or to dead after its last attempt. */
export interface ExpireOperation {
  /** The operation tag. */
  op: "expire";
}

/** Broker-internal: drop finished jobs that were archived (and free their idempotency keys). */
export interface ArchivedOperation {
  /** The operation tag. */
  op: "archived";
  /** Ids of archived jobs; ids of unknown or unfinished jobs are ignored. */
  ids: string[];
}

/** Every operation {@linkcode applyBatch} accepts: the clients' and the broker's own. */
export type BrokerOperation = Operation | ExpireOperation | ArchivedOperation;

/** The reply value of each {@linkcode BrokerOperation}, by `op`. */
export interface BrokerOperationResults extends OperationResults {
  /** How many leases ran out. */
  expire: { expired: number };
  /** How many jobs were dropped. */
  archived: { removed: number };
}

/** What {@linkcode applyBatch} needs from the outside world. */
export interface ApplyContext {
  /** The current time, epoch ms. */
  now: number;
  /** The lease duration when a claim or heartbeat gives none, ms. */
  defaultLeaseMs: number;
  /** A new unguessable lease token (the broker passes `crypto.randomUUID`). */
  newToken(): string;
  /** Uniform randomness in [0, 1), for backoff jitter. */
  random(): number;
  /** Capacity limits enforced on `push` (refused whole with `overloaded`); none when absent. */
  limits?: QueueLimits;
  /**
   * The state's size in bytes before this batch, as the broker measures it
   * (the size of the state it last wrote or read). `maxStateBytes` is checked
   * against this plus the JSON bytes of the payloads and results the batch
   * adds; without it only the batch's own additions count.
   */
  stateBytes?: number;
}

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

/** What the operations of one batch added so far, for the `maxStateBytes` check. */
interface BatchUsage {
  /** JSON bytes of the payloads and results added by this batch. */
  addedBytes: number;
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
    case "heartbeat": {
      const { seq, job, lease } = leased(draft, operation.jobId, operation.leaseToken);
      const expiresAt = context.now + leaseDuration(operation.leaseMs, context);
      draft.update(seq, job, { ...job, lease: { ...lease, expiresAt } });
      return { leaseExpiresAt: expiresAt } satisfies BrokerOperationResults["heartbeat"];
    }
    case "complete": {
      const { seq, job } = leased(draft, operation.jobId, operation.leaseToken);
      const next = finished(job, "completed", context.now);
      if (operation.result !== undefined) {
        next.result = operation.result;
        // Counted, never refused: refusing a completion would lose the work done.
        if (context.limits?.maxStateBytes !== undefined) usage.addedBytes += jsonBytes(next.result);
      }
      draft.update(seq, job, next);
      draft.count("completed");
      return { ok: true } satisfies BrokerOperationResults["complete"];
    }
    case "fail":
      return fail(draft, operation, context);
    case "release": {
      const { seq, job } = leased(draft, operation.jobId, operation.leaseToken);
      const next: Job = {
        ...withoutLease(job),
        state: "ready",
        attempts: Math.max(0, job.attempts - 1),
        updatedAt: context.now,
      };
      draft.update(seq, job, next);
      return { ok: true } satisfies BrokerOperationResults["release"];
    }
    case "cancel": {
      const { seq, job } = known(draft, operation.jobId);
      if (isFinished(job.state)) return { cancelled: false };
      draft.update(seq, job, finished(job, "cancelled", context.now));
      draft.count("cancelled");
      return { cancelled: true } satisfies BrokerOperationResults["cancel"];
    }
    case "get": {
      // Never the lease token: whoever asks is not necessarily the holder.
      const { job } = known(draft, operation.jobId);
      const { lease, ...record } = job;
      const view: JobView = { ...record, state: effectiveState(job, context.now) };
      if (lease !== undefined) {
        view.lease = { workerId: lease.workerId, expiresAt: lease.expiresAt };
      }
      return { job: view } satisfies BrokerOperationResults["get"];
    }
    case "stats": {
      const stats = queueStats(draft.snapshot(), context.now);
      if (context.limits !== undefined) {
        stats.limits = { ...context.limits, pendingJobs: pendingJobs(draft) };
        if (context.stateBytes !== undefined) {
          stats.limits.stateBytes = context.stateBytes + usage.addedBytes;
        }
      }
      return stats satisfies BrokerOperationResults["stats"];
    }
    case "list":
      return listPage(draft, operation, context.now);
    case "retry":
      return retryDead(draft, operation, context.now);
    case "delete":
      return deleteJob(draft, operation);
    case "promote":
      return promoteJob(draft, operation, context.now);
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

// ---------------------------------------------------------------------------
// push

function push(
  draft: StateDraft,
  jobs: readonly PushJob[],
  context: ApplyContext,
  usage: BatchUsage,
): BrokerOperationResults["push"] {
  if (!Array.isArray(jobs)) throw new ValidationError("push: jobs must be an array");
  jobs.forEach(checkPushJob);
  if (context.limits !== undefined) checkLimits(draft, jobs, context, usage);
  const now = context.now;
  const out: { id: string; duplicate: boolean }[] = [];
  for (const spec of jobs) {
    const key = spec.idempotencyKey;
    if (key !== undefined) {
      const owner = draft.keyOwner(key);
      const existing = owner === undefined ? undefined : draft.job(owner);
      if (existing !== undefined) {
        out.push({ id: existing.id, duplicate: true });
        continue;
      }
    }
    const seq = draft.nextSeq();
    const id = formatJobId(seq);
    const runAt = spec.runAt ?? now + (spec.delayMs ?? 0);
    const job: Job = {
      id,
      type: spec.type,
      payload: spec.payload ?? null,
      state: runAt > now ? "delayed" : "ready",
      priority: spec.priority ?? DEFAULT_PRIORITY,
      runAt,
      attempts: 0,
      maxAttempts: spec.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      backoff: normalizeBackoff(spec.backoff),
      createdAt: now,
      updatedAt: now,
    };
    if (key !== undefined) job.idempotencyKey = key;
    draft.add(seq, job);
    draft.count("pushed");
    out.push({ id, duplicate: false });
  }
  return { jobs: out };
}

/** Unfinished jobs held: ready (including promoted due ones), delayed and active. */
function pendingJobs(draft: StateDraft): number {
  return draft.ready().size + draft.delayed().size + draft.active().size;
}

const utf8 = new TextEncoder();

/** A JSON value's size as UTF-8 JSON (bounded depth: checked at the edge). */
function jsonBytes(value: unknown): number {
  return utf8.encode(JSON.stringify(value ?? null)).length;
}

/**
 * Refuses a push (whole, before any write) that would take the queue past
 * `context.limits`, with an `overloaded` error naming the limit. Counts only
 * the jobs the push would add (not duplicates of held idempotency keys), and
 * on success adds their payload bytes to the batch's usage.
 */
function checkLimits(
  draft: StateDraft,
  jobs: readonly PushJob[],
  context: ApplyContext,
  usage: BatchUsage,
): void {
  const { maxPendingJobs, maxStateBytes } = context.limits!;
  const keys = new Set<string>();
  let added = 0;
  let bytes = 0;
  for (const spec of jobs) {
    const key = spec.idempotencyKey;
    if (key !== undefined) {
      if (keys.has(key)) continue;
      keys.add(key);
      const owner = draft.keyOwner(key);
      if (owner !== undefined && draft.job(owner) !== undefined) continue;
    }
    added++;
    if (maxStateBytes !== undefined) bytes += jsonBytes(spec.payload);
  }
  if (added === 0) return;
  if (maxPendingJobs !== undefined) {
    const pending = pendingJobs(draft);
    if (pending + added > maxPendingJobs) {
      throw new OverloadedError(
        `queue full: ${pending} jobs pending, the limit is ${maxPendingJobs} (maxPendingJobs); this push of ${added} was refused, retry once workers have caught up`,
        { data: { limit: "maxPendingJobs", max: maxPendingJobs, current: pending, adding: added } },
      );
    }
  }
  if (maxStateBytes !== undefined) {
    const current = (context.stateBytes ?? 0) + usage.addedBytes;
    if (current + bytes > maxStateBytes) {
      throw new OverloadedError(
        `queue full: the state holds ${current} bytes, the limit is ${maxStateBytes} (maxStateBytes); this push adds ${bytes} bytes of payload and was refused, retry once finished jobs were archived`,
        { data: { limit: "maxStateBytes", max: maxStateBytes, current, adding: bytes } },
      );
    }
    usage.addedBytes += bytes;
  }
}

/** Cheap sanity checks (the schema has validated at the edge); throws a ValidationError. */
function checkPushJob(spec: PushJob, index: number): void {
  const bad = (what: string): never => {
    throw new ValidationError(`push: jobs[${index}]: ${what}`);
  };
  if (!isObject(spec)) bad("not an object");
  if (typeof spec.type !== "string" || spec.type === "") bad("type must be a non-empty string");
  if (spec.priority !== undefined && !Number.isSafeInteger(spec.priority)) {
    bad("priority must be an integer");
  }
  if (spec.delayMs !== undefined && !(Number.isFinite(spec.delayMs) && spec.delayMs >= 0)) {
    bad("delayMs must be a number >= 0");
  }
  if (spec.runAt !== undefined && !(Number.isFinite(spec.runAt) && spec.runAt >= 0)) {
    bad("runAt must be a number >= 0");
  }
  if (
    spec.maxAttempts !== undefined &&
    !(Number.isSafeInteger(spec.maxAttempts) && spec.maxAttempts >= 1)
  ) {
    bad("maxAttempts must be an integer >= 1");
  }
  const backoff = spec.backoff;
  if (
    backoff !== undefined &&
    !(isObject(backoff) && (backoff.type === "exponential" || backoff.type === "fixed") &&
      Number.isFinite(backoff.delayMs) && backoff.delayMs >= 0)
  ) {
    bad("backoff must be {type: exponential|fixed, delayMs >= 0, …}");
  }
  if (spec.idempotencyKey !== undefined && typeof spec.idempotencyKey !== "string") {
    bad("idempotencyKey must be a string");
  }
}

/** The policy to store: the shared default when it says the same, else a clean copy. */
function normalizeBackoff(policy: BackoffPolicy | undefined): BackoffPolicy {
  if (policy === undefined || isDefaultBackoff(policy)) return DEFAULT_BACKOFF;
  const out: BackoffPolicy = { type: policy.type, delayMs: policy.delayMs };
  if (policy.maxDelayMs !== undefined) out.maxDelayMs = policy.maxDelayMs;
  if (policy.jitter !== undefined) out.jitter = policy.jitter;
  return out;
}

// ---------------------------------------------------------------------------
// claim

function claim(
  draft: StateDraft,
  operation: ClaimOperation,
  context: ApplyContext,
): BrokerOperationResults["claim"] {
  const now = context.now;
  const max = operation.max === undefined || !(operation.max >= 1)
    ? 1
    : Math.min(Math.floor(operation.max), Number.MAX_SAFE_INTEGER);
  const types = operation.types === undefined || operation.types.length === 0
    ? undefined
    : [...new Set(operation.types)];
  const expiresAt = now + leaseDuration(operation.leaseMs, context);
  draft.promoteDue(now);
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
  return { jobs: out };
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

function leaseDuration(leaseMs: number | undefined, context: ApplyContext): number {
  return leaseMs !== undefined && Number.isFinite(leaseMs) && leaseMs > 0
    ? leaseMs
    : context.defaultLeaseMs;
}

// ---------------------------------------------------------------------------
// fail, expire, archived

function fail(
  draft: StateDraft,
  operation: Extract<Operation, { op: "fail" }>,
  context: ApplyContext,
): BrokerOperationResults["fail"] {
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
  draft.update(seq, job, { ...finished(job, "dead", now), lastError });
  draft.count("failed");
  draft.count("dead");
  return { state: "dead" };
}

function expire(draft: StateDraft, now: number): BrokerOperationResults["expire"] {
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
      draft.update(entry.seq, job, { ...finished(job, "dead", now), lastError });
      draft.count("dead");
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

function archived(draft: StateDraft, ids: readonly string[]): BrokerOperationResults["archived"] {
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

// ---------------------------------------------------------------------------
// helpers

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

/** The job `id` if `token` is its current lease; else JobNotFoundError or LeaseLostError saying why. */
function leased(
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

function withoutLease(job: Job): Job {
  if (job.lease === undefined) return job;
  const { lease: _lease, ...rest } = job;
  return rest;
}

function finished(job: Job, state: "completed" | "dead" | "cancelled", now: number): Job {
  return { ...withoutLease(job), state, finishedAt: now, updatedAt: now };
}

function asOsqueueError(error: unknown, operation: unknown): OsqueueError {
  if (error instanceof OsqueueError) return error;
  const op = isObject(operation) ? String(operation.op) : "operation";
  const message = error instanceof Error ? error.message : String(error);
  return new OsqueueError("internal", `internal error applying ${op}: ${message}`, {
    cause: error,
  });
}
