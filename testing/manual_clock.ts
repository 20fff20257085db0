/**
 * {@linkcode ManualClock}: a {@linkcode Clock} whose time moves only when a
 * test says so, for running a broker (or anything else that takes a `Clock`)
 * on virtual time: no real sleeps, and timing that does not depend on how
 * busy the machine is.
 *
 * @example A broker's timers on virtual time
 * ```ts
 * import { ManualClock } from "@osqueue/osqueue/testing";
 *
 * const clock = new ManualClock();
 * let fired = 0;
 * clock.setTimeout(() => fired++, 100);
 * clock.advance(99); // not yet
 * await clock.run(1); // fires, then lets promise callbacks run
 * console.log(fired); // 1
 * ```
 *
 * @module
 */
import type { Clock } from "../clock.ts";

/** One turn of the event loop: pending promise callbacks and immediates run. */
function turn(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (fn: () => void) => unknown }).setImmediate;
  return new Promise((resolve) => {
    if (immediate !== undefined) immediate(resolve);
    else setTimeout(resolve, 0);
  });
}

/** Options of {@linkcode ManualClock.runUntil} and {@linkcode ManualClock.settle}. */
export interface ManualRunOptions {
  /** Give up after this much virtual time, ms (default 60 000). */
  maxMs?: number;
  /** Virtual time per step, ms (default 1). */
  stepMs?: number;
}

/** A clock whose time moves only by {@linkcode ManualClock.advance} (or the `run` helpers). */
export class ManualClock implements Clock {
  /** The current time, ms. */
  time: number;
  /** The timers not yet fired, by handle. */
  timers: Map<number, { at: number; fn: () => void }> = new Map();
  #next = 1;

  /** Starts at `start` ms (default 0). */
  constructor(start = 0) {
    this.time = start;
  }

  /** The current time, ms. */
  now(): number {
    return this.time;
  }

  /** Schedules `fn` at `now() + ms`. */
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.timers.set(id, { at: this.time + Math.max(0, ms), fn });
    return id;
  }

  /** Cancels a timer. */
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /**
   * Moves time on by `ms` and fires, synchronously, every timer that came due
   * (timers those set fire at a later advance).
   */
  advance(ms: number): void {
    this.time += ms;
    for (const [id, timer] of [...this.timers]) {
      if (timer.at <= this.time) {
        this.timers.delete(id);
        timer.fn();
      }
    }
  }

  /**
   * Moves time on by `ms` in steps of `stepMs`, letting one turn of the event
   * loop run after each (so work a timer started, such as an in-memory store
   * write, completes before time moves again).
   */
  async run(ms: number, stepMs = 1): Promise<void> {
    await turn();
    for (let passed = 0; passed < ms;) {
      const step = Math.min(stepMs, ms - passed);
      this.advance(step);
      passed += step;
      await turn();
    }
  }

  /**
   * Runs time forward, step by step, until `done()` holds; throws when it
   * still does not after `maxMs` of virtual time.
   */
  async runUntil(
    done: () => boolean | Promise<boolean>,
    options: ManualRunOptions = {},
  ): Promise<void> {
    const { maxMs = 60_000, stepMs = 1 } = options;
    const until = this.time + maxMs;
    await turn();
    while (!(await done())) {
      if (this.time >= until) throw new Error(`condition not met within ${maxMs} ms of clock time`);
      await this.run(stepMs, stepMs);
    }
  }

  /**
   * Awaits `promise` while running time forward, step by step (for work that
   * waits on this clock's timers: a broker's stop, a request paced by it).
   */
  async settle<T>(promise: Promise<T>, options: ManualRunOptions = {}): Promise<T> {
    let settled = false;
    const watched = promise.finally(() => settled = true);
    watched.catch(() => {});
    await this.runUntil(() => settled, options);
    return await watched;
  }
}
