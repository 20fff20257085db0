/**
 * The timing of S3 requests: one attempt under a time limit, and the sleep
 * between retries.
 *
 * @module
 */
import { AttemptTimeout } from "./s3_failure.ts";

/**
 * Runs one request attempt under a time limit (`timeoutMs`) and the caller's
 * signal. `run` gets a signal that fires on either; the attempt rejects with
 * {@linkcode AttemptTimeout} or the caller's reason as soon as one fires,
 * whatever the SDK does with the signal.
 */
export async function runAttempt<T>(
  timeoutMs: number,
  signal: AbortSignal | undefined,
  run: (abortSignal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const abortSignal = signal === undefined
    ? controller.signal
    : AbortSignal.any([signal, controller.signal]);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  // Settles first when time runs out or the caller aborts, whatever the SDK does with the signal.
  const cut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const timeout = new AttemptTimeout(timeoutMs);
      reject(timeout);
      controller.abort(timeout);
    }, timeoutMs);
    if (signal !== undefined) {
      onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
    }
  });
  const running = run(abortSignal);
  // Whichever loses the race must not surface as an unhandled rejection.
  running.catch(() => {});
  cut.catch(() => {});
  try {
    return await Promise.race([running, cut]);
  } finally {
    clearTimeout(timer);
    if (onAbort !== undefined) signal?.removeEventListener("abort", onAbort);
  }
}

/** Waits `ms` milliseconds with `setTimeout`; rejects with the signal's reason when it fires. */
export function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
