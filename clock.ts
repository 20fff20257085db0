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

/** `setImmediate`/`clearImmediate` where the platform has them (Deno, Node; not browsers). */
const immediates = globalThis as unknown as {
  setImmediate?: (fn: () => void) => unknown;
  clearImmediate?: (handle: unknown) => void;
};

/** A zero-delay timer run as an immediate (see {@linkcode systemClock}). */
class Immediate {
  constructor(readonly handle: unknown) {}
}

/**
 * The real clock: `Date.now()` and the platform's timers. A zero-delay timer
 * runs as an immediate where the platform has one: Deno's timers fire no
 * sooner than about 2 ms, while an immediate runs right after the event loop
 * has read what the sockets hold, which is what a zero-delay wait is for.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) =>
    ms <= 0 && immediates.setImmediate !== undefined
      ? new Immediate(immediates.setImmediate(fn))
      : setTimeout(fn, ms),
  clearTimeout: (handle) =>
    handle instanceof Immediate
      ? immediates.clearImmediate?.(handle.handle)
      : clearTimeout(handle as number),
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
