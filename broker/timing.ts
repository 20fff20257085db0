/**
 * Small timing helpers of the broker, on an injected {@linkcode Clock}: an
 * abortable sleep, a deadline around one await, and a bounded wait for a
 * promise.
 *
 * @module
 */
import { TimeoutError } from "../errors.ts";
import type { Clock } from "../clock.ts";

/** Resolves after `ms` on `clock`, or early (without error) when `signal` aborts. */
export function sleep(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clock.clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = clock.setTimeout(done, Math.max(0, ms));
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * Awaits `promise` for at most `ms`; on time-out logs `{event: "stop-timeout", step}`
 * and resolves undefined (the promise goes on but is no longer awaited).
 */
export async function withDeadline<T>(
  clock: Clock,
  promise: Promise<T> | undefined,
  ms: number,
  step: string,
  log: (event: { event: string; [field: string]: unknown }) => void,
): Promise<T | undefined> {
  if (promise === undefined) return undefined;
  let timer: unknown;
  const timeout = new Promise<undefined>((resolve) => {
    timer = clock.setTimeout(() => {
      log({ event: "stop-timeout", step, ms });
      resolve(undefined);
    }, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clock.clearTimeout(timer);
  }
}

/** `promise`, or a {@linkcode TimeoutError} after `ms`, or the signal's reason when it aborts. */
export function abortable<T>(
  clock: Clock,
  promise: Promise<T>,
  ms: number,
  signal?: AbortSignal,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => finish(() => reject(signal!.reason));
    const timer = clock.setTimeout(
      () => finish(() => reject(new TimeoutError(`still not started after ${ms} ms`))),
      ms,
    );
    const finish = (settle: () => void) => {
      clock.clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      settle();
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    promise.then((value) => finish(() => resolve(value)), (error) => finish(() => reject(error)));
  });
}
