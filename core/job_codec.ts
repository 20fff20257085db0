/**
 * The stored form of a job inside the state JSON: the protocol `Job` record
 * minus the fields that hold their default (priority 0, no attempts yet,
 * 3 max attempts, the default backoff, `runAt`/`updatedAt` equal to
 * `createdAt`), with the payload last. Leaving defaults out makes the state
 * that every commit writes about a quarter smaller.
 *
 * @module
 */
import { InvalidError } from "../errors.ts";
import type { BackoffPolicy, Job, JobState, JsonValue, Lease } from "../protocol/operations.ts";
import { DEFAULT_BACKOFF, isDefaultBackoff } from "./backoff.ts";

/** The priority of a job pushed without one. */
export const DEFAULT_PRIORITY = 0;
/** The attempts allowed to a job pushed without `maxAttempts`. */
export const DEFAULT_MAX_ATTEMPTS = 3;

const encoder = new TextEncoder();

/** The job's stored form (a plain object ready for `JSON.stringify`). */
export function storedJob(job: Job): Record<string, unknown> {
  const out: Record<string, unknown> = { id: job.id, type: job.type, state: job.state };
  if (job.priority !== DEFAULT_PRIORITY) out.priority = job.priority;
  if (job.runAt !== job.createdAt) out.runAt = job.runAt;
  if (job.attempts !== 0) out.attempts = job.attempts;
  if (job.maxAttempts !== DEFAULT_MAX_ATTEMPTS) out.maxAttempts = job.maxAttempts;
  if (!isDefaultBackoff(job.backoff)) out.backoff = job.backoff;
  out.createdAt = job.createdAt;
  if (job.updatedAt !== job.createdAt) out.updatedAt = job.updatedAt;
  if (job.idempotencyKey !== undefined) out.idempotencyKey = job.idempotencyKey;
  if (job.lease !== undefined) out.lease = job.lease;
  if (job.lastError !== undefined) out.lastError = job.lastError;
  if (job.finishedAt !== undefined) out.finishedAt = job.finishedAt;
  if (job.result !== undefined) out.result = job.result;
  if (job.progress !== undefined) out.progress = job.progress;
  if (job.dependsOn !== undefined) out.dependsOn = job.dependsOn;
  if (job.children !== undefined) out.children = job.children;
  out.payload = job.payload;
  return out;
}

/** The stored forms of `jobs` as comma-separated JSON values (no brackets), UTF-8 encoded. */
export function encodeStoredJobs(jobs: readonly Job[]): Uint8Array {
  const json = JSON.stringify(jobs.map(storedJob));
  return encoder.encode(json.slice(1, -1));
}

const STATES: ReadonlySet<string> = new Set<JobState>([
  "ready",
  "delayed",
  "active",
  "completed",
  "dead",
  "cancelled",
]);

/** Whether a job in state `state` is finished (completed, dead or cancelled). */
export function isFinished(state: JobState): boolean {
  return state === "completed" || state === "dead" || state === "cancelled";
}

/**
 * Rebuilds a `Job` from its stored form, checking every field; throws an
 * {@linkcode InvalidError} naming `where` and the bad field.
 */
export function restoreJob(raw: unknown, where: string): Job {
  const fail = (message: string): never => {
    throw new InvalidError(`invalid state: ${where}: ${message}`);
  };
  if (!isObject(raw)) return fail("not an object");
  const id = raw.id;
  if (typeof id !== "string" || id === "") return fail("id must be a non-empty string");
  const at = (field: string): never => fail(`job ${id}: bad ${field}`);
  const type = raw.type;
  if (typeof type !== "string" || type === "") return at("type");
  const state = raw.state;
  if (typeof state !== "string" || !STATES.has(state)) return at("state");
  if (!("payload" in raw)) return at("payload (missing)");
  const createdAt = raw.createdAt;
  if (!isTime(createdAt)) return at("createdAt");
  const priority = raw.priority ?? DEFAULT_PRIORITY;
  if (!Number.isSafeInteger(priority)) return at("priority");
  const runAt = raw.runAt ?? createdAt;
  if (!isTime(runAt)) return at("runAt");
  const attempts = raw.attempts ?? 0;
  if (!isCount(attempts)) return at("attempts");
  const maxAttempts = raw.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  if (!isCount(maxAttempts) || maxAttempts < 1) return at("maxAttempts");
  const backoff = raw.backoff === undefined ? DEFAULT_BACKOFF : restoreBackoff(raw.backoff);
  if (backoff === undefined) return at("backoff");
  const updatedAt = raw.updatedAt ?? createdAt;
  if (!isTime(updatedAt)) return at("updatedAt");

  const job: Job = {
    id,
    type,
    payload: raw.payload as JsonValue,
    state: state as JobState,
    priority: priority as number,
    runAt,
    attempts,
    maxAttempts,
    backoff,
    createdAt,
    updatedAt,
  };
  if (raw.idempotencyKey !== undefined) {
    if (typeof raw.idempotencyKey !== "string") return at("idempotencyKey");
    job.idempotencyKey = raw.idempotencyKey;
  }
  if (state === "active") {
    const lease = restoreLease(raw.lease);
    if (lease === undefined) return at("lease (an active job needs {workerId, token, expiresAt})");
    job.lease = lease;
  } else if (raw.lease !== undefined) {
    return at(`lease (only an active job has one, this one is ${state})`);
  }
  if (raw.lastError !== undefined) {
    if (typeof raw.lastError !== "string") return at("lastError");
    job.lastError = raw.lastError;
  }
  if (isFinished(state as JobState)) {
    if (!isTime(raw.finishedAt)) return at(`finishedAt (a ${state} job needs one)`);
    job.finishedAt = raw.finishedAt;
  } else if (raw.finishedAt !== undefined) {
    return at(`finishedAt (a ${state} job is not finished)`);
  }
  if (raw.result !== undefined) job.result = raw.result as JsonValue;
  if (raw.progress !== undefined) job.progress = raw.progress as JsonValue;
  for (const field of ["dependsOn", "children"] as const) {
    const ids = raw[field];
    if (ids === undefined) continue;
    if (!Array.isArray(ids) || !ids.every((x) => typeof x === "string")) return at(field);
    job[field] = ids as string[];
  }
  return job;
}

