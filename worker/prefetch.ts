/**
 * {@linkcode Prefetch}: jobs a {@linkcode Worker} holds beyond its running
 * handlers, delivered ahead so that a freed handler slot starts the next job
 * at once instead of waiting a commit for it.
 *
 * Held jobs are leased but not heartbeated, so a job is held at most
 * `holdMs`, and never longer than a third of the lease it came with; one
 * held longer goes back to the queue, where an idle worker can take it.
 * Prefetch suits short jobs: it is used while handlers take less than
 * `maxMeanJobMs` on average (a moving average), and stops after a hold ran
 * out until handlers are short again.
 *
 * @module
 */
import type { ClaimedJob } from "../protocol/operations.ts";
import type { Timers } from "./client_options.ts";

/** Default of {@linkcode PrefetchOptions.holdMs}. */
export const DEFAULT_PREFETCH_HOLD_MS = 1_000;

/** Default of {@linkcode PrefetchOptions.maxMeanJobMs}. */
export const DEFAULT_PREFETCH_MAX_MEAN_JOB_MS = 100;

/** Weight of the newest handler duration in the moving average. */
const AVERAGE_WEIGHT = 0.2;

/** Options of {@linkcode Prefetch}. */
export interface PrefetchOptions {
  /** The most jobs held (0: no prefetch). */
  limit: number;
  /** The longest a job is held, ms. */
  holdMs?: number;
  /** Prefetch is used while handlers take less than this on average, ms. */
  maxMeanJobMs?: number;
  /** Current time, epoch ms (compared with the jobs' `leaseExpiresAt`). */
  clock: () => number;
  /** Timers for the holds. */
  timers: Timers;
  /** A hold ran out: call {@linkcode Prefetch.expired} (from the owner's own loop). */
  onHoldRanOut: () => void;
}

interface Held {
  job: ClaimedJob;
  until: number;
}

/** The held jobs of one worker, oldest first, and whether to ask for more. */
export class Prefetch {
  readonly #limit: number;
  readonly #holdMs: number;
  readonly #maxMeanJobMs: number;
  readonly #clock: () => number;
  readonly #timers: Timers;
  readonly #onHoldRanOut: () => void;
  #timer: unknown;
  /** When the set timer fires, epoch ms. */
  #timerAt = Infinity;
  #held: Held[] = [];
  #meanJobMs = 0;
  #on: boolean;

  /** Holds nothing yet; prefetch starts on (when `limit` > 0). */
  constructor(options: PrefetchOptions) {
    this.#limit = Math.max(0, Math.floor(options.limit));
    this.#holdMs = options.holdMs ?? DEFAULT_PREFETCH_HOLD_MS;
    this.#maxMeanJobMs = options.maxMeanJobMs ?? DEFAULT_PREFETCH_MAX_MEAN_JOB_MS;
    this.#clock = options.clock;
    this.#timers = options.timers;
    this.#onHoldRanOut = options.onHoldRanOut;
    this.#on = this.#limit > 0;
  }

  /** How many jobs are held. */
  get size(): number {
    return this.#held.length;
  }

  /** Jobs to have delivered beyond the running ones now: the limit while prefetch is on, else 0. */
  get extra(): number {
    return this.#on ? this.#limit : 0;
  }

  /** Holds `job` until a slot frees; false when the limit is reached. */
  hold(job: ClaimedJob): boolean {
    if (this.#held.length >= this.#limit) return false;
    const now = this.#clock();
    const leaseLeft = Math.max(0, job.leaseExpiresAt - now);
    this.#held.push({ job, until: now + Math.min(this.#holdMs, leaseLeft / 3) });
    this.#arm();
    return true;
  }

  /** The oldest held job (no longer held), or undefined. */
  next(): ClaimedJob | undefined {
    return this.#held.shift()?.job;
  }

  /** Sets the timer for the earliest hold, unless it is set for that time or sooner. */
  #arm(): void {
    const until = this.nextDeadline();
    if (until === undefined || (this.#timer !== undefined && this.#timerAt <= until)) return;
    this.#disarm();
    this.#timerAt = until;
    this.#timer = this.#timers.setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.#onHoldRanOut();
    }, Math.max(0, until - this.#clock()));
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  /** When the earliest hold runs out, epoch ms; undefined when nothing is held. */
  nextDeadline(): number | undefined {
    let earliest: number | undefined;
    for (const { until } of this.#held) {
      if (earliest === undefined || until < earliest) earliest = until;
    }
    return earliest;
  }

  /**
   * The held jobs whose hold ran out, no longer held. When there are any,
   * prefetch stops: the handler slots are busy for longer than a hold.
   */
  expired(): ClaimedJob[] {
    const now = this.#clock();
    const expired = this.#held.filter(({ until }) => until <= now).map(({ job }) => job);
    if (expired.length > 0) {
      this.#held = this.#held.filter(({ until }) => until > now);
      this.#on = false;
      this.#meanJobMs = Math.max(this.#meanJobMs, this.#holdMs);
    }
    this.#disarm();
    this.#arm();
    return expired;
  }

  /** Every held job (no longer held), for a worker that stops. */
  drain(): ClaimedJob[] {
    const jobs = this.#held.map(({ job }) => job);
    this.#held = [];
    this.#disarm();
    return jobs;
  }

  /** Counts a handler's duration: prefetch is on while their average stays under the limit. */
  finished(durationMs: number): void {
    if (this.#limit === 0) return;
    this.#meanJobMs += AVERAGE_WEIGHT * (Math.max(0, durationMs) - this.#meanJobMs);
    this.#on = this.#meanJobMs < this.#maxMeanJobMs;
  }
}
