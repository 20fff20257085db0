import assert from "node:assert/strict";
import { ManualClock } from "./manual_clock.ts";

Deno.test("ManualClock: timers fire only when time is advanced past them; cleared ones never", () => {
  const clock = new ManualClock(500);
  const fired: string[] = [];
  clock.setTimeout(() => fired.push("b"), 20);
  clock.setTimeout(() => fired.push("a"), 10);
  const cleared = clock.setTimeout(() => fired.push("never"), 5);
  clock.clearTimeout(cleared);
  assert.equal(clock.now(), 500);
  clock.advance(9);
  assert.deepEqual(fired, []);
  clock.advance(1);
  assert.deepEqual(fired, ["a"]);
  clock.advance(100);
  assert.deepEqual(fired, ["a", "b"]);
  assert.equal(clock.now(), 610);
  assert.equal(clock.timers.size, 0);
});

Deno.test("ManualClock: run lets the work a timer starts finish before time moves on", async () => {
  const clock = new ManualClock();
  const seen: number[] = [];
  const tick = async () => {
    await Promise.resolve(); // async work between timers (an in-memory store write)
    seen.push(clock.now());
    clock.setTimeout(tick, 10);
  };
  clock.setTimeout(tick, 10);
  await clock.run(35);
  assert.deepEqual(seen, [10, 20, 30]);
  assert.equal(clock.now(), 35);
});

Deno.test("ManualClock: runUntil stops as soon as the condition holds, and fails past maxMs", async () => {
  const clock = new ManualClock();
  let done = false;
  clock.setTimeout(() => done = true, 42);
  await clock.runUntil(() => done);
  assert.equal(clock.now(), 42);
  await assert.rejects(clock.runUntil(() => false, { maxMs: 100 }), /within 100 ms/);
  assert.equal(clock.now(), 142);
});

Deno.test("ManualClock: settle runs time until a promise that waits on it settles", async () => {
  const clock = new ManualClock();
  const wait = (ms: number) =>
    new Promise<number>((resolve) => clock.setTimeout(() => resolve(ms), ms));
  assert.equal(await clock.settle(wait(250)), 250);
  assert.equal(clock.now(), 250);
  const failing = new Promise((_, reject) => clock.setTimeout(() => reject(new Error("late")), 5));
  await assert.rejects(clock.settle(failing), /late/);
  await assert.rejects(clock.settle(new Promise(() => {}), { maxMs: 10 }), /within 10 ms/);
});
