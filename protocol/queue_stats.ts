/**
 * The queue's counters, capacity limits and per-type claim limits, as `stats`
 * reports them. Pure module: no `Deno.*`, no `node:` imports.
 *
 * @module
 */

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
  /** Types whose claims are paused (present when any type is paused or limited). */
  paused?: string[];
  /** Per-type rate and concurrency limits and their usage (present when any type is paused or limited). */
  typeLimits?: Record<string, TypeLimitStats>;
}

/** A type's claim limits, enforced by the broker when jobs are claimed. */
export interface TypeLimit {
  /** At most this many jobs of the type started per window. */
  maxPerWindow?: number;
  /** The window of `maxPerWindow`, ms (default 1000); windows are aligned on the epoch. */
  windowMs?: number;
  /** At most this many jobs of the type active at once, across all workers. */
  maxActive?: number;
}

/** A type's limits and their usage now, as `stats` reports them. */
export interface TypeLimitStats extends TypeLimit {
  /** Jobs of the type active now. */
  active: number;
  /** Jobs of the type started in the current window (with `maxPerWindow`). */
  startedInWindow?: number;
  /** When the current window ends, epoch ms (with `maxPerWindow`). */
  windowEndsAt?: number;
}