function restoreBackoff(raw: unknown): BackoffPolicy | undefined {
  if (!isObject(raw)) return undefined;
  if (raw.type !== "exponential" && raw.type !== "fixed") return undefined;
  if (!isCount(raw.delayMs)) return undefined;
  const policy: BackoffPolicy = { type: raw.type, delayMs: raw.delayMs };
  if (raw.maxDelayMs !== undefined) {
    if (!isCount(raw.maxDelayMs)) return undefined;
    policy.maxDelayMs = raw.maxDelayMs;
  }
  if (raw.jitter !== undefined) {
    if (typeof raw.jitter !== "number" || !(raw.jitter >= 0 && raw.jitter <= 1)) return undefined;
    policy.jitter = raw.jitter;
  }
  return isDefaultBackoff(policy) ? DEFAULT_BACKOFF : policy;
}

function restoreLease(raw: unknown): Lease | undefined {
  if (!isObject(raw)) return undefined;
  const { workerId, token, expiresAt } = raw;
  if (typeof workerId !== "string" || typeof token !== "string" || !isTime(expiresAt)) {
    return undefined;
  }
  return { workerId, token, expiresAt };
}

/** Whether `value` is a plain (non-array) object. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isTime(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

/** Whether `value` is a non-negative safe integer. */
export function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/**
 * The part of a job that operations change after its push: its lifecycle
 * state, timing, attempts, lease, last error, result. A log record carries
 * only this for a job it updates, so a heartbeat never rewrites a payload.
 */
export interface JobStatus {
  /** The job's id. */
  id: string;
  /** Lifecycle state. */
  state: JobState;
  /** Epoch ms at which the job may run. */
  runAt: number;
  /** Attempts started so far. */
  attempts: number;
  /** Epoch ms of the last state change. */
  updatedAt: number;
  /** The lease, while active. */
  lease?: Lease;
  /** The last failure's message. */
  lastError?: string;
  /** The result given at completion. */
  result?: JsonValue;
  /** The last progress its handler reported. */
  progress?: JsonValue;
  /** When the job finished. */
  finishedAt?: number;
}

/** Whether `next` differs from `previous` only in {@linkcode JobStatus} fields. */
export function onlyStatusChanged(previous: Job, next: Job): boolean {
  return previous.id === next.id && previous.type === next.type &&
    previous.payload === next.payload && previous.priority === next.priority &&
    previous.maxAttempts === next.maxAttempts && previous.backoff === next.backoff &&
    previous.createdAt === next.createdAt && previous.idempotencyKey === next.idempotencyKey &&
    previous.dependsOn === next.dependsOn && previous.children === next.children;
}

const STATUS_FIELDS = [
  "state",
  "runAt",
  "attempts",
  "updatedAt",
  "lease",
  "lastError",
  "finishedAt",
  "result",
  "progress",
] as const;

/**
 * The stored form of how a job's status changed from `previous` to `job`
 * (see {@linkcode JobStatus}): its id, the status fields that differ, and
 * the names of the fields that went away under `unset`. Ready for `JSON.stringify`.
 */
export function storedStatus(previous: Job, job: Job): Record<string, unknown> {
  const out: Record<string, unknown> = { id: job.id };
  const unset: string[] = [];
  for (const field of STATUS_FIELDS) {
    const before = previous[field];
    const after = job[field];
    if (before === after) continue;
    if (field === "lease" && before !== undefined && after !== undefined) {
      const [x, y] = [before as Lease, after as Lease];
      if (x.token === y.token && x.workerId === y.workerId && x.expiresAt === y.expiresAt) continue;
    }
    if (after === undefined) unset.push(field);
    else out[field] = after;
  }
  if (unset.length > 0) out.unset = unset;
  return out;
}

/**
 * `previous` with the status changes of a stored status record applied
 * (fields named in `unset` are removed); checks the result like {@linkcode restoreJob}
 * and throws an {@linkcode InvalidError} naming `where`.
 */
export function restoreStatus(raw: unknown, previous: Job, where: string): Job {
  if (!isObject(raw)) throw new InvalidError(`invalid state: ${where}: not an object`);
  const merged: Record<string, unknown> = { ...previous };
  const unset = raw.unset ?? [];
  if (!Array.isArray(unset)) throw new InvalidError(`invalid state: ${where}: bad unset`);
  for (const field of STATUS_FIELDS) {
    if (unset.includes(field)) delete merged[field];
    else if (field in raw) merged[field] = raw[field];
  }
  return restoreJob(storedForm(merged as unknown as Job), where);
}

/** The stored form of a full record (no defaults dropped: `restoreJob` reads both). */
function storedForm(job: Job): Record<string, unknown> {
  return { ...job };
}
