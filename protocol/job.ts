/**
 * A job as producers push it, as the state keeps it, and as workers claim it;
 * and the JSON values it carries. Pure module: no `Deno.*`, no `node:` imports.
 *
 * @module
 */

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
  /**
   * Parents: the job waits until every one of them completed (a parent that
   * dies, is cancelled or deleted kills it). Each entry is a job id held in
   * the state, or the index of an earlier job of the same push (a flow).
   */
  dependsOn?: (string | number)[];
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
  /** The last progress its handler reported (any small JSON value, e.g. a percentage). */
  progress?: JsonValue;
  /** The parents the job waited for when pushed (it runs once all completed). */
  dependsOn?: string[];
  /** The jobs waiting for this one (pushed with it in their `dependsOn`). */
  children?: string[];
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
