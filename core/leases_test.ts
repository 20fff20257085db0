import assert from "node:assert/strict";
import { JobNotFoundError, LeaseLostError } from "../errors.ts";
import type { ClaimedJob } from "../protocol/operations.ts";
import { applyBatch, type BrokerOperation } from "./apply.ts";
import { batchEffects } from "./effects.ts";
import { createState, findJob, type QueueState } from "./state.ts";
import { Harness, job, LEASE, T0, value } from "./_test_harness.ts";

Deno.test("claim: highest priority first, then FIFO by runAt, then push order", () => {
  const h = new Harness();
  const [low] = h.push(job("t", { priority: -1 }));
  const [a1, a2] = h.push(job("t"), job("t"));
  const [high] = h.push(job("t", { priority: 10 }));
  h.now += 5;
  const [a3] = h.push(job("t"));
  const [early] = h.push(job("t", { runAt: T0 - 100 })); // runAt in the past: first among equals
  assert.deepEqual(h.claimIds({ max: 10 }), [high, early, a1, a2, a3, low]);
});

Deno.test("claim: leases, attempts and claimed-job fields", () => {
  const h = new Harness();
  const [id] = h.push(job("mail", { payload: { to: "x" }, priority: 2, maxAttempts: 4 }));
  h.now += 10;
  const [claimed] = h.claim({ leaseMs: 5000 });
  assert.deepEqual(claimed, {
    id,
    type: "mail",
    payload: { to: "x" },
    attempt: 1,
    maxAttempts: 4,
    priority: 2,
    createdAt: T0,
    leaseToken: "token-1",
    leaseExpiresAt: T0 + 10 + 5000,
  });
  const record = h.get(id);
  assert.equal(record.state, "active");
  assert.equal(record.attempts, 1);
  assert.equal(record.updatedAt, T0 + 10);
  assert.deepEqual(record.lease, { workerId: "w1", expiresAt: T0 + 5010 });
  assert.equal(findJob(h.state, id)?.lease?.token, "token-1");
  // The default lease applies when none is given.
  h.push(job());
  assert.equal(h.claim()[0].leaseExpiresAt, h.now + LEASE);
});

Deno.test("get never returns the lease token (only the claimer holds it), active or not", () => {
  const h = new Harness();
  const [id] = h.push(job());
  assert.equal(h.get(id).lease, undefined);
  const [claimed] = h.claim({ leaseMs: 1000 });
  const view = h.get(id);
  assert.deepEqual(view.lease, { workerId: "w1", expiresAt: T0 + 1000 });
  assert.ok(!JSON.stringify(view).includes(claimed.leaseToken));
  // The stored record still has it, and the holder can use it.
  assert.equal(findJob(h.state, id)?.lease?.token, claimed.leaseToken);
  h.ok({ op: "heartbeat", jobId: id, leaseToken: claimed.leaseToken });
  assert.ok(!JSON.stringify(h.get(id)).includes(claimed.leaseToken));
});

Deno.test("claim: max defaults to 1 and caps the number of jobs", () => {
  const h = new Harness();
  h.push(job(), job(), job(), job());
  assert.equal(h.claim().length, 1);
  assert.equal(h.claim({ max: 2 }).length, 2);
  assert.equal(h.claim({ max: 10 }).length, 1);
  const empty = h.batch([{ op: "claim", workerId: "w" }]);
  assert.deepEqual(value(empty.replies[0]), { jobs: [] });
  assert.equal(empty.changed, false);
});

Deno.test("claim: types filter, merging several types by priority and FIFO", () => {
  const h = new Harness();
  const [a1] = h.push(job("a"));
  const [b1] = h.push(job("b"));
  const [c1] = h.push(job("c", { priority: 5 }));
  const [a2] = h.push(job("a", { priority: 1 }));
  const [b2] = h.push(job("b"));
  assert.deepEqual(h.claimIds({ types: ["nope"] }), []);
  assert.deepEqual(h.claimIds({ types: ["a", "b", "a"], max: 3 }), [a2, a1, b1]);
  assert.deepEqual(h.claimIds({ types: [], max: 10 }), [c1, b2], "empty types = all types");
});

Deno.test("claim: due delayed jobs of a type are found by a typed claim", () => {
  const h = new Harness();
  const [d] = h.push(job("a", { delayMs: 100, priority: 3 }));
  const [r] = h.push(job("a"));
  h.push(job("b", { delayMs: 50 }));
  h.now += 100;
  assert.deepEqual(h.claimIds({ types: ["a"], max: 5 }), [d, r]);
});

Deno.test("claim: a push then a claim in the same batch gets the job", () => {
  const h = new Harness();
  const result = h.batch([
    { op: "push", jobs: [job("t")] },
    { op: "claim", workerId: "w", max: 5 },
    { op: "claim", workerId: "w" },
  ]);
  const claimed = value<{ jobs: ClaimedJob[] }>(result.replies[1]).jobs;
  assert.deepEqual(claimed.map((j) => j.id), ["1"]);
  assert.deepEqual(value(result.replies[2]), { jobs: [] });
  assert.equal(result.changed, true);
});

Deno.test("claim after a retry: the job re-enters at its new runAt", () => {
  const h = new Harness();
  const [a] = h.push(job("t", { backoff: { type: "fixed", delayMs: 0 } }));
  h.now += 10;
  const [b] = h.push(job("t"));
  h.now += 10;
  const [claimed] = h.claim();
  assert.equal(claimed.id, a);
  assert.deepEqual(h.ok({ op: "fail", jobId: a, leaseToken: claimed.leaseToken, error: "x" }), {
    state: "ready",
    runAt: h.now,
  });
  assert.deepEqual(h.claimIds({ max: 2 }), [b, a]);
});

