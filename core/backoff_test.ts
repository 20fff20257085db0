import assert from "node:assert/strict";
import type { BackoffPolicy } from "../protocol/operations.ts";
import {
  backoffDelay,
  DEFAULT_BACKOFF,
  DEFAULT_MAX_DELAY_MS,
  isDefaultBackoff,
} from "./backoff.ts";

const fixedRandom = (value: number) => () => value;
const noJitter = fixedRandom(0.5);

Deno.test("exponential backoff doubles per attempt", () => {
  const policy: BackoffPolicy = { type: "exponential", delayMs: 100, jitter: 0 };
  const delays = [1, 2, 3, 4, 5].map((attempt) =>
    backoffDelay({ policy, attempt, random: noJitter })
  );
  assert.deepEqual(delays, [100, 200, 400, 800, 1600]);
});

Deno.test("the default policy: 1 s, 2 s, 4 s … capped at one hour", () => {
  const delay = (attempt: number) =>
    backoffDelay({ policy: DEFAULT_BACKOFF, attempt, random: noJitter });
  assert.deepEqual([delay(1), delay(2), delay(3)], [1000, 2000, 4000]);
  assert.equal(delay(12), 2048_000);
  assert.equal(delay(13), DEFAULT_MAX_DELAY_MS);
  assert.equal(delay(1000), DEFAULT_MAX_DELAY_MS, "huge attempts do not overflow");
  assert.equal(delay(10_000), DEFAULT_MAX_DELAY_MS);
});

Deno.test("maxDelayMs caps the delay, jitter included", () => {
  const policy: BackoffPolicy = { type: "exponential", delayMs: 1000, maxDelayMs: 3000 };
  assert.equal(backoffDelay({ policy, attempt: 2, random: noJitter }), 2000);
  assert.equal(backoffDelay({ policy, attempt: 3, random: noJitter }), 3000);
  assert.equal(backoffDelay({ policy, attempt: 3, random: fixedRandom(0.99) }), 3000);
  assert.equal(backoffDelay({ policy, attempt: 3, random: fixedRandom(0) }), 2400);
  const zeroCap: BackoffPolicy = { type: "fixed", delayMs: 500, maxDelayMs: 0 };
  assert.equal(backoffDelay({ policy: zeroCap, attempt: 1, random: noJitter }), 0);
});

Deno.test("jitter spreads the delay over ±jitter, driven by random()", () => {
  const policy: BackoffPolicy = { type: "exponential", delayMs: 1000, jitter: 0.2 };
  assert.equal(backoffDelay({ policy, attempt: 1, random: fixedRandom(0) }), 800);
  assert.equal(backoffDelay({ policy, attempt: 1, random: fixedRandom(0.75) }), 1100);
  assert.equal(backoffDelay({ policy, attempt: 2, random: fixedRandom(0) }), 1600);
  let seed = 7;
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const seen = new Set<number>();
  for (let i = 0; i < 500; i++) {
    const delay = backoffDelay({ policy, attempt: 3, random });
    assert.ok(delay >= 3200 && delay <= 4800, `${delay} within 4000 ± 20 %`);
    seen.add(delay);
  }
  assert.ok(seen.size > 100, "the jitter actually varies");
  const full: BackoffPolicy = { type: "exponential", delayMs: 1000, jitter: 5 }; // clamped to 1
  assert.equal(backoffDelay({ policy: full, attempt: 1, random: fixedRandom(0) }), 0);
});

Deno.test("fixed backoff: the same delay each time, no jitter by default", () => {
  const policy: BackoffPolicy = { type: "fixed", delayMs: 250 };
  for (const attempt of [1, 2, 10]) {
    assert.equal(backoffDelay({ policy, attempt, random: fixedRandom(0) }), 250);
  }
  const jittered: BackoffPolicy = { type: "fixed", delayMs: 1000, jitter: 0.5 };
  assert.equal(backoffDelay({ policy: jittered, attempt: 9, random: fixedRandom(0) }), 500);
});

Deno.test("zero and nonsense inputs give a sane delay", () => {
  const zero: BackoffPolicy = { type: "exponential", delayMs: 0 };
  assert.equal(backoffDelay({ policy: zero, attempt: 5000, random: noJitter }), 0);
  const policy: BackoffPolicy = { type: "exponential", delayMs: 100, jitter: 0 };
  assert.equal(backoffDelay({ policy, attempt: 0, random: noJitter }), 100);
  assert.equal(backoffDelay({ policy, attempt: NaN, random: noJitter }), 100);
  assert.equal(backoffDelay({ policy, attempt: 1, random: () => NaN }), 100);
});

Deno.test("isDefaultBackoff recognises the default however it is spelled", () => {
  assert.equal(isDefaultBackoff(DEFAULT_BACKOFF), true);
  assert.equal(isDefaultBackoff({ type: "exponential", delayMs: 1000 }), true);
  assert.equal(
    isDefaultBackoff({ type: "exponential", delayMs: 1000, maxDelayMs: 3_600_000, jitter: 0.2 }),
    true,
  );
  assert.equal(isDefaultBackoff({ type: "exponential", delayMs: 1000, jitter: 0 }), false);
  assert.equal(isDefaultBackoff({ type: "fixed", delayMs: 1000 }), false);
  assert.equal(isDefaultBackoff({ type: "exponential", delayMs: 999 }), false);
  assert.ok(Object.isFrozen(DEFAULT_BACKOFF));
});
