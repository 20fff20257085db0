/**
 * The one clock abstraction: the current time and timers. Everything in
 * osqueue that waits or reads the time takes a {@linkcode Clock} as an
 * option, so tests (and the deterministic simulator) can run it on virtual
 * time. Pure module: no `Deno.*`, no `node:` imports.
 *
 * @module
 */

/** The current time and timers. */
export interface Clock {
  /** The current time, epoch milliseconds. */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds; returns a handle for {@linkcode Clock.clearTimeout}. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a timer started with {@linkcode Clock.setTimeout}. */
  clearTimeout(handle: unknown): void;
}

/** The real clock: `Date.now()` and the platform's timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as number),
};

/** A clock that may give only `now`: the platform's timers fill in the rest. */
export function withTimers(clock: Pick<Clock, "now"> & Partial<Clock> | undefined): Clock {
  if (clock === undefined) return systemClock;
  return {
    now: () => clock.now(),
    setTimeout: clock.setTimeout?.bind(clock) ?? systemClock.setTimeout,
    clearTimeout: clock.clearTimeout?.bind(clock) ?? systemClock.clearTimeout,
  };
}
