/**
 * Retry delays: how long a failed job waits before its next attempt.
 *
 * Pure: the randomness for jitter comes in as a function.
 *
 * @module
 */
import type { BackoffPolicy } from "../protocol/operations.ts";

/** The longest retry delay when a policy gives no `maxDelayMs`: one hour. */
export const DEFAULT_MAX_DELAY_MS = 3_600_000;

/** The policy of a job pushed without one: exponential from 1 s, ±20 % jitter, at most 1 hour. */
export const DEFAULT_BACKOFF: Readonly<BackoffPolicy> = Object.freeze({
  type: "exponential",
  delayMs: 1000,
  maxDelayMs: DEFAULT_MAX_DELAY_MS,
  jitter: 0.2,
});

/** Whether `policy` says exactly what {@linkcode DEFAULT_BACKOFF} says (so it need not be stored). */
export function isDefaultBackoff(policy: BackoffPolicy): boolean {
  return policy === DEFAULT_BACKOFF || (
    policy.type === DEFAULT_BACKOFF.type &&
    policy.delayMs === DEFAULT_BACKOFF.delayMs &&
    (policy.maxDelayMs ?? DEFAULT_MAX_DELAY_MS) === DEFAULT_BACKOFF.maxDelayMs &&
    (policy.jitter ?? 0.2) === DEFAULT_BACKOFF.jitter
  );
}

/** Options of {@linkcode backoffDelay}. */
export interface BackoffDelayOptions {
  /** The job's retry policy. */
  policy: BackoffPolicy;
  /** The attempt that just failed, starting at 1. */
  attempt: number;
  /** Uniform randomness in [0, 1) for the jitter. */
  random: () => number;
}

/**
 * The delay in whole milliseconds before the next attempt:
 * - `exponential`: `delayMs × 2^(attempt−1)`; `fixed`: `delayMs`;
 * - then jitter spreads it uniformly over `delay × (1 ± jitter)` (jitter defaults to
 *   0.2 for exponential, 0 for fixed, and is clamped to 0..1);
 * - the result is clamped to `0..maxDelayMs` (default 1 hour), so the cap is a hard bound
 *   (at the cap, jitter only shortens the delay).
 */
export function backoffDelay(options: BackoffDelayOptions): number {
  const { policy, random } = options;
  const base = finiteOr(policy.delayMs, 0);
  if (base <= 0) return 0;
  const cap = Math.max(0, finiteOr(policy.maxDelayMs, DEFAULT_MAX_DELAY_MS));
  const attempt = Math.max(1, Math.floor(finiteOr(options.attempt, 1)));
  const grown = policy.type === "fixed" ? base : base * 2 ** Math.min(attempt - 1, 1000);
  const delay = Math.min(grown, cap);
  const jitter = clamp(finiteOr(policy.jitter, policy.type === "fixed" ? 0 : 0.2), 0, 1);
  const r = clamp(finiteOr(random(), 0.5), 0, 1);
  const jittered = delay * (1 + jitter * (2 * r - 1));
  return Math.round(clamp(jittered, 0, cap));
}

function finiteOr(value: number | undefined, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}

function clamp(value: number, low: number, high: number): number {
  return value < low ? low : value > high ? high : value;
}
