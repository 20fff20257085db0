import assert from "node:assert/strict";
import type { QueueStats } from "../protocol/operations.ts";
import { applyBatch, type ApplyContext, type BrokerOperation } from "./apply.ts";
import { DEFAULT_BACKOFF } from "./backoff.ts";
import { encodeState, jobCount } from "./state.ts";
import { failure, Harness, job, T0, value } from "./_test_harness.ts";

Deno.test("push assigns unique increasing ids and defaults", () => {
  const h = new Harness();
  const ids = h.push(job("a", { payload: { n: 1 } }), job("b"));
  const more = h.push(job("a"));
  assert.deepEqual([...ids, ...more], ["1", "2", "3"]);
  assert.deepEqual(h.get("1"), {
    id: "1",
    type: "a",
    payload: { n: 1 },
    state: "ready",
    priority: 0,
    runAt: T0,
    attempts: 0,
    maxAttempts: 3,
    backoff: DEFAULT_BACKOFF,
    createdAt: T0,
    updatedAt: T0,
  });
  assert.equal(h.stats().totals.pushed, 3);
  assert.equal(jobCount(h.state), 3);
});

Deno.test("push keeps the options it is given", () => {
  const h = new Harness();
  const backoff = { type: "fixed" as const, delayMs: 50, maxDelayMs: 100, jitter: 0.1 };
  const [id] = h.push(job("a", { priority: 7, maxAttempts: 5, backoff, idempotencyKey: "k" }));
  const record = h.get(id);
  assert.equal(record.priority, 7);
  assert.equal(record.maxAttempts, 5);
  assert.deepEqual(record.backoff, backoff);
  assert.equal(record.idempotencyKey, "k");
});

Deno.test("push with delayMs or runAt is delayed until due; runAt wins", () => {
  const h = new Harness();
  const [a, b, c, d] = h.push(
    job("t", { delayMs: 1000 }),
    job("t", { runAt: T0 + 500, delayMs: 5000 }),
    job("t", { runAt: T0 - 10 }),
    job("t", { delayMs: 0 }),
  );
  assert.equal(h.get(a).state, "delayed");
  assert.equal(h.get(a).runAt, T0 + 1000);
  assert.equal(h.get(b).runAt, T0 + 500);
  assert.equal(h.get(c).state, "ready");
  assert.equal(h.get(d).state, "ready");
  assert.deepEqual(h.claimIds({ max: 10 }), [c, d]);
  h.now = T0 + 499;
  assert.deepEqual(h.claimIds({ max: 10 }), []);
  h.now = T0 + 500; // due exactly at runAt
  assert.equal(h.get(b).state, "ready", "a due delayed job reads as ready");
  assert.equal(h.get(a).state, "delayed");
  assert.deepEqual(h.claimIds({ max: 10 }), [b]);
  h.now = T0 + 2000;
  assert.deepEqual(h.claimIds({ max: 10 }), [a]);
});

Deno.test("idempotency keys: duplicates across batches, within a batch and within one push", () => {
  const h = new Harness();
  const first = h.ok<{ jobs: { id: string; duplicate: boolean }[] }>({
    op: "push",
    jobs: [job("t", { idempotencyKey: "k1" }), job("t", { idempotencyKey: "k1" })],
  });
  assert.deepEqual(first.jobs, [{ id: "1", duplicate: false }, { id: "1", duplicate: true }]);
  const result = h.batch([
    { op: "push", jobs: [job("t", { idempotencyKey: "k2" })] },
    { op: "push", jobs: [job("t", { idempotencyKey: "k2" }), job("t", { idempotencyKey: "k1" })] },
  ]);
  assert.deepEqual(value(result.replies[0]), { jobs: [{ id: "2", duplicate: false }] });
  assert.deepEqual(value(result.replies[1]), {
    jobs: [{ id: "2", duplicate: true }, { id: "1", duplicate: true }],
  });
  assert.equal(h.stats().totals.pushed, 2);
  assert.equal(jobCount(h.state), 2);
  // A duplicate-only push changes nothing.
  const again = h.batch([{ op: "push", jobs: [job("t", { idempotencyKey: "k1" })] }]);
  assert.equal(again.changed, false);
});

Deno.test("idempotency: a finished job keeps its key until archived, then the key is free", () => {
  const h = new Harness();
  const [id] = h.push(job("t", { idempotencyKey: "k" }));
  const [claimed] = h.claim();
  h.ok({ op: "complete", jobId: id, leaseToken: claimed.leaseToken });
  assert.deepEqual(h.push(job("t", { idempotencyKey: "k" })), [id]);
  assert.deepEqual(h.ok({ op: "archived", ids: [id] }), { removed: 1 });
  const [fresh] = h.push(job("t", { idempotencyKey: "k" }));
  assert.notEqual(fresh, id);
  assert.deepEqual(h.push(job("t", { idempotencyKey: "k" })), [fresh]);
});

