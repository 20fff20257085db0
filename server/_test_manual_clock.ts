/** A manual {@linkcode Clock} for server tests: timers fire only when the test advances time. */
import type { Clock } from "../clock.ts";

/** A clock whose time moves only by {@linkcode ManualClock.advance}. */
export class ManualClock implements Clock {
  /** The current time, ms. */
  time = 0;
  /** The timers not yet fired, by handle. */
  timers = new Map<number, { at: number; fn: () => void }>();
  #next = 1;
  /** The current time, ms. */
  now(): number {
    return this.time;
  }
  /** Schedules `fn` at `now() + ms`. */
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.timers.set(id, { at: this.time + ms, fn });
    return id;
  }
  /** Cancels a timer. */
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  /** Moves time on by `ms` and fires every timer that came due. */
  advance(ms: number): void {
    this.time += ms;
    for (const [id, timer] of [...this.timers]) {
      if (timer.at <= this.time) {
        this.timers.delete(id);
        timer.fn();
      }
    }
  }
}
