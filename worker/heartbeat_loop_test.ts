import assert from "node:assert/strict";
import {
  DisconnectedError,
  LeaseLostError,
  type OsqueueError,
  UnavailableError,
} from "../errors.ts";
import type { Timers } from "./client_options.ts";
import { MIN_HEARTBEAT_INTERVAL_MS, startHeartbeatLoop } from "./heartbeat_loop.ts";

/** Virtual time: timers run only when the test advances the clock. */
class FakeTime implements Timers {
  now = 1_000;
  #timers = new Map<number, { at: number; fn: () => void }>();
  #next = 1;
  setTimeout(fn: () => void, ms: number): unknown {
    const handle = this.#next++;
    this.#timers.set(handle, { at: this.now + ms, fn });
    return handle;
  }
  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }
  get pending(): number {
    return this.#timers.size;
  }
  /** Moves time forward, running every timer due (and letting the beats settle). */
  async advance(ms: number): Promise<void> {
    const until = this.now + ms;
    for (;;) {
      const due = [...this.#timers].filter(([, t]) =>
        t.at <= until
      ).sort((a, b) => a[1].at - b[1].at)[0];
      if (due === undefined) break;
      this.#timers.delete(due[0]);
      this.now = due[1].at;
      due[1].fn();
      for (let i = 0; i < 5; i++) await Promise.resolve();
    }
    this.now = until;
  }
}

Deno.test("heartbeat loop: paces at a third of the lease left, following each reply's leaseExpiresAt", async () => {
  const time = new FakeTime();
  const beats: number[] = [];
  const stop = startHeartbeatLoop({
    jobId: "j",
    loop: { leaseExpiresAt: time.now + 3_000, onLost: () => assert.fail("lost") },
    beat: () => {
      beats.push(time.now);
      return Promise.resolve({ leaseExpiresAt: time.now + 600 });
    },
    clock: () => time.now,
    timers: time,
  });
  await time.advance(1_000);
  assert.deepEqual(beats, [2_000]); // a third of 3 000 ms
  await time.advance(200);
  assert.deepEqual(beats, [2_000, 2_200]); // a third of the 600 ms granted
  stop();
  assert.equal(time.pending, 0);
  await time.advance(10_000);
  assert.equal(beats.length, 2);
});

Deno.test("heartbeat loop: never beats faster than MIN_HEARTBEAT_INTERVAL_MS", async () => {
  const time = new FakeTime();
  const beats: number[] = [];
  const stop = startHeartbeatLoop({
    jobId: "j",
    loop: { leaseExpiresAt: time.now + 30, onLost: () => {} },
    beat: () => Promise.resolve(beats.push(time.now)),
    clock: () => time.now,
    timers: time,
  });
  await time.advance(MIN_HEARTBEAT_INTERVAL_MS - 1);
  assert.deepEqual(beats, []);
  await time.advance(1);
  assert.equal(beats.length, 1);
  stop();
});

Deno.test("heartbeat loop: lease_lost calls onLost once and stops", async () => {
  const time = new FakeTime();
  const lost: OsqueueError[] = [];
  let beats = 0;
  startHeartbeatLoop({
    jobId: "j",
    loop: { intervalMs: 10, onLost: (error) => lost.push(error) },
    beat: () => {
      beats++;
      return Promise.reject(new LeaseLostError("stale"));
    },
    clock: () => time.now,
    timers: time,
  });
  await time.advance(100);
  assert.equal(beats, 1);
  assert.equal(lost.length, 1);
  assert.ok(lost[0] instanceof LeaseLostError);
  assert.equal(time.pending, 0);
});

Deno.test("heartbeat loop: transient failures go to onError until leaseMs passes without success", async () => {
  const time = new FakeTime();
  const lost: OsqueueError[] = [];
  const errors: OsqueueError[] = [];
  const stops: number[] = [];
  startHeartbeatLoop({
    jobId: "j7",
    loop: {
      intervalMs: 100,
      leaseMs: 350,
      onLost: (error) => lost.push(error),
      onError: (error) => errors.push(error),
    },
    beat: () => Promise.reject(new UnavailableError("broker away")),
    clock: () => time.now,
    timers: time,
    onStop: () => stops.push(time.now),
  });
  await time.advance(300);
  assert.equal(errors.length, 3);
  assert.equal(lost.length, 0);
  await time.advance(100);
  assert.equal(lost.length, 1);
  assert.match(lost[0].message, /lease of job j7 ran out: no successful heartbeat for 350 ms/);
  assert.ok(lost[0].cause instanceof UnavailableError);
  assert.deepEqual(stops, [1_400]);
});

Deno.test("heartbeat loop: a closed transport stops it quietly; no interval nor expiry is refused", async () => {
  const time = new FakeTime();
  let closed = false;
  const calls: string[] = [];
  startHeartbeatLoop({
    jobId: "j",
    loop: {
      intervalMs: 10,
      onLost: () => calls.push("lost"),
      onError: () => calls.push("error"),
    },
    beat: () => Promise.reject(new DisconnectedError("client closed")),
    clock: () => time.now,
    timers: time,
    closed: () => closed,
  });
  closed = true;
  await time.advance(50);
  assert.deepEqual(calls, []);
  assert.equal(time.pending, 0);
  // Not started at all once closed.
  startHeartbeatLoop({
    jobId: "j",
    loop: { intervalMs: 10, onLost: () => {} },
    beat: () => Promise.resolve({}),
    clock: () => time.now,
    timers: time,
    closed: () => true,
  });
  assert.equal(time.pending, 0);
  assert.throws(
    () =>
      startHeartbeatLoop({
        jobId: "j",
        loop: { onLost: () => {} },
        beat: () => Promise.resolve({}),
        clock: () => time.now,
        timers: time,
      }),
    { code: "invalid" },
  );
});
