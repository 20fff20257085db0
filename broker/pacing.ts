/**
 * When the broker's loop runs: waiting for requests or the next timer, and
 * the group-commit linger. The waits take the mailbox and the injected clock;
 * what to wait for is decided by the broker.
 *
 * @module
 */
import type { Mailbox } from "../actors/mailbox.ts";
import type { Clock } from "../clock.ts";
import { sleep } from "./timing.ts";

/**
 * The reason the waits abort their own timers with: a shared value, since
 * `abort()` without one builds a `DOMException` (and its stack) every tick.
 */
const DONE = Symbol("wait over");

/** Resolves when a message arrives, at `wakeAt` (clock time), or when `stop` aborts. */
export async function waitForMessageOr<M>(
  options: { mailbox: Mailbox<M>; clock: Clock; wakeAt: number; stop: AbortSignal },
): Promise<void> {
  const { mailbox, clock, wakeAt, stop } = options;
  const now = clock.now();
  if (mailbox.size > 0 || wakeAt <= now) return;
  const timer = new AbortController();
  const onStop = () => timer.abort(DONE);
  stop.addEventListener("abort", onStop, { once: true });
  try {
    await Promise.race([
      mailbox.next(timer.signal).catch(() => {}),
      sleep(clock, wakeAt - now, timer.signal),
    ]);
  } finally {
    timer.abort(DONE);
    stop.removeEventListener("abort", onStop);
  }
}

/**
 * Group commit's linger: waits until `target` messages are queued, at most
 * `ms` (or until `stop` aborts). After a commit its callers answer with their
 * next requests a moment later; waiting a little for them lets callers who
 * took turns in two alternating groups share one write. Resolves with
 * whether `target` was reached.
 */
export async function lingerFor<M>(
  options: { mailbox: Mailbox<M>; clock: Clock; target: number; ms: number; stop: AbortSignal },
): Promise<boolean> {
  const { mailbox, clock, target, ms, stop } = options;
  const until = clock.now() + ms;
  const timer = new AbortController();
  const onStop = () => timer.abort(DONE);
  stop.addEventListener("abort", onStop, { once: true });
  const deadline = sleep(clock, ms, timer.signal).then(() => timer.abort(DONE));
  try {
    while (mailbox.size < target && clock.now() < until && !timer.signal.aborted) {
      await mailbox.posted(timer.signal).catch(() => {});
    }
  } finally {
    timer.abort(DONE);
    stop.removeEventListener("abort", onStop);
    await deadline;
  }
  return mailbox.size >= target;
}