Deno.test("heartbeat extends the lease; default and explicit durations", () => {
  const h = new Harness();
  const [id] = h.push(job());
  const [c] = h.claim({ leaseMs: 1000 });
  h.now += 500;
  const result = h.batch([{ op: "heartbeat", jobId: id, leaseToken: c.leaseToken }]);
  assert.equal(result.changed, true);
  assert.deepEqual(value(result.replies[0]), { leaseExpiresAt: h.now + LEASE });
  assert.deepEqual(h.ok({ op: "heartbeat", jobId: id, leaseToken: c.leaseToken, leaseMs: 50 }), {
    leaseExpiresAt: h.now + 50,
  });
  assert.equal(h.get(id).lease?.expiresAt, h.now + 50);
  assert.equal(h.get(id).updatedAt, T0, "a heartbeat is not a state change");
});

Deno.test("lease checks: unknown, malformed, foreign and stale tokens", () => {
  for (const op of ["heartbeat", "complete", "fail", "release"] as const) {
    const h = new Harness();
    const [id] = h.push(job());
    const [c] = h.claim();
    const make = (jobId: string, leaseToken: string): BrokerOperation =>
      op === "fail" ? { op, jobId, leaseToken, error: "e" } : { op, jobId, leaseToken };

    for (const jobId of ["99", "", "-1", "not an id", "0", "1".repeat(40)]) {
      const error = h.fails(make(jobId, c.leaseToken));
      assert.ok(error instanceof JobNotFoundError, `${op} ${jobId}: ${error.code}`);
      assert.match(error.message, /not found.*archived/);
    }
    const foreign = h.fails(make(id, "someone-else"));
    assert.ok(foreign instanceof LeaseLostError, op);
    assert.match(foreign.message, /another token/);
    assert.equal(h.get(id).state, "active", "a foreign token changes nothing");

    // The lease runs out and another worker claims the job: the old token is stale.
    h.now += LEASE;
    assert.deepEqual(h.ok({ op: "expire" }), { expired: 1 });
    const notActive = h.fails(make(id, c.leaseToken));
    assert.ok(notActive instanceof LeaseLostError);
    assert.match(notActive.message, /not active/);
    const [again] = h.claim();
    assert.equal(again.id, id);
    assert.equal(again.attempt, 2);
    const stale = h.fails(make(id, c.leaseToken));
    assert.ok(stale instanceof LeaseLostError);
    assert.equal(findJob(h.state, id)?.lease?.token, again.leaseToken);
  }
});

Deno.test("a lease past its expiry is still valid until expire runs", () => {
  const h = new Harness();
  const [id] = h.push(job());
  const [c] = h.claim({ leaseMs: 100 });
  h.now += 1000;
  assert.deepEqual(h.ok({ op: "heartbeat", jobId: id, leaseToken: c.leaseToken }), {
    leaseExpiresAt: h.now + LEASE,
  });
  assert.deepEqual(h.ok({ op: "expire" }), { expired: 0 });
  assert.deepEqual(h.ok({ op: "complete", jobId: id, leaseToken: c.leaseToken }), { ok: true });
});

Deno.test("release: ready again at once, attempt not counted, position kept", () => {
  const h = new Harness();
  const [a] = h.push(job());
  h.now += 1;
  const [b] = h.push(job());
  const [c] = h.claim();
  assert.equal(c.id, a);
  h.now += 5;
  assert.deepEqual(h.ok({ op: "release", jobId: a, leaseToken: c.leaseToken }), { ok: true });
  const record = h.get(a);
  assert.equal(record.state, "ready");
  assert.equal(record.attempts, 0);
  assert.equal("lease" in record, false);
  const [again, next] = h.claim({ max: 2 });
  assert.deepEqual([again.id, next.id], [a, b]);
  assert.equal(again.attempt, 1);
  const stale = h.fails({ op: "release", jobId: a, leaseToken: c.leaseToken });
  assert.ok(stale instanceof LeaseLostError);
});

const progressContext = {
  now: 1000,
  defaultLeaseMs: 30_000,
  newToken: () => "tok",
  random: () => 0,
};

function applyOne(state: QueueState, operation: BrokerOperation) {
  return applyBatch(state, [operation], progressContext);
}

Deno.test("progress: stored on an active job by its lease holder, written as a status change", () => {
  let state = applyOne(createState(), { op: "push", jobs: [{ type: "t", payload: "big" }] }).state;
  state = applyOne(state, { op: "claim", workerId: "w" }).state;
  const result = applyOne(state, { op: "progress", jobId: "1", leaseToken: "tok", value: 42 });
  assert.deepEqual(result.replies[0], { ok: true, value: { ok: true } });
  assert.equal(findJob(result.state, "1")?.progress, 42);
  const effects = batchEffects(state, result.state, result.changes);
  assert.deepEqual(effects.set, [{ id: "1", progress: 42 }], "a status record, not the payload");
  const wrong = applyOne(result.state, {
    op: "progress",
    jobId: "1",
    leaseToken: "nope",
    value: 1,
  });
  assert.equal(!wrong.replies[0].ok && wrong.replies[0].error.code, "lease_lost");
  assert.equal(wrong.changed, false);
});
