/**
 * A ring buffer of periodic metric samples, for the dashboard's charts over
 * the last minutes: queue totals (rates come from differences), state
 * counts, commits, and the mean commit and store PUT latency per interval.
 *
 * @module
 */
import type { QueueStats } from "../protocol/operations.ts";
import type { Histogram } from "./metrics.ts";

/** One sample. Totals are cumulative; latencies are means over the interval (null when none). */
export interface MetricsSample {
  /** Epoch ms. */
  t: number;
  /** Queue total: jobs pushed. */
  pushed: number;
  /** Queue total: jobs completed. */
  completed: number;
  /** Queue total: failed attempts. */
  failed: number;
  /** Queue total: jobs dead-lettered. */
  dead: number;
  /** This broker's commits so far. */
  commits: number;
  /** Jobs ready now. */
  ready: number;
  /** Jobs delayed now. */
  delayed: number;
  /** Jobs active now. */
  active: number;
  /** Mean commit latency over the interval, ms. */
  commitMs: number | null;
  /** Mean store PUT latency over the interval, ms. */
  putMs: number | null;
}

/** What {@linkcode MetricsHistory.sample} reads. */
export interface SampleSource {
  /** The time, epoch ms. */
  now: number;
  /** The queue's counters. */
  stats: QueueStats;
  /** This broker's commit count. */
  commits: number;
  /** Commit latency histogram (seconds). */
  commitSeconds: Histogram;
  /** Store PUT latency histogram (seconds), when any PUT was timed. */
  putSeconds?: Histogram;
}

/** Keeps the last `capacity` samples. */
export class MetricsHistory {
  readonly #capacity: number;
  readonly #samples: MetricsSample[] = [];
  #lastCommit = { sum: 0, count: 0 };
  #lastPut = { sum: 0, count: 0 };

  /** A history of at most `capacity` samples (default 900: 15 minutes at one per second). */
  constructor(capacity = 900) {
    this.#capacity = capacity;
  }

  /** Takes a sample from `source`, appends and returns it. */
  sample(source: SampleSource): MetricsSample {
    const meanMs = (h: Histogram | undefined, last: { sum: number; count: number }) => {
      if (h === undefined) return null;
      const count = h.count - last.count;
      const sum = h.sum - last.sum;
      last.count = h.count;
      last.sum = h.sum;
      return count > 0 ? Math.round((sum / count) * 1e6) / 1e3 : null;
    };
    const { stats } = source;
    const sample: MetricsSample = {
      t: source.now,
      pushed: stats.totals.pushed,
      completed: stats.totals.completed,
      failed: stats.totals.failed,
      dead: stats.totals.dead,
      commits: source.commits,
      ready: stats.ready,
      delayed: stats.delayed,
      active: stats.active,
      commitMs: meanMs(source.commitSeconds, this.#lastCommit),
      putMs: meanMs(source.putSeconds, this.#lastPut),
    };
    this.#samples.push(sample);
    if (this.#samples.length > this.#capacity) {
      this.#samples.splice(0, this.#samples.length - this.#capacity);
    }
    return sample;
  }

  /** The samples kept, oldest first. */
  samples(): MetricsSample[] {
    return [...this.#samples];
  }
}
