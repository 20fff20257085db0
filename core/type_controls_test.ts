import { TestQueue } from "./_test_queue.ts";
import assert from "node:assert/strict";
import type { PushJob } from "../protocol/operations.ts";
import { applyBatch, type BrokerOperation } from "./apply.ts";
import { hasReady, nextDueAt } from "./state.ts";

const T0 = 1_700_000_000_000; // a multiple of 1000: windows of 1 s start here

/** A state, a clock and one-operation helpers. */
class Queue extends TestQueue {
  constructor() {
    super({ now: T0 });
  }

  push(type: string, n = 1, extra: Partial<PushJob> = {}): string[] {
    const jobs = Array.from({ length: n }, (_, i) => ({ type, payload: i, ...extra }));
    return this.ok({ op: "push", jobs }).jobs.map((j) => j.id);
  }

  claim(types?: string[], max = 100) {
    return this.ok({ op: "claim", workerId: "w", types, max }).jobs;
  }
}

Deno.test("pause: claims of a paused type get nothing, pushes are accepted, resume hands them out", () => {
  const q = new Queue();
  q.push("email", 2);
  q.push("sms", 1);
  assert.deepEqual(q.ok({ op: "pause", types: ["email"] }), { paused: ["email"] });
  q.push("email", 1); // still accepted
  assert.equal(q.claim(["email"]).length, 0);
  assert.equal(hasReady(q.state, q.now, ["email"]), false);
  assert.equal(hasReady(q.state, q.now, ["sms"]), true);
  assert.equal(hasReady(q.state, q.now), true);
  // A claim of every type skips the paused one.
  assert.deepEqual(q.claim().map((j) => j.type), ["sms"]);
  assert.equal(hasReady(q.state, q.now), false, "only paused jobs left");
  const stats = q.ok({ op: "stats" });
  assert.deepEqual(stats.paused, ["email"]);
  assert.equal(stats.ready, 3);
  assert.deepEqual(q.ok({ op: "resume", types: ["email"] }), { paused: [] });
  assert.equal(hasReady(q.state, q.now, ["email"]), true);
  assert.equal(q.claim(["email"]).length, 3);
  assert.equal(q.ok({ op: "stats" }).paused, undefined, "nothing paused or limited any more");
});

Deno.test("pause: a due delayed job of a paused type is not claimable either", () => {
  const q = new Queue();
  q.push("report", 1, { delayMs: 100 });
  q.ok({ op: "pause", types: ["report"] });
  q.now += 200;
  assert.equal(hasReady(q.state, q.now), false);
  assert.equal(q.claim().length, 0);
  q.ok({ op: "resume", types: ["report"] });
  assert.equal(hasReady(q.state, q.now), true);
  assert.equal(q.claim().length, 1);
});

Deno.test("pause/resume are persisted only when they change something; bad input is refused", () => {
  const q = new Queue();
  const first = applyBatch(q.state, [{ op: "pause", types: ["a", "b"] }], {
    now: q.now,
    defaultLeaseMs: 1,
    newToken: () => "t",
    random: () => 0,
  });
  assert.equal(first.changed, true);
  const again = applyBatch(first.state, [{ op: "pause", types: ["b"] }], {
    now: q.now,
    defaultLeaseMs: 1,
    newToken: () => "t",
    random: () => 0,
  });
  assert.equal(again.changed, false);
  assert.deepEqual(again.replies[0], { ok: true, value: { paused: ["a", "b"] } });
  const bad = q.run({ op: "pause", types: [""] });
  assert.equal(bad.ok, false);
  assert.equal(!bad.ok && bad.error.code, "validation");
});

