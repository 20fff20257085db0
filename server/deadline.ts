/**
 * Bounded waits for the server's shutdown: every wait has a deadline, and
 * what was given up on is logged.
 *
 * @module
 */
import type { Clock } from "../clock.ts";

/** How long shutdown waits for sockets to close, and for the listener to stop, ms. */
export const CLOSE_GRACE_MS = 2_000;

/**
 * Waits for `promise` at most `ms`; resolves `true` when it settled in time,
 * `false` (after logging what was given up on) when the deadline passed.
 */
export async function withDeadline(
  promise: Promise<unknown>,
  ms: number,
  what: string,
  clock: Clock,
  log: (line: string) => void,
): Promise<boolean> {
  let timer: unknown;
  const deadline = new Promise<false>((
    resolve,
  ) => (timer = clock.setTimeout(() => resolve(false), ms)));
  try {
    const settled = promise.then(() => true, (error) => {
      log(`${what} failed: ${error instanceof Error ? error.message : error}`);
      return true;
    });
    const inTime = await Promise.race([settled, deadline]);
    if (!inTime) log(`shutdown: gave up waiting for ${what} after ${ms} ms`);
    return inTime;
  } finally {
    clock.clearTimeout(timer);
  }
}
