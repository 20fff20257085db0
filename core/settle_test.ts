import assert from "node:assert/strict";
import { JobNotFoundError, LeaseLostError } from "../errors.ts";
import { jobCount } from "./state.ts";
import { Harness, job, T0, value } from "./_test_harness.ts";

Deno.test("complete: finishes the job, keeps the result, frees the lease", () => {
  const h = new Harness();
  const [id, other] = h.push(job("a"), job("a"));
  const [c] = h.claim();
  h.now += 7;
  const result = h.batch([
    { op: "complete", jobId: id, leaseToken: c.leaseToken, result: { sent: true } },
  ]);
  assert.equal(result.changed, true);
  assert.deepEqual(value(result.replies[0]), { ok: true });
  const record = h.get(id);
  assert.equal(record.state, "completed");
  assert.equal(record.finishedAt, T0 + 7);
  assert.equal(record.updatedAt, T0 + 7);
  assert.deepEqual(record.result, { sent: true });
  assert.equal("lease" in record, false);
  const stats = h.stats();
  assert.equal(stats.totals.completed, 1);
  assert.equal(stats.finishedPending, 1);
  assert.equal(stats.active, 0);
  assert.deepEqual(stats.byType, { a: 1 });
  const twice = h.fails({ op: "complete", jobId: id, leaseToken: c.leaseToken });
  assert.ok(twice instanceof LeaseLostError);
  assert.match(twice.message, /already completed/);
  assert.deepEqual(h.claimIds(), [other]);
});

Deno.test("complete without a result stores none", () => {
  const h = new Harness();
  const [id] = h.push(job());
  const [c] = h.claim();
  h.ok({ op: "complete", jobId: id, leaseToken: c.leaseToken });
  assert.equal("result" in h.get(id), false);
});

Deno.test("fail: retries with exponential backoff, then dead-letters after maxAttempts", () => {
  const h = new Harness();
  const [id] = h.push(job("t", { maxAttempts: 3 })); // default backoff: 1 s exponential, ±20 %
  h.randomValue = 0.5; // no jitter
  const delays: number[] = [];
  for (let attempt = 1; attempt <= 2; attempt++) {
    h.now = Math.max(h.now, h.get(id).runAt);
    const [c] = h.claim();
    assert.equal(c.attempt, attempt);
    const reply = h.ok<{ state: string; runAt: number }>({
      op: "fail",
      jobId: id,
      leaseToken: c.leaseToken,
      error: `boom ${attempt}`,
    });
    assert.equal(reply.state, "delayed");
    delays.push(reply.runAt - h.now);
    const record = h.get(id);
    assert.equal(record.state, "delayed");
    assert.equal(record.lastError, `boom ${attempt}`);
    assert.equal("lease" in record, false);
    assert.deepEqual(h.claimIds(), [], "not claimable before its runAt");
  }
  assert.deepEqual(delays, [1000, 2000]);
  h.now = h.get(id).runAt;
  const [c] = h.claim();
  assert.equal(c.attempt, 3);
  assert.deepEqual(h.ok({ op: "fail", jobId: id, leaseToken: c.leaseToken, error: "last" }), {
    state: "dead",
  });
  const record = h.get(id);
  assert.equal(record.state, "dead");
  assert.equal(record.finishedAt, h.now);
  assert.equal(record.lastError, "last");
  const totals = h.stats().totals;
  assert.equal(totals.failed, 3);
  assert.equal(totals.retried, 2);
  assert.equal(totals.dead, 1);
  assert.deepEqual(h.stats().byType, {});
});

Deno.test("fail: jitter stays within bounds and uses the context's randomness", () => {
  for (const [random, expected] of [[0, 800], [0.25, 900], [0.999999, 1200]] as const) {
    const h = new Harness();
    h.randomValue = random;
    const [id] = h.push(job());
    const [c] = h.claim();
    const reply = h.ok<{ runAt: number }>({
      op: "fail",
      jobId: id,
      leaseToken: c.leaseToken,
      error: "x",
    });
    assert.equal(reply.runAt - h.now, expected, `random ${random}`);
  }
});

Deno.test("fail: retry false dead-letters at once; zero backoff retries as ready", () => {
  const h = new Harness();
  const [a, b] = h.push(
    job("t", { maxAttempts: 10 }),
    job("t", { backoff: { type: "fixed", delayMs: 0 } }),
  );
  const [ca, cb] = h.claim({ max: 2 });
  assert.deepEqual(
    h.ok({ op: "fail", jobId: a, leaseToken: ca.leaseToken, error: "bad", retry: false }),
    { state: "dead" },
  );
  assert.deepEqual(h.ok({ op: "fail", jobId: b, leaseToken: cb.leaseToken, error: "again" }), {
    state: "ready",
    runAt: h.now,
  });
  assert.equal(h.get(b).state, "ready");
  assert.deepEqual(h.claimIds(), [b]);
  const totals = h.stats().totals;
  assert.deepEqual([totals.failed, totals.retried, totals.dead], [2, 1, 1]);
});