Deno.test("limit maxActive: at most N active across all claims; a completion frees a slot", () => {
  const q = new Queue();
  q.push("render", 5);
  q.push("other", 2);
  assert.deepEqual(q.ok({ op: "limit", type: "render", maxActive: 2 }), {
    limits: { render: { maxActive: 2 } },
  });
  const first = q.claim(["render"]);
  assert.equal(first.length, 2);
  assert.equal(q.claim(["render"]).length, 0);
  assert.equal(hasReady(q.state, q.now, ["render"]), false);
  // Other types are not held back; a claim of all types gets only them.
  assert.deepEqual(q.claim().map((j) => j.type), ["other", "other"]);
  q.ok({ op: "complete", jobId: first[0].id, leaseToken: first[0].leaseToken });
  assert.equal(hasReady(q.state, q.now, ["render"]), true);
  assert.equal(q.claim(["render"]).length, 1);
  const stats = q.ok({ op: "stats" });
  assert.deepEqual(stats.typeLimits?.render, { maxActive: 2, active: 2 });
  // Removing the limit (no limit given) lets the rest through.
  assert.deepEqual(q.ok({ op: "limit", type: "render" }), { limits: {} });
  assert.equal(q.claim(["render"]).length, 2);
});

Deno.test("limit maxPerWindow: N starts per aligned window, counter persisted in extra, window end wakes", () => {
  const q = new Queue();
  q.push("api", 10);
  q.ok({ op: "limit", type: "api", maxPerWindow: 3, windowMs: 1000 });
  q.now = T0 + 100;
  assert.equal(q.claim(["api"], 2).length, 2);
  q.now = T0 + 500;
  assert.equal(q.claim().length, 1, "the window's third start");
  assert.equal(q.claim().length, 0);
  assert.equal(hasReady(q.state, q.now), false);
  assert.equal(nextDueAt(q.state, q.now), T0 + 1000, "the window end is the next wake-up");
  const stats = q.ok({ op: "stats" });
  assert.deepEqual(stats.typeLimits?.api, {
    maxPerWindow: 3,
    windowMs: 1000,
    active: 3,
    startedInWindow: 3,
    windowEndsAt: T0 + 1000,
  });
  q.now = T0 + 1000;
  assert.equal(hasReady(q.state, q.now), true);
  assert.equal(nextDueAt(q.state, q.now), T0 + 30_100, "only the leases now");
  assert.equal(q.claim().length, 3);
  assert.equal(q.claim().length, 0);
});

Deno.test("limit: the window counter is state (extra), so a claim on a copy of the state sees it", () => {
  const q = new Queue();
  q.push("api", 5);
  q.ok({ op: "limit", type: "api", maxPerWindow: 2 });
  const result = applyBatch(q.state, [{ op: "claim", workerId: "w", max: 5 }], {
    now: q.now,
    defaultLeaseMs: 1000,
    newToken: () => "t",
    random: () => 0,
  });
  assert.equal(result.changed, true);
  // A claim in a later batch of the same window (as after a failover) is still limited.
  const later = applyBatch(result.state, [{ op: "claim", workerId: "w2", max: 5 }], {
    now: q.now + 10,
    defaultLeaseMs: 1000,
    newToken: () => "t2",
    random: () => 0,
  });
  assert.deepEqual(later.replies[0], { ok: true, value: { jobs: [] } });
});

Deno.test("limit: bad limits are refused with a validation error and change nothing", () => {
  const q = new Queue();
  for (
    const operation of [
      { op: "limit", type: "x", maxActive: 0 },
      { op: "limit", type: "x", windowMs: 100 },
      { op: "limit", type: "", maxActive: 1 },
      { op: "limit", type: "x", maxPerWindow: 1.5 },
    ] as BrokerOperation[]
  ) {
    const reply = q.run(operation);
    assert.equal(reply.ok, false, JSON.stringify(operation));
    assert.equal(!reply.ok && reply.error.code, "validation");
  }
  assert.equal(q.ok({ op: "stats" }).typeLimits, undefined);
});

Deno.test("limit and pause together: both must allow the type", () => {
  const q = new Queue();
  q.push("a", 3);
  q.ok({ op: "limit", type: "a", maxActive: 1 });
  q.ok({ op: "pause", types: ["a"] });
  assert.equal(q.claim().length, 0);
  q.ok({ op: "resume", types: ["a"] });
  assert.equal(q.claim().length, 1);
  assert.equal(q.claim().length, 0);
});
