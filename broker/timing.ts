/**
 * Small timing helpers of the broker: an abortable sleep, a deadline around
 * one await, and a bounded wait for a promise.
 *
 * @module
 */
import { TimeoutError } from "../errors.ts";

/** Resolves after `ms`, or early (without error) when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * Awaits `promise` for at most `ms`; on time-out logs `{event: "stop-timeout", step}`
 * and resolves undefined (the promise goes on but is no longer awaited).
 */
export async function withDeadline<T>(
  promise: Promise<T> | undefined,
  ms: number,
  step: string,
  log: (event: { event: string; [field: string]: unknown }) => void,
): Promise<T | undefined> {
  if (promise === undefined) return undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => {
      log({ event: "stop-timeout", step, ms });
      resolve(undefined);
    }, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** `promise`, or a {@linkcode TimeoutError} after `ms`, or the signal's reason when it aborts. */
export function abortable<T>(promise: Promise<T>, ms: number, signal?: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => finish(() => reject(signal!.reason));
    const timer = setTimeout(
      () => finish(() => reject(new TimeoutError(`still not started after ${ms} ms`))),
      ms,
    );
    const finish = (settle: () => void) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      settle();
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    promise.then((value) => finish(() => resolve(value)), (error) => finish(() => reject(error)));
  });
}