Deno.test("cancel: ready, delayed and active jobs; finished and unknown ones", () => {
  const h = new Harness();
  const [ready, delayed, active, done] = h.push(
    job("t", { priority: -1 }),
    job("t", { delayMs: 100 }),
    job("t", { priority: 5 }),
    job("t", { priority: 4 }),
  );
  const [ca, cd] = h.claim({ max: 2 });
  assert.deepEqual([ca.id, cd.id], [active, done]);
  h.ok({ op: "complete", jobId: done, leaseToken: cd.leaseToken });
  h.now += 3;
  for (const id of [ready, delayed, active]) {
    assert.deepEqual(h.ok({ op: "cancel", jobId: id }), { cancelled: true }, id);
    const record = h.get(id);
    assert.equal(record.state, "cancelled");
    assert.equal(record.finishedAt, h.now);
    assert.equal("lease" in record, false);
  }
  const finished = h.batch([{ op: "cancel", jobId: done }, { op: "cancel", jobId: ready }]);
  assert.deepEqual(finished.replies.map((r) => value(r)), [{ cancelled: false }, {
    cancelled: false,
  }]);
  assert.equal(finished.changed, false);
  assert.ok(h.fails({ op: "cancel", jobId: "zzz" }) instanceof JobNotFoundError);
  // The holder of the cancelled active job learns it lost the lease.
  const lost = h.fails({ op: "complete", jobId: active, leaseToken: ca.leaseToken });
  assert.ok(lost instanceof LeaseLostError);
  assert.match(lost.message, /cancelled/);
  h.now += 1000;
  assert.deepEqual(h.claimIds({ max: 10 }), [], "cancelled jobs are never claimed");
  const stats = h.stats();
  assert.equal(stats.totals.cancelled, 3);
  assert.deepEqual([stats.ready, stats.delayed, stats.active, stats.finishedPending], [0, 0, 0, 4]);
  assert.deepEqual(h.ok({ op: "expire" }), { expired: 0 });
});

Deno.test("cancel of a due delayed job that a claim already promoted", () => {
  const h = new Harness();
  const [d] = h.push(job("a", { delayMs: 10 }));
  h.now += 10;
  assert.deepEqual(h.claimIds({ types: ["b"] }), [], "a claim promotes every due job");
  assert.deepEqual(h.ok({ op: "cancel", jobId: d }), { cancelled: true });
  assert.deepEqual(h.claimIds({ max: 5 }), []);
  assert.equal(h.stats().ready, 0);
});

Deno.test("expire: ready again while attempts remain, dead after the last", () => {
  const h = new Harness();
  const [retry, last, fresh] = h.push(
    job("t", { priority: 3 }),
    job("t", { priority: 2, maxAttempts: 1 }),
    job("t", { priority: 1 }),
  );
  h.claim({ max: 2, leaseMs: 100 });
  h.claim({ leaseMs: 1000 });
  h.now += 100;
  const result = h.batch([{ op: "expire" }]);
  assert.deepEqual(value(result.replies[0]), { expired: 2 });
  assert.equal(result.changed, true);
  const r = h.get(retry);
  assert.equal(r.state, "ready");
  assert.equal(r.attempts, 1, "the attempt stays counted");
  assert.match(r.lastError ?? "", /lease expired/);
  assert.equal("lease" in r, false);
  const l = h.get(last);
  assert.equal(l.state, "dead");
  assert.equal(l.finishedAt, h.now);
  assert.match(l.lastError ?? "", /lease expired.*w1/);
  assert.equal(h.get(fresh).state, "active");
  const totals = h.stats().totals;
  assert.deepEqual([totals.expired, totals.dead], [2, 1]);
  const [again] = h.claim();
  assert.deepEqual([again.id, again.attempt], [retry, 2]);
  const none = h.batch([{ op: "expire" }]);
  assert.deepEqual(value(none.replies[0]), { expired: 0 });
  assert.equal(none.changed, false);
});

Deno.test("archived: drops finished jobs only and frees their keys", () => {
  const h = new Harness();
  const [done, open] = h.push(job("t", { idempotencyKey: "a" }), job("t"));
  const [c] = h.claim();
  h.ok({ op: "complete", jobId: done, leaseToken: c.leaseToken });
  const result = h.batch([{ op: "archived", ids: [done, open, "zz", "", done] }]);
  assert.deepEqual(value(result.replies[0]), { removed: 1 });
  assert.equal(result.changed, true);
  assert.ok(h.fails({ op: "get", jobId: done }) instanceof JobNotFoundError);
  assert.equal(h.get(open).state, "ready");
  assert.equal(h.stats().finishedPending, 0);
  assert.equal(jobCount(h.state), 1);
  const none = h.batch([{ op: "archived", ids: [open, "zz"] }]);
  assert.deepEqual(value(none.replies[0]), { removed: 0 });
  assert.equal(none.changed, false);
});
