import assert from "node:assert/strict";
import { ReconnectBackoff } from "./reconnect_backoff.ts";

/** Timers that only record: the test fires or inspects them. */
function recordingTimers() {
  const pending = new Map<number, { fn: () => void; ms: number }>();
  let next = 1;
  return {
    pending,
    timers: {
      setTimeout: (fn: () => void, ms: number) => {
        pending.set(next, { fn, ms });
        return next++;
      },
      clearTimeout: (handle: unknown) => pending.delete(handle as number),
    },
  };
}

Deno.test("reconnect backoff: doubles per failed round from min, capped at max, jittered into its upper half", () => {
  const { timers } = recordingTimers();
  const low = new ReconnectBackoff({ minDelayMs: 100, maxDelayMs: 1_000, random: () => 0, timers });
  const high = new ReconnectBackoff({
    minDelayMs: 100,
    maxDelayMs: 1_000,
    random: () => 0.999_999,
    timers,
  });
  assert.deepEqual([0, 1, 2, 3, 4, 50].map((n) => low.delay(n)), [50, 100, 200, 400, 500, 500]);
  for (const failures of [0, 1, 2, 3, 4, 50]) {
    const base = Math.min(1_000, 100 * 2 ** failures);
    assert.ok(high.delay(failures) < base && high.delay(failures) > base * 0.99);
  }
});

Deno.test("reconnect backoff: a pause resolves when its timer fires, or at once on cancel", async () => {
  const { timers, pending } = recordingTimers();
  const backoff = new ReconnectBackoff({ minDelayMs: 1, maxDelayMs: 1, random: () => 0, timers });
  let done = false;
  const first = backoff.pause(250).then(() => done = true);
  assert.deepEqual([...pending.values()].map((timer) => timer.ms), [250]);
  await Promise.resolve();
  assert.equal(done, false);
  [...pending.values()][0].fn();
  await first;
  assert.equal(done, true);
  backoff.cancel(); // nothing pending: no effect
  pending.clear();
  const second = backoff.pause(10_000);
  assert.equal(pending.size, 1);
  backoff.cancel();
  assert.equal(pending.size, 0, "its timer is cleared");
  await second; // resolved by cancel (the test would hang otherwise)
});