Deno.test("limits: maxPendingJobs refuses a push whole with overloaded, counting only new jobs", () => {
  const h = new Harness();
  const limited = (): ApplyContext => ({ ...h.context(), limits: { maxPendingJobs: 3 } });
  const run = (operations: BrokerOperation[]) => {
    const result = applyBatch(h.state, operations, limited());
    h.state = result.state;
    return result;
  };
  run([{ op: "push", jobs: [job("t", { idempotencyKey: "k" }), job()] }]);
  const before = encodeState(h.state);
  // Two new jobs would make 4: refused, nothing applied (not even the first one).
  const refused = run([{ op: "push", jobs: [job(), job()] }]);
  const error = failure(refused.replies[0]);
  assert.equal(error.code, "overloaded");
  assert.ok(error.retryable);
  assert.match(error.message, /2 jobs pending, the limit is 3 \(maxPendingJobs\)/);
  assert.deepEqual(error.data, { limit: "maxPendingJobs", max: 3, current: 2, adding: 2 });
  assert.equal(refused.changed, false);
  assert.deepEqual(encodeState(h.state), before);
  // A duplicate of a held key adds nothing, so it goes through; one new job fits.
  const ok = run([{ op: "push", jobs: [job("t", { idempotencyKey: "k" }), job()] }]);
  assert.deepEqual(
    value<{ jobs: { duplicate: boolean }[] }>(ok.replies[0]).jobs.map((j) => j.duplicate),
    [
      true,
      false,
    ],
  );
  // Full: active jobs count too; finishing one makes room again.
  assert.equal(failure(run([{ op: "push", jobs: [job()] }]).replies[0]).code, "overloaded");
  const [claimed] = h.claim();
  assert.equal(failure(run([{ op: "push", jobs: [job()] }]).replies[0]).code, "overloaded");
  h.ok({ op: "complete", jobId: claimed.id, leaseToken: claimed.leaseToken });
  const again = run([{ op: "push", jobs: [job()] }, { op: "push", jobs: [job()] }]);
  assert.equal(again.replies[0].ok, true);
  assert.equal(failure(again.replies[1]).code, "overloaded", "the batch's own pushes count");
  const stats = value<QueueStats>(run([{ op: "stats" }]).replies[0]);
  assert.deepEqual(stats.limits, { maxPendingJobs: 3, pendingJobs: 3 });
  assert.equal(h.stats().limits, undefined, "no limits, no limits field");
});

Deno.test("limits: maxStateBytes counts the state size given plus the payloads and results added", () => {
  const h = new Harness();
  const payload = "x".repeat(98); // 100 bytes as JSON
  const context = (stateBytes: number): ApplyContext => ({
    ...h.context(),
    limits: { maxStateBytes: 1000 },
    stateBytes,
  });
  const run = (operations: BrokerOperation[], stateBytes: number) => {
    const result = applyBatch(h.state, operations, context(stateBytes));
    h.state = result.state;
    return result;
  };
  const first = run([
    { op: "push", jobs: [job("t", { payload }), job("t", { payload })] },
    { op: "push", jobs: [job("t", { payload })] },
    { op: "push", jobs: [job("t", { payload }), job("t", { payload })] },
  ], 600);
  assert.equal(first.replies[0].ok, true); // 600 + 200
  assert.equal(first.replies[1].ok, true); // 800 + 100
  const error = failure(first.replies[2]); // 900 + 200 > 1000
  assert.equal(error.code, "overloaded");
  assert.match(error.message, /holds 900 bytes, the limit is 1000 \(maxStateBytes\)/);
  assert.deepEqual(error.data, { limit: "maxStateBytes", max: 1000, current: 900, adding: 200 });
  assert.equal(jobCount(h.state), 3, "the refused push added nothing");
  // Results are counted (never refused): a completion's result leaves less room.
  const [claimed] = h.claim();
  const done = run([
    { op: "complete", jobId: claimed.id, leaseToken: claimed.leaseToken, result: payload },
    { op: "push", jobs: [job("t", { payload })] },
    { op: "stats" },
  ], 950);
  assert.equal(done.replies[0].ok, true);
  assert.equal(failure(done.replies[1]).code, "overloaded");
  assert.deepEqual(value<QueueStats>(done.replies[2]).limits, {
    maxStateBytes: 1000,
    pendingJobs: 2,
    stateBytes: 1050,
  });
  // Once the broker reports a smaller state (finished jobs archived), pushes fit again.
  assert.equal(run([{ op: "push", jobs: [job("t", { payload })] }], 300).replies[0].ok, true);
});
