import assert from "node:assert/strict";
import type { ClaimedJob } from "../protocol/operations.ts";
import { Prefetch } from "./prefetch.ts";

const job = (id: string, leaseExpiresAt = 1_000_000): ClaimedJob => ({
  id,
  type: "t",
  payload: null,
  attempt: 1,
  maxAttempts: 3,
  priority: 0,
  createdAt: 0,
  leaseToken: `tok-${id}`,
  leaseExpiresAt,
});

/** A clock, and timers that record what is set and never fire. */
function quietTimers(clock: () => number) {
  const set: number[] = [];
  return {
    clock,
    set,
    timers: {
      setTimeout: (_fn: () => void, ms: number) => set.push(ms),
      clearTimeout: () => {},
    },
    onHoldRanOut: () => {},
  };
}

Deno.test("Prefetch: holds up to its limit, oldest first", () => {
  const prefetch = new Prefetch({ limit: 2, ...quietTimers(() => 0) });
  assert.equal(prefetch.extra, 2);
  assert.ok(prefetch.hold(job("a")));
  assert.ok(prefetch.hold(job("b")));
  assert.equal(prefetch.hold(job("c")), false, "full");
  assert.equal(prefetch.size, 2);
  assert.equal(prefetch.next()?.id, "a");
  assert.equal(prefetch.next()?.id, "b");
  assert.equal(prefetch.next(), undefined);
  assert.equal(new Prefetch({ limit: 0, ...quietTimers(() => 0) }).extra, 0);
});

Deno.test("Prefetch: a hold lasts holdMs, never more than a third of the lease left", () => {
  let now = 0;
  const options = { limit: 4, holdMs: 1_000, ...quietTimers(() => now) };
  const prefetch = new Prefetch(options);
  prefetch.hold(job("long", 1_000_000));
  prefetch.hold(job("short", 600)); // 600 ms of lease left: held 200 ms at most
  assert.equal(prefetch.nextDeadline(), 200);
  assert.deepEqual(options.set, [1_000, 200], "the timer follows the earliest hold");
  now = 200;
  assert.deepEqual(prefetch.expired().map((j) => j.id), ["short"]);
  assert.equal(prefetch.extra, 0, "a hold ran out: prefetch stops");
  assert.deepEqual(options.set, [1_000, 200, 800], "re-armed for the earliest hold left");
  assert.equal(prefetch.nextDeadline(), 1_000);
  now = 999;
  assert.deepEqual(prefetch.expired(), []);
  assert.deepEqual(prefetch.drain().map((j) => j.id), ["long"]);
  assert.equal(prefetch.size, 0);
  assert.equal(prefetch.nextDeadline(), undefined);
});

Deno.test("Prefetch: on while handlers are short on average; back on after a stop once they are", () => {
  let now = 0;
  const prefetch = new Prefetch({
    limit: 8,
    holdMs: 1_000,
    maxMeanJobMs: 100,
    ...quietTimers(() => now),
  });
  for (let i = 0; i < 20; i++) prefetch.finished(5);
  assert.equal(prefetch.extra, 8);
  for (let i = 0; i < 20; i++) prefetch.finished(500);
  assert.equal(prefetch.extra, 0, "long handlers: no prefetch");
  for (let i = 0; i < 30; i++) prefetch.finished(1);
  assert.equal(prefetch.extra, 8, "short again");
  prefetch.hold(job("x", 30));
  now = 10;
  assert.equal(prefetch.expired().length, 1);
  assert.equal(prefetch.extra, 0);
  prefetch.finished(1);
  assert.equal(prefetch.extra, 0, "one short handler is not enough after a hold ran out");
  for (let i = 0; i < 15; i++) prefetch.finished(1);
  assert.equal(prefetch.extra, 8);
});
