/**
 * The `push` operation: checks every job spec (cheaply: the schema has
 * validated at the edge), refuses a push whole that would take the queue
 * past its capacity limits, and adds the new jobs (a known idempotency key
 * returns the job that holds it instead).
 *
 * @module
 */
import { OverloadedError, ValidationError } from "../errors.ts";
import type { BackoffPolicy, Job, OperationResults, PushJob } from "../protocol/operations.ts";
import { type ApplyContext, type BatchUsage, jsonBytes } from "./apply_context.ts";
import { DEFAULT_BACKOFF, isDefaultBackoff } from "./backoff.ts";
import { checkParents, linkChild, waitForParents } from "./dependencies.ts";
import { DEFAULT_MAX_ATTEMPTS, DEFAULT_PRIORITY, isObject } from "./job_codec.ts";
import { formatJobId } from "./job_id.ts";
import type { StateDraft } from "./state_draft.ts";

/** Adds `jobs` to the queue, in order; all or none of them (every check runs before the first write). */
export function push(
  draft: StateDraft,
  jobs: readonly PushJob[],
  context: ApplyContext,
  usage: BatchUsage,
): OperationResults["push"] {
  if (!Array.isArray(jobs)) throw new ValidationError("push: jobs must be an array");
  jobs.forEach(checkPushJob);
  jobs.forEach((spec, i) => checkParents(draft, spec, i));
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
    const parents = spec.dependsOn === undefined
      ? []
      : waitForParents(draft, job, spec.dependsOn, out, now);
    draft.add(seq, job);
    if (parents.length > 0) linkChild(draft, id, parents);
    draft.count("pushed");
    if (job.state === "dead") draft.count("dead");
    out.push({ id, duplicate: false });
  }
  return { jobs: out };
}

/** Unfinished jobs held: ready (including promoted due ones), delayed and active. */
export function pendingJobs(draft: StateDraft): number {
  return draft.ready().size + draft.delayed().size + draft.active().size;
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
